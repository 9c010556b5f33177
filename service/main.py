"""The FastAPI application.

``create_served_app()`` is what ``topicframe serve`` (``python -m service``) runs in
every worker: it loads the model before serving and refuses to start on an
artifact that fails its integrity check. ``app = create_app()`` is the same app
for ``uvicorn service.main:app``, where the lifespan loads the model instead.
Either way an unavailable model leaves the service up but not ready, and a
background task retries a failed load and follows a moved alias. Middleware,
from the outside in: request id + log line + metrics, then the body-size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi import Depends, FastAPI
from fastapi.middleware import Middleware
from uvicorn.config import STARTUP_FAILURE  # exit status 3: a worker's supervisor stops instead of restarting

from service.dependencies import require_admin_key, require_api_key
from service.errors import install_error_handlers
from service.logs import configure_logging
from service.metrics import Metrics, multiprocess_dir
from service.middleware import BodySizeLimit, RequestObserver
from service.model_store import ModelStore, ServedModel
from service.routes import admin, classify, health, info
from service.settings import Settings
from training.errors import ModelIntegrityError

DESCRIPTION = """Topic and framing labels for news paragraphs, with scores, evidence terms and an article summary.

Errors are JSON: `{"detail": [{"loc": [...], "msg": "...", "type": "...", "limit": "..."}]}`, where `loc` is
the field path and `limit` names the setting whose limit was exceeded. Every response has an `X-Request-ID`.
"""


async def refresh_periodically(store: ModelStore, every_seconds: float) -> None:
    """Retry a failed load, and follow the alias, every `every_seconds` (see `ModelStore.refresh`)."""
    while True:
        await asyncio.sleep(every_seconds)
        await anyio.to_thread.run_sync(store.refresh)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    store: ModelStore = app.state.store
    log = logging.getLogger("topicframe.service")
    if settings.workers > 1 and not multiprocess_dir():
        log.info(
            "several workers without PROMETHEUS_MULTIPROC_DIR: /metrics shows one worker's counters",
            extra={"fields": {"event": "metrics_per_worker", "workers": settings.workers}},
        )
    if store.current is None and store.last_error is None:  # not tried yet (`create_served_app` tries first)
        with contextlib.suppress(Exception):  # logged by the store; the service runs, not ready
            await anyio.to_thread.run_sync(store.load)
    refresher = None
    if settings.model_refresh_seconds > 0:
        refresher = asyncio.create_task(refresh_periodically(store, settings.model_refresh_seconds))
    try:
        yield
    finally:
        if refresher is not None:
            refresher.cancel()
        app.state.metrics.worker_exited()


def create_app(settings: Settings | None = None, store: ModelStore | None = None) -> FastAPI:
    """Build the app; `store` lets tests hand in an already loaded (or deliberately empty) model store."""
    settings = settings or Settings()
    logger = configure_logging(settings.log_level)
    metrics = Metrics()
    store = store or ModelStore(settings.model_uri, settings.model_cache_dir)

    def after_load(model: ServedModel, previous: ServedModel | None) -> None:
        metrics.model_loaded(model, previous)
        # Take the imports and the model out of the cyclic GC's reach: with ~220k long-lived objects a
        # full collection took ~230 ms here (a p99 spike for whichever request triggers it); frozen, ~0.
        gc.freeze()

    store.on_load, store.on_failure = after_load, metrics.model_load_failed
    if store.current is not None:
        after_load(store.current, None)

    app = FastAPI(
        title="topicframe",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestObserver, metrics=metrics, logger=logger),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        ],
    )
    app.state.settings, app.state.store, app.state.metrics = settings, store, metrics
    install_error_handlers(app)

    # Keys are checked only where they are configured, so the OpenAPI schema shows security only then.
    classify_guard: list[Any] = [Depends(require_api_key)] if settings.api_key else []
    app.include_router(classify.router, dependencies=classify_guard)
    app.include_router(info.router)
    app.include_router(health.router)
    if settings.admin_key:  # no admin key, no admin routes at all
        app.include_router(admin.router, dependencies=[Depends(require_admin_key)])
    return app


def create_served_app() -> FastAPI:
    """The app as `python -m service` runs it: a uvicorn factory, called once in every worker process.

    The model is loaded before the worker accepts connections. An artifact that fails
    its integrity check (a sha256 other than the one recorded at training, none
    recorded, another scikit-learn) stops the process with one clear log line and
    exit status 3, which uvicorn's supervisor takes as "failed to start, do not
    restart": serving must not begin on it, and waiting will not fix it. A model
    that is only unavailable (registry down, alias not set yet) leaves the worker
    up but not ready, and the background refresh retries.
    """
    settings = Settings()
    log = configure_logging(settings.log_level)
    store = ModelStore(settings.model_uri, settings.model_cache_dir)
    try:
        store.load()
    except ModelIntegrityError as exc:  # the store has logged the failure; say what happens now
        log.critical(
            "refusing to start: the model artifact failed its integrity check",
            extra={"fields": {"event": "refused_to_start", "model_uri": settings.model_uri, "error": str(exc)}},
        )
        raise SystemExit(STARTUP_FAILURE) from None
    except Exception:
        pass  # logged by the store: up, not ready, retried by the background refresh
    return create_app(settings, store)


# `uvicorn service.main:app` also works (the model then loads in the lifespan, and a failed
# integrity check leaves the service up but not ready instead of stopping it).
app = create_app()
