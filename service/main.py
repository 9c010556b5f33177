"""The FastAPI application.

``create_served_app()`` is what ``topicframe serve`` (``python -m service``) runs in every worker (imported through
`service.worker`), ``app = create_app()`` is the same app for ``uvicorn service.main:app``.
Either way the server binds its port at once and the model loads in the
background (`keep_model_loaded`): /healthz answers from the first second, and
/readyz and the model routes answer 503 with the reason (still loading, registry
unreachable, alias not set, ...) until a model is loaded. The background task then
retries a failed load and follows a moved alias. In the served app, an artifact
that fails its integrity check on the start-up load stops the worker with exit
status 3. Middleware, from the outside in: request id + log line + metrics, then
the body-size limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import math
import os
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware import Middleware
from uvicorn.config import STARTUP_FAILURE  # exit status 3: a worker's supervisor stops instead of restarting

from service.dependencies import require_admin_key, require_api_key
from service.errors import install_error_handlers
from service.logs import configure_logging
from service.metrics import Metrics, multiprocess_dir
from service.middleware import BodySizeLimit, JsonBodies, RequestObserver
from service.model_store import ModelStore, ServedModel, in_daemon_thread
from service.reload_signal import reload_signal
from service.routes import admin, classify, compare, feedback, health, info, models, pages
from service.settings import Settings
from training.errors import ModelIntegrityError

DESCRIPTION = """Topic and framing labels for news paragraphs, with scores, evidence terms and an article summary.

Errors are JSON: `{"detail": [{"loc": [...], "msg": "...", "type": "...", "limit": "..."}]}`, where `loc` is
the field path and `limit` names the setting whose limit was exceeded. Every response has an `X-Request-ID`.
"""

log = logging.getLogger("topicframe.service")


def bound_registry_requests(settings: Settings) -> None:
    """Bound MLflow's HTTP timeout and retries in this process (MLflow reads them on every request).

    MLflow's defaults (120 s timeout, 7 retries with a factor-2 backoff) keep one load of a model
    from a registry that is down busy for ~4 minutes; the background refresh retries anyway.
    MLFLOW_HTTP_REQUEST_* variables set in the environment win.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(settings.registry_timeout_seconds))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(settings.registry_max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def exit_process(status: int) -> None:
    """Leave now with ``status``: the served app's answer to an artifact that fails its integrity check.

    Only ever called before the worker has served a model (so no classification is cut short);
    exit status 3 tells uvicorn's supervisor "failed to start, do not restart" (it stops the other
    workers too), and `python -m service` passes it on. Tests replace this function.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def release_freed_heap() -> None:
    """Hand the heap that loading freed (file contents, download and decompression buffers) back to the OS.

    glibc keeps freed memory in its arenas for reuse; after the default model's load that was 8 MB of a
    worker's RSS (301 -> 293 MB, measured), which no request ever reuses. A no-op where there is no glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _warm_up() -> None:
    """Import what classifying needs (the bundle and scoring code) in the loader thread, not in a request."""
    import training.classify  # noqa: F401


async def keep_model_loaded(app: FastAPI) -> None:
    """Load the model in a daemon thread, then retry a failed load / follow the alias periodically."""
    settings: Settings = app.state.settings
    store: ModelStore = app.state.store
    with contextlib.suppress(Exception):  # first, so that the gc.freeze() after the load covers these too
        await in_daemon_thread(_warm_up)
    if store.current is None:
        try:
            await in_daemon_thread(store.load)
        except ModelIntegrityError as exc:  # the store has logged the failure; say what happens now
            if app.state.refuse_unverified_model:
                log.critical(
                    "refusing to start: the model artifact failed its integrity check",
                    extra={"fields": {"event": "refused_to_start", "model_uri": store.uri, "error": str(exc)}},
                )
                app.state.metrics.worker_exited()
                exit_process(STARTUP_FAILURE)
                return
        except Exception:
            pass  # logged by the store: up, not ready, retried below
    signal_file, every = settings.reload_signal_file, settings.model_refresh_seconds
    if signal_file is None:  # one worker: the periodic refresh alone (0: none)
        while every > 0:
            await asyncio.sleep(every)
            await in_daemon_thread(store.refresh)
        return
    # Several workers: an admin reload reaches one of them, which replaces the signal file; every worker looks
    # at it each second (a stat) and checks the alias when it changed, besides its periodic refresh.
    seen = reload_signal(signal_file)
    next_refresh = time.monotonic() + every if every > 0 else math.inf
    while True:
        await asyncio.sleep(min(every, 1.0) if every > 0 else 1.0)
        signalled = reload_signal(signal_file)
        if signalled != seen or time.monotonic() >= next_refresh:
            seen = signalled
            await in_daemon_thread(store.refresh)
            next_refresh = time.monotonic() + every if every > 0 else math.inf


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.workers > 1 and not multiprocess_dir():
        log.info(
            "several workers without PROMETHEUS_MULTIPROC_DIR: /metrics shows one worker's counters",
            extra={"fields": {"event": "metrics_per_worker", "workers": settings.workers}},
        )
    bound_registry_requests(settings)
    # Not awaited: the server binds its port and answers /healthz (and /readyz: 503, loading) meanwhile.
    loader = asyncio.create_task(keep_model_loaded(app), name="topicframe-model")
    try:
        yield
    finally:
        loader.cancel()  # abandons a load in progress (a daemon thread: it does not hold up the exit)
        app.state.metrics.worker_exited()


def create_app(
    settings: Settings | None = None, store: ModelStore | None = None, refuse_unverified_model: bool = False
) -> FastAPI:
    """Build the app; `store` lets tests hand in an already loaded (or deliberately empty) model store.

    With `refuse_unverified_model`, an artifact that fails its integrity check on the start-up load
    ends the process with status 3 (`exit_process`) instead of leaving it up and not ready.
    """
    settings = settings or Settings()
    logger = configure_logging(settings.log_level)
    metrics = Metrics()
    store = store or ModelStore(settings.model_uri, settings.model_cache_dir, expected_sha256=settings.model_sha256)

    def after_load(model: ServedModel, previous: ServedModel | None) -> None:
        metrics.model_loaded(model, previous)
        # Take the imports and the model out of the cyclic GC's reach: with ~220k long-lived objects a
        # full collection took ~230 ms here (a p99 spike for whichever request triggers it); frozen, ~0.
        gc.freeze()
        release_freed_heap()

    store.on_load, store.on_failure, store.on_alias_check = after_load, metrics.model_load_failed, metrics.alias_checked
    if store.current is not None:
        after_load(store.current, None)

    app = FastAPI(
        title="topicframe",
        version="1",
        description=DESCRIPTION,
        docs_url=None,  # /docs and /redoc are served by routes/pages.py with local assets (no CDN)
        redoc_url=None,
        lifespan=lifespan,
        middleware=[
            Middleware(RequestObserver, metrics=metrics, logger=logger),
            Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
            Middleware(JsonBodies),
        ],
    )
    app.state.settings, app.state.store, app.state.metrics = settings, store, metrics
    app.state.refuse_unverified_model = refuse_unverified_model
    install_error_handlers(app)

    # Keys are checked only where they are configured, so the OpenAPI schema shows security only then.
    classify_guard: list[Any] = [Depends(require_api_key)] if settings.api_key else []
    app.include_router(classify.router, dependencies=classify_guard)
    app.include_router(compare.router, dependencies=classify_guard)
    app.include_router(info.router)
    app.include_router(models.router)
    feedback_guard: list[Any] = [Depends(feedback.require_feedback_key)] if settings.feedback_key else []
    app.include_router(feedback.submit_router, dependencies=feedback_guard)  # its own key, TOPICFRAME_FEEDBACK_KEY
    # The listing, with the admin key; without one it answers 404 and is not in the schema, as the admin routes.
    app.include_router(feedback.router, include_in_schema=bool(settings.admin_key))
    app.include_router(pages.router)
    app.include_router(health.router)
    if settings.admin_key:  # no admin key, no admin routes at all
        app.include_router(admin.router, dependencies=[Depends(require_admin_key)])
    return app


def create_served_app() -> FastAPI:
    """The app as `python -m service` runs it: a uvicorn factory, called once in every worker process.

    The worker binds its port at once and loads the model in the background. An
    artifact that fails its integrity check on that start-up load (a sha256 other
    than the one recorded at training, none recorded, another scikit-learn) stops
    the process with one clear log line and exit status 3, which uvicorn's
    supervisor takes as "failed to start, do not restart": serving must not begin
    on it, and waiting will not fix it. A model that is only unavailable (registry
    down, alias not set yet) leaves the worker up but not ready, and the background
    refresh retries (a later refresh that meets a bad artifact only logs it).
    """
    return create_app(Settings(), refuse_unverified_model=True)


# `uvicorn service.main:app` also works (without the server limits of `python -m service`, and a failed
# integrity check leaves the service up but not ready instead of stopping it).
app = create_app()
