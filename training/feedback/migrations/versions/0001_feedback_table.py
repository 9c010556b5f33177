"""Create the feedback table.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("role", sa.String(64)),
        sa.Column("model_name", sa.String(200)),
        sa.Column("model_version", sa.String(64)),
        sa.Column("request_id", sa.String(200)),
        sa.Column("article_id", sa.String(200)),
        sa.Column("note", sa.Text),
        sa.UniqueConstraint("content_hash", name="uq_feedback_content_hash"),
    )
    op.create_index("ix_feedback_created_at", "feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_created_at", table_name="feedback")
    op.drop_table("feedback")
