"""Alembic's entry point: migrate the connection `run_migrations` hands over (no alembic.ini, no URL here).

To write a new revision: ``alembic -x ... revision`` needs an ini file; simplest is to copy the newest
file in ``versions/`` and set ``revision``/``down_revision`` by hand.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("the feedback migrations run through training.feedback.store.run_migrations")

context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
