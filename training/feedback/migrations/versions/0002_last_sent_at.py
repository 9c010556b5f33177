"""Record when a correction was last sent: a correction sent again (the same content) is the user's latest word.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add a column with every ALTER; Alembic copies the table when it must.
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("last_sent_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE feedback SET last_sent_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("last_sent_at")
