"""The feedback store: corrections sent by users, kept in a real database through SQLAlchemy 2.

One table, ``feedback`` (schema managed by the Alembic migrations in ``migrations/``,
applied by `open_store`). The database is a SQLite file by default
(`default_feedback_url`: ``feedback.db`` next to the MLflow store) or PostgreSQL
(``postgresql+psycopg://...``). The engine is synchronous: the service calls it in
its thread pool (see service/routes/feedback.py for why not the async engine).

A submission is idempotent: its content hash (`content_hash`) is unique in the
table and the insert is ``INSERT ... ON CONFLICT (content_hash) DO NOTHING``, so
two identical submissions, even concurrent ones in different workers, store one
row and both get its id back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from training.errors import TopicframeError
from training.sqlite_store import sqlite_file

log = logging.getLogger("topicframe.feedback")

URL_VARIABLE = "TOPICFRAME_FEEDBACK_URL"
SUPPORTED_DIALECTS = ("sqlite", "postgresql")
SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers queue on SQLite's single write lock instead of failing at once
MIGRATION_LOCK_KEY = 0x746F706963  # PostgreSQL advisory lock: workers starting together migrate in turn
DEFAULT_ROLE = "body"  # what a correction without a role is (the API's documented default)
# Alembic keeps the running migration in module-level state (alembic.context, alembic.op): one at a time per process.
_migrating = threading.Lock()

metadata = sa.MetaData()

# The table as the code reads and writes it; its history (how a database gets here) is in migrations/versions.
feedback_table = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("labels", sa.JSON, nullable=False),
    sa.Column("role", sa.String(64)),
    sa.Column("model_name", sa.String(200)),
    sa.Column("model_version", sa.String(64)),
    sa.Column("request_id", sa.String(200)),
    sa.Column("article_id", sa.String(200)),
    sa.Column("note", sa.Text),
    # When it was last sent: the same correction sent again (after another one of the same text) is the user's
    # latest word, and the export keeps the latest per text by it (migration 0002; null: created_at).
    sa.Column("last_sent_at", sa.DateTime(timezone=True)),
)


class FeedbackStoreError(TopicframeError):
    """The feedback database is misconfigured or cannot be reached."""


@dataclass(frozen=True)
class Correction:
    """One correction as validated by the service: labels per set in codebook order."""

    text: str
    labels: dict[str, list[str]]
    role: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    request_id: str | None = None
    article_id: str | None = None
    note: str | None = None

    def content_hash(self) -> str:
        """sha256 over every field: the same submission twice has the same hash (label order aside; the text's
        Unicode normal form aside, as an editor may send é as one character or two; a role left out is the
        default, body)."""
        canonical = {
            "text": unicodedata.normalize("NFC", self.text),
            "labels": {name: sorted(labels) for name, labels in sorted(self.labels.items())},
            "role": self.role or DEFAULT_ROLE,
            "model": [self.model_name, self.model_version],
            "request_id": self.request_id,
            "article_id": self.article_id,
            "note": self.note,
        }
        return hashlib.sha256(json.dumps(canonical, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Stored:
    """What a submission got back: the row's id, when it was first stored, and whether it already was."""

    id: int
    created_at: datetime
    duplicate: bool


@dataclass(frozen=True)
class StoredCorrection:
    id: int
    created_at: datetime
    correction: Correction
    last_sent_at: datetime | None = None  # None: never sent again (rows from before migration 0002 too)

    @property
    def sent_at(self) -> datetime:
        """When the user last sent this correction."""
        return self.last_sent_at or self.created_at

    def to_dict(self) -> dict[str, Any]:
        """The item shape of GET /v1/feedback."""
        c = self.correction
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "text": c.text,
            "labels": c.labels,
            "role": c.role,
            "model": {"name": c.model_name, "version": c.model_version} if c.model_name else None,
            "request_id": c.request_id,
            "article_id": c.article_id,
            "note": c.note,
        }


def default_feedback_url() -> str:
    """``TOPICFRAME_FEEDBACK_URL``, else ``feedback.db`` beside the MLflow store.

    Beside the store means the directory of ``MLFLOW_TRACKING_URI``'s SQLite file when it is one,
    else the working directory (where ``./mlflow.db``, the default store, lives). Read from the
    environment, not through `training.registry`, so that nothing imports MLflow for this.
    """
    configured = os.environ.get(URL_VARIABLE, "").strip()
    if configured:
        return configured
    store = sqlite_file(os.environ.get("MLFLOW_TRACKING_URI", ""))
    directory = store.parent if store is not None else Path.cwd()
    return f"sqlite:///{directory / 'feedback.db'}"


def parse_url(url: str) -> sa.URL:
    """``url`` parsed, or `FeedbackStoreError` saying what a feedback URL looks like."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:  # ValueError: a port that is not a number
        # The URL as given, less anything before an '@': a mistyped URL still holds its password, and this
        # message goes to the log and to a client's 503.
        shown = re.sub(r"[^/@]*@", "***@", url)
        why = f" ({exc})" if isinstance(exc, ValueError) else ""
        raise FeedbackStoreError(
            f"feedback store URL '{shown}' is not a database URL{why}: expected sqlite:///path/feedback.db or "
            "postgresql+psycopg://user:password@host/database"
        ) from None


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL (None for other databases and in-memory SQLite)."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def describe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers (GET, export) do not block the writer and a commit is one append to the log.
    # synchronous=FULL: a commit is on disk before the 201 goes out (acknowledged rows survive a crash).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def create_feedback_engine(url: str) -> Engine:
    """A sync engine for ``url``; SQLite files get WAL mode and a busy timeout on every connection."""
    parsed = parse_url(url)
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_DIALECTS:
        raise FeedbackStoreError(f"feedback store URL: '{backend}' databases are not supported (sqlite or postgresql)")
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _set_sqlite_pragmas)
        return engine
    # pool_pre_ping: a connection PostgreSQL closed (restart, idle timeout) is replaced, not handed to a request.
    # connect_timeout: a database that is down fails a request (503) in seconds, not after the OS's timeout.
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args={"connect_timeout": 10}
    )


def run_migrations(engine: Engine, attempts: int = 3) -> None:
    """Bring the schema to the newest Alembic revision (a no-op when it is there already).

    Several workers start together: on PostgreSQL they take an advisory lock in turn; on SQLite a
    worker that lost the race to create the tables retries and then finds them there. Within one
    process, migrations run one at a time (Alembic's state is global).
    """
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    for attempt in range(1, attempts + 1):
        try:
            with _migrating, engine.begin() as connection:
                if engine.dialect.name == "postgresql":
                    connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
            return
        except DBAPIError:
            if attempt == attempts:
                raise
            time.sleep(0.2 * attempt)


def _insert(engine: Engine) -> Any:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` (both spell it the same)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    return dialect.insert(feedback_table)


def _as_utc(value: datetime) -> datetime:
    # SQLite keeps no time zone: every value was written in UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def since_in_utc(value: datetime) -> datetime:
    """A ``since`` bound in UTC (UTC when it names no zone). Raises ValueError for a time that leaves the calendar
    once moved to UTC (9999-12-31T23:59-05:00), which Python cannot represent."""
    try:
        return _as_utc(value)
    except OverflowError:
        raise ValueError(f"{value.isoformat()} is outside the years 1-9999 once converted to UTC") from None


@dataclass
class FeedbackStore:
    """Corrections in one database: `add` (idempotent), `list` (oldest first) and `iter_all`."""

    engine: Engine
    url: str = field(repr=False)

    def add(self, correction: Correction) -> Stored:
        """Store the correction unless an identical one is stored; either way, return the row's id."""
        digest = correction.content_hash()
        now = datetime.now(UTC)
        values = {
            "content_hash": digest,
            "created_at": now,
            "last_sent_at": now,
            "text": correction.text,
            "labels": correction.labels,
            "role": correction.role,
            "model_name": correction.model_name,
            "model_version": correction.model_version,
            "request_id": correction.request_id,
            "article_id": correction.article_id,
            "note": correction.note,
        }
        columns = (feedback_table.c.id, feedback_table.c.created_at)
        statement = _insert(self.engine).values(values).on_conflict_do_nothing(index_elements=["content_hash"])
        with self.engine.begin() as connection:
            row = connection.execute(statement.returning(*columns)).first()
            if row is not None:
                return Stored(int(row.id), _as_utc(row.created_at), duplicate=False)
            # The conflicting row is committed (PostgreSQL waits for a concurrent insert of the same hash to
            # commit before it reports the conflict), so this statement, with its own snapshot, sees it.
            same = feedback_table.c.content_hash == digest
            connection.execute(sa.update(feedback_table).where(same).values(last_sent_at=now))
            existing = connection.execute(sa.select(*columns).where(same)).one()
        return Stored(int(existing.id), _as_utc(existing.created_at), duplicate=True)

    def list(
        self, since: datetime | None = None, limit: int | None = None, after_id: int | None = None
    ) -> list[StoredCorrection]:
        """Corrections stored at or after ``since`` and with an id above ``after_id``, oldest first, at most
        ``limit``: pass the last id seen as ``after_id`` to page through them."""
        return list(self._select(since, limit, after_id))

    def iter_all(self, since: datetime | None = None) -> Iterator[StoredCorrection]:
        return self._select(since, None, None)

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(connection.execute(sa.select(sa.func.count()).select_from(feedback_table)).scalar_one())

    def _select(self, since: datetime | None, limit: int | None, after_id: int | None) -> Iterator[StoredCorrection]:
        query = sa.select(feedback_table).order_by(feedback_table.c.id)
        if after_id is not None:
            query = query.where(feedback_table.c.id > after_id)
        if since is not None:
            since = since_in_utc(since)
            # SQLite compares the stored strings: give it the same naive-UTC form it stores.
            bound = since.replace(tzinfo=None) if self.engine.dialect.name == "sqlite" else since
            query = query.where(feedback_table.c.created_at >= bound)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        for row in rows:
            yield StoredCorrection(
                id=int(row.id),
                created_at=_as_utc(row.created_at),
                last_sent_at=_as_utc(row.last_sent_at) if row.last_sent_at is not None else None,
                correction=Correction(
                    text=row.text,
                    labels={name: list(labels) for name, labels in (row.labels or {}).items()},
                    role=row.role,
                    model_name=row.model_name,
                    model_version=row.model_version,
                    request_id=row.request_id,
                    article_id=row.article_id,
                    note=row.note,
                ),
            )

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str | None = None, migrate: bool = True) -> FeedbackStore:
    """Connect to ``url`` (default: `default_feedback_url`) and apply the migrations.

    Raises `FeedbackStoreError` naming the database (password hidden) when it cannot be reached.
    """
    url = url or default_feedback_url()
    engine = create_feedback_engine(url)
    if migrate:
        try:
            run_migrations(engine)
        except DBAPIError as exc:
            engine.dispose()
            first_line = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else repr(exc)
            raise FeedbackStoreError(f"feedback database {describe_url(url)}: {first_line}") from exc
    return FeedbackStore(engine, url)
