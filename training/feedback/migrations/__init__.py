"""Alembic migrations of the feedback store, applied in code by `training.feedback.store.run_migrations`."""
