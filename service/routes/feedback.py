"""POST /v1/feedback and GET /v1/feedback: corrections sent by users, stored durably.

A correction is one paragraph with the labels it should have had. Its labels and
role are checked against the served model's codebooks (`training.feedback.corrections`),
so that every stored correction can be exported and retrained on as it is; the
store (`training.feedback.store`) keeps it in SQLite or PostgreSQL, once: an
identical submission gets the same id back with ``duplicate: true``.

Keys: with TOPICFRAME_FEEDBACK_KEY set, POST needs it in ``X-API-Key``; without it,
feedback is open (TOPICFRAME_API_KEY guards /v1/classify only). GET lists the
corrections with the admin key (``X-Admin-Key``); with no admin key configured it
is 404, like the admin routes, which then do not exist either.

The store is opened (and migrated) in a background thread at start-up (a SQLite file
that does not exist yet is created by the first correction instead), so that
the port is bound at once even with a database that is slow or down; a request
that comes before it is open waits for it, and a failed open is retried by the
next request (503 meanwhile). Database calls use SQLAlchemy's sync engine in the
thread pool, chosen by measurement: 32 concurrent writers inserting into PostgreSQL
for 5 s managed 456-541 inserts/s through the sync engine in threads against
121-141/s through the async engine (psycopg async), on the shared 2-core VM
(2026-12-02); and the async engine would need aiosqlite (not a dependency) for the
default SQLite store, where one file takes one writer at a time either way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from service.dependencies import (
    ADMIN_KEY_HEADER,
    FEEDBACK_KEY_HEADER,
    ServingModel,
    SettingsDep,
    _matches,
    require_admin_key,
)
from service.errors import ClientError, key_error, limit_error
from service.routes.classify import ERRORS, visible_text
from service.schemas import ErrorResponse, NonBlank

if TYPE_CHECKING:
    from training.feedback.store import FeedbackStore

log = logging.getLogger("topicframe.service")


def _no_nul(value: str) -> str:
    # PostgreSQL's text cannot hold NUL: refused here, by field, rather than failing in the database (a 500).
    if "\x00" in value:
        raise ValueError("contains a NUL character (U+0000), which the feedback store cannot hold")
    return value


# Strings the store can hold. Each length is checked before the NUL check: checked after it, pydantic named the
# limit in "Value should have at most 200 items after validation", as if the string were a list.
_NO_NUL = AfterValidator(_no_nul)
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), _NO_NUL]
Version = Annotated[str, StringConstraints(max_length=64), _NO_NUL]
Note = Annotated[str, StringConstraints(max_length=2000), _NO_NUL]
# A codebook has a dozen labels and a model three sets: far larger lists are refused by the schema, in one error,
# before any label is looked up (60,000 unknown labels took 6 s on the event loop and a 15 MB answer).
MAX_LABEL_SETS = 20
MAX_LABELS_PER_SET = 50
# At most this many problems are listed in a 422; the rest are counted in a last item.
MAX_PROBLEMS_SHOWN = 20


def _since_in_utc(value: datetime | None) -> datetime | None:
    # A ValueError here is a 422 at query.since (a time past 9999-12-31 once in UTC), not a 500 in the query.
    from training.feedback.store import since_in_utc

    return None if value is None else since_in_utc(value)


class FeedbackModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    name: Name = Field(description="registered model name the user saw, e.g. topicframe")
    version: Version | None = Field(None, description="its version (null for a local model)")


class FeedbackRequest(BaseModel):
    """A paragraph and the labels it should have: every content label set of the model, [] for none."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "text": "Customs officers detained three shipments of solar panels under the forced labour law.",
                    "labels": {"topic": ["trade", "human_rights"], "frame": ["responsibility"]},
                    "role": "body",
                    "model": {"name": "topicframe", "version": "3"},
                }
            ]
        },
    )

    text: Annotated[NonBlank, _NO_NUL] = Field(
        description="one paragraph (no blank lines), at most TOPICFRAME_MAX_PARAGRAPH_CHARS"
    )
    # Optional for a byline, caption, promo or footer, which carry none; a body or headline paragraph left without
    # it is told which sets are missing (check_labels), as when one set is left out.
    labels: dict[Name, Annotated[list[Name], Field(max_length=MAX_LABELS_PER_SET)]] = Field(
        default_factory=dict,
        max_length=MAX_LABEL_SETS,
        description="per label set (GET /v1/labels), the right labels: every content set, [] for none; "
        "may be left out for a paragraph whose role carries no labels (byline, caption, promo, footer)",
    )
    role: Name | None = Field(None, description="what the paragraph is (body, headline, caption...); default body")
    model: FeedbackModel | None = Field(None, description="the model whose answer is being corrected")
    request_id: Name | None = Field(None, description="X-Request-ID of the classification being corrected")
    article_id: Name | None = Field(None, description="the article the paragraph belongs to")
    note: Note | None = Field(None, description="free text for the people reviewing corrections")


class FeedbackCreated(BaseModel):
    id: int
    created_at: str = Field(description="when the correction was first stored (UTC, ISO 8601)")
    duplicate: bool = Field(description="true when an identical correction was stored already (same id)")


class FeedbackItem(BaseModel):
    id: int
    created_at: str
    text: str
    labels: dict[str, list[str]]
    role: str | None
    model: FeedbackModel | None
    request_id: str | None
    article_id: str | None
    note: str | None


class FeedbackList(BaseModel):
    items: list[FeedbackItem] = Field(description="oldest first")


class FeedbackStoreHolder:
    """Opens the store once (thread-safe); a failed open is retried by the next caller."""

    def __init__(self, url: str | None):
        self.url = url
        self.store: FeedbackStore | None = None
        self._lock = threading.Lock()

    def get(self) -> FeedbackStore:
        with self._lock:
            if self.store is None:
                from training.feedback.store import open_store

                self.store = open_store(self.url)
            return self.store

    def open_quietly(self) -> None:
        """The start-up open (migrations included): a failure is logged, and the next request tries again.

        A SQLite file that does not exist yet is left to the first correction to create, so that
        starting the service (or a test app) in a directory does not leave an empty database there.
        """
        from training.feedback.store import default_feedback_url, sqlite_path

        try:
            path = sqlite_path(self.url or default_feedback_url())
            if path is not None and not path.exists():
                return
            store = self.get()
        except Exception as exc:
            log.error(
                "feedback store unavailable",
                extra={"fields": {"event": "feedback_store_failed", "error": str(exc).splitlines()[0]}},
            )
            return
        from training.feedback.store import describe_url

        log.info(
            "feedback store open", extra={"fields": {"event": "feedback_store_open", "url": describe_url(store.url)}}
        )

    def close(self) -> None:
        with self._lock:
            if self.store is not None:
                self.store.close()
                self.store = None


@contextlib.asynccontextmanager
async def feedback_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    holder = FeedbackStoreHolder(settings.feedback_url)
    app.state.feedback = holder
    # A daemon thread, not awaited: the port is bound without waiting for the database.
    threading.Thread(target=holder.open_quietly, name="topicframe-feedback-open", daemon=True).start()
    try:
        yield
    finally:
        holder.close()


router = APIRouter(tags=["feedback"], lifespan=feedback_lifespan)  # the listing (admin key) and the store's lifespan
submit_router = APIRouter(tags=["feedback"])  # POST: its key, when set, is attached where the app includes it


async def feedback_store(request: Request) -> FeedbackStore:
    """The open store; opened here if the start-up open failed or has not finished (503 if it cannot be).

    Called inside the routes, after the body is validated: a refused request never opens the database.
    """
    holder: FeedbackStoreHolder | None = getattr(request.app.state, "feedback", None)
    if holder is None:  # the app is served without its lifespan (in-process ASGI calls in tests)
        holder = request.app.state.feedback = FeedbackStoreHolder(request.app.state.settings.feedback_url)
    if holder.store is not None:
        return holder.store
    try:
        return await run_in_threadpool(holder.get)
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ClientError(
            503, [], f"the feedback store is unavailable: {message}", "feedback_store_unavailable"
        ) from None


async def require_feedback_key(
    settings: SettingsDep,
    api_key: Annotated[str | None, Security(FEEDBACK_KEY_HEADER)],
) -> None:
    """401 without X-API-Key, 403 with a wrong one. Attached to `submit_router` (service.main) only when
    TOPICFRAME_FEEDBACK_KEY is set, so the OpenAPI schema declares the key exactly then (Swagger's "Try it out"
    can send it) and never claims one when feedback is open."""
    if settings.feedback_key is None:  # not attached then; kept for safety
        return
    if not api_key:
        raise key_error("X-API-Key", "the X-API-Key header is required to send feedback", missing=True)
    if not _matches(api_key, settings.feedback_key):
        raise key_error("X-API-Key", "the feedback key is not valid", missing=False)


async def require_admin_to_list(
    settings: SettingsDep,
    admin_key: Annotated[str | None, Security(ADMIN_KEY_HEADER)],
) -> None:
    """No admin key configured: the listing does not exist (404), like the admin routes."""
    if settings.admin_key is None:
        raise HTTPException(404, "Not Found")
    await require_admin_key(settings, admin_key)


def _problems_error(problems: list[tuple[list[str | int], str]], kind: str) -> RequestValidationError:
    shown = [{"loc": loc, "msg": msg, "type": kind} for loc, msg in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        more = len(problems) - MAX_PROBLEMS_SHOWN
        shown.append({"loc": ["body"], "msg": f"and {more} more problem(s) like these, not listed", "type": kind})
    return RequestValidationError(shown)


@submit_router.post(
    "/v1/feedback",
    status_code=201,
    response_model=FeedbackCreated,
    responses={
        401: {"model": ErrorResponse, "description": "TOPICFRAME_FEEDBACK_KEY is set and X-API-Key is missing"},
        403: {"model": ErrorResponse, "description": "X-API-Key is not the feedback key"},
        413: ERRORS[413],
        415: ERRORS[415],
        422: {"model": ErrorResponse, "description": "Unknown label set, label or role, empty or too long text"},
        503: {"model": ErrorResponse, "description": "No model loaded yet, or the feedback store is unavailable"},
    },
)
async def submit_feedback(
    body: FeedbackRequest, model: ServingModel, settings: SettingsDep, request: Request
) -> dict[str, Any]:
    """Store a correction; the same correction sent again gets the same id (``duplicate: true``).

    With TOPICFRAME_FEEDBACK_KEY set, the key goes in the ``X-API-Key`` header (401 without, 403 wrong).
    """
    from training.classify import split_on_blank_lines
    from training.feedback.corrections import LabelRules, check_labels
    from training.feedback.store import Correction

    if len(body.text) > settings.max_paragraph_chars:
        raise limit_error(
            ["body", "text"],
            f"text has {len(body.text)} characters, more than the limit of {settings.max_paragraph_chars}",
            "max_paragraph_chars",
        )
    # Stored as training and classify read it: a paragraph's own HTML or Markdown as its visible text, so two
    # corrections of one paragraph (with and without its tags) are one paragraph to the export.
    text = visible_text(body.text, "auto", ["body", "text"], "text has no letter or digit once read as markup")
    paragraphs = split_on_blank_lines(text)
    if len(paragraphs) != 1:
        raise _problems_error(
            [
                (
                    ["body", "text"],
                    f"one paragraph per correction: this text splits into {len(paragraphs)} on blank lines",
                )
            ],
            "too_many_paragraphs",
        )
    labels, problems = check_labels(body.labels, body.role, LabelRules.of(model.bundle))
    if problems:
        raise _problems_error(problems, "invalid_label")
    correction = Correction(
        text=paragraphs[0],
        labels=labels,
        role=body.role,
        model_name=body.model.name if body.model else None,
        model_version=body.model.version if body.model else None,
        request_id=body.request_id,
        article_id=body.article_id,
        note=body.note,
    )
    store = await feedback_store(request)
    stored = await run_in_threadpool(store.add, correction)
    return {"id": stored.id, "created_at": stored.created_at.isoformat(), "duplicate": stored.duplicate}


@router.get(
    "/v1/feedback",
    response_model=FeedbackList,
    dependencies=[Depends(require_admin_to_list)],
    responses={
        401: {"model": ErrorResponse, "description": "X-Admin-Key missing"},
        403: {"model": ErrorResponse, "description": "X-Admin-Key not valid"},
        404: {"model": ErrorResponse, "description": "No admin key is configured (TOPICFRAME_ADMIN_KEY)"},
    },
)
async def list_feedback(
    request: Request,
    since: Annotated[
        datetime | None,
        AfterValidator(_since_in_utc),
        Query(description="only corrections stored at or after this time (ISO 8601)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many items")] = 100,
    after_id: Annotated[
        int | None,
        # The databases' integer ids stop at 2**63 - 1: a larger bound would overflow the query, not page.
        Query(ge=0, le=2**63 - 1, description="only ids above this one: the last id of the previous page"),
    ] = None,
) -> dict[str, Any]:
    """The stored corrections, oldest first; page with ``after_id`` (the last id of the previous page)."""
    store = await feedback_store(request)
    items = await run_in_threadpool(store.list, since, limit, after_id)
    return {"items": [item.to_dict() for item in items]}
