"""The model being served, and how it is (re)loaded.

The served model is one immutable `ServedModel` (bundle + registry ref + load
time). A reload builds a complete new one and then swaps a single reference, so
a request that already took the old object finishes on it, and no request ever
sees a half-loaded model. A failed load never replaces a working model, and is
recorded as a `LoadFailure` that says what is wrong (registry unreachable, alias
not set, integrity check failed, ...) for /readyz and the 503s.

MLflow (and, through the bundle, scikit-learn) is imported on the first load,
not with this module: the server binds its port without waiting for those
imports, and loads run in a daemon thread (`in_daemon_thread`), so a load stuck
in registry retries never holds up the event loop or the process's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from service.settings import MODELS_URI
from training.errors import ModelDownloadError, ModelIntegrityError, StoreNotFoundError
from training.sqlite_store import sqlite_file

if TYPE_CHECKING:
    from training.bundle import ModelBundle
    from training.registry import ModelRef

log = logging.getLogger("topicframe.service")

T = TypeVar("T")

# Why no model is served: the `reason` of the 503s from /readyz and the model routes.
LOADING = "loading"  # the first attempt has not finished yet
REGISTRY_UNREACHABLE = "registry_unreachable"  # no connection, timeouts, or the registry keeps answering 5xx
ALIAS_NOT_SET = "alias_not_set"  # the registry answered: no version has the alias (yet)
MODEL_NOT_FOUND = "model_not_found"  # no such registered model / version, or no such directory
INTEGRITY_FAILED = "integrity_failed"  # sha256 mismatch, no trusted digest, a legacy pickle: waiting won't help
LOAD_FAILED = "load_failed"  # anything else

_OS_ERROR = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")


@dataclass(frozen=True)
class ServedModel:
    """Everything a request needs from the model, fixed for the lifetime of the object."""

    bundle: ModelBundle
    ref: ModelRef
    loaded_at: str

    def describe(self) -> dict[str, Any]:
        """The ``model`` block of every classification response."""
        return {"name": self.ref.name, "version": self.ref.version, "alias": self.ref.alias, "run_id": self.ref.run_id}


@dataclass(frozen=True)
class LoadFailure:
    """Why the last load failed: a `reason` code (the constants above) and one line for people."""

    reason: str
    message: str
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"), compare=False)


def describe_error(exc: BaseException) -> str:
    """One line saying what failed; MLflow errors carry a multi-line message."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message.splitlines()[0]}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it was raised from or during (also behind ``raise ... from None``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def explain_failure(exc: BaseException, uri: str) -> LoadFailure:
    """Sort a failed load into a `reason`, with a message that says what is really wrong.

    `training.registry` reports a registry it cannot reach as "has no alias ... (INTERNAL_ERROR)"; the
    connection error it was raised from (kept as ``__context__``) tells the two apart.
    """
    if isinstance(exc, ModelIntegrityError):
        return LoadFailure(INTEGRITY_FAILED, describe_error(exc))
    if isinstance(exc, StoreNotFoundError):  # no store file yet: nothing is registered (`topicframe train` makes it)
        return LoadFailure(MODEL_NOT_FOUND, describe_error(exc))
    if isinstance(exc, ModelDownloadError):  # the alias and version exist (MLflow's "does not exist" is a file's)
        return LoadFailure(LOAD_FAILED, describe_error(exc))
    causes = list(_causes(exc))
    from requests.exceptions import RequestException  # MLflow's HTTP client, already imported by the load

    network = next((e for e in causes if isinstance(e, RequestException)), None)
    if network is not None:
        from training.registry import hide_passwords, tracking_uri

        detail = _OS_ERROR.search(str(network))
        why = detail.group(0) if detail else describe_error(network)[:300]
        registry = hide_passwords(tracking_uri())  # public: /readyz shows it to anyone, so never its password
        return LoadFailure(REGISTRY_UNREACHABLE, f"the model registry at {registry} is unreachable: {why}")
    codes = {getattr(e, "error_code", None) for e in causes}
    match = MODELS_URI.match(uri)
    if type(exc).__name__ == "AliasNotSetError" or (
        match and match["alias"] and codes & {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
    ):
        return LoadFailure(ALIAS_NOT_SET, describe_error(exc))
    if "RESOURCE_DOES_NOT_EXIST" in codes or (not match and not Path(uri).is_dir()):
        return LoadFailure(MODEL_NOT_FOUND, describe_error(exc))
    return LoadFailure(LOAD_FAILED, describe_error(exc))


async def in_daemon_thread(fn: Callable[[], T], name: str = "topicframe-model-load") -> T:
    """Run ``fn`` in a new daemon thread and await its result without blocking the event loop.

    Unlike the thread pool's workers, a daemon thread does not hold up the process's exit: a load
    waiting on a registry that is down cannot delay a SIGTERM. Cancelling the wait abandons the thread.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():  # the waiter was cancelled
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = fn()
        except BaseException as exc:
            error = exc
        with contextlib.suppress(RuntimeError):  # the event loop is closed: the process is shutting down
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name=name, daemon=True).start()
    return await future


class ModelStore:
    """Holds the served model; `load` replaces it only with a fully loaded, verified one."""

    def __init__(
        self,
        uri: str,
        cache_dir: Path | None = None,
        on_load: Callable[[ServedModel, ServedModel | None], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        expected_sha256: str | None = None,
        on_alias_check: Callable[[str], None] | None = None,
    ):
        self.uri = uri
        self.cache_dir = cache_dir
        # The operator's digest for a local model directory (TOPICFRAME_MODEL_SHA256); the registry's otherwise.
        self.expected_sha256 = expected_sha256
        self._client: Any = None  # one MlflowClient for every registry call, made on the first load
        self._store_identity: tuple[int, int] | None = None  # the embedded store's file (device, inode) then
        self.on_load = on_load  # e.g. update the model-info metric
        self.on_failure = on_failure
        self.on_alias_check = on_alias_check  # told "unchanged", "moved" or "failed" after each alias check
        self.current: ServedModel | None = None
        self.last_failure: LoadFailure | None = None
        self.attempted = threading.Event()  # set when the first load attempt has finished, either way
        self._loading_since: float | None = None
        # Two loads at once (admin reload + background refresh) would download twice; run them in turn.
        self._loading = threading.Lock()

    @property
    def last_error(self) -> str | None:
        """What the last failed load said; None once a load succeeded."""
        return self.last_failure.message if self.last_failure else None

    def unavailable(self) -> LoadFailure:
        """Why no model is served (while `current` is None): the last failure, or that the first load runs."""
        if self.last_failure is not None:
            return self.last_failure
        since = self._loading_since
        running = f" (for {time.monotonic() - since:.0f} s)" if since is not None else ""
        return LoadFailure(LOADING, f"the model is still loading{running}: {self.uri}")

    def registry_client(self) -> Any:
        """The store's MlflowClient (None for a local directory): no process-wide MLflow state is used.

        An embedded store is looked at on each call (one stat): a file that is gone raises (the alias check fails
        and says so; the loaded model keeps serving), and a file replaced since the client was made (restored
        from a backup, moved into place) is opened again, not read through connections to the old one.
        """
        if not MODELS_URI.match(self.uri):
            return None
        # MLflow: imported by the first load, not at start-up. An embedded store that does not exist yet is
        # waited for, not made here (`existing_store_client`): each refresh looks again.
        from training.registry import existing_store_client, reopen_sqlite_store, tracking_uri

        database = sqlite_file(tracking_uri())
        identity = _file_identity(database) if database is not None else None
        if database is not None and identity is None:
            self._client = None  # gone: existing_store_client says so below
        elif self._client is not None and identity != self._store_identity:
            assert database is not None
            log.warning(
                "the MLflow store file was replaced: reading the new one",
                extra={"fields": {"event": "store_replaced", "model_uri": self.uri, "store": str(database)}},
            )
            reopen_sqlite_store(database)
            self._client = None
        if self._client is None:
            self._client = existing_store_client()
            self._store_identity = identity
        return self._client

    def load(self) -> ServedModel:
        """Resolve the URI now, fetch, check every file's sha256 and read the arrays; then swap. Raises on failure."""
        with self._loading:
            self._loading_since = time.monotonic()
            try:
                from training.registry import load_model  # MLflow: imported by the first load, not at start-up

                # load_model checks every file against the registry's digest (or the operator's) before reading it.
                bundle, ref = load_model(self.uri, self.cache_dir, self.expected_sha256, self.registry_client())
            except Exception as exc:
                self.last_failure = explain_failure(exc, self.uri)
                self._loading_since = None
                self.attempted.set()
                log.error(
                    "model load failed",
                    extra={
                        "fields": {
                            "event": "model_load_failed",
                            "model_uri": self.uri,
                            "reason": self.last_failure.reason,
                            "error": self.last_failure.message,
                            "serving_version": self.current.ref.version if self.current else None,
                        }
                    },
                )
                if self.on_failure is not None:
                    self.on_failure(self.last_failure.message)
                raise
            loaded = ServedModel(bundle, ref, datetime.now(UTC).isoformat(timespec="seconds"))
            previous, self.current = self.current, loaded  # the swap: one reference assignment
            self.last_failure = None
            self._loading_since = None
            self.attempted.set()
        log.info(
            "model loaded",
            extra={
                "fields": {
                    "event": "model_loaded",
                    "model_uri": self.uri,
                    "name": ref.name,
                    "version": ref.version,
                    "alias": ref.alias,
                    "run_id": ref.run_id,
                    "previous_version": previous.ref.version if previous else None,
                }
            },
        )
        if self.on_load is not None:
            self.on_load(loaded, previous)
        return loaded

    def refresh(self) -> bool:
        """Load if nothing is served yet, or if the alias now points at another version; True if it loaded.

        Called periodically in each worker: a worker that started before the
        registry was reachable becomes ready by itself, and with several workers
        every worker follows the alias (an admin reload only reaches one).
        """
        current = self.current
        if current is not None:
            if current.ref.alias is None:
                return False  # a fixed version or a local directory never moves
            from training.registry import resolve_model

            try:
                moved = resolve_model(self.uri, self.registry_client()).version != current.ref.version
            except Exception as exc:
                self._alias_checked("failed")
                failure = explain_failure(exc, self.uri)
                log.warning(
                    "alias check failed",
                    extra={
                        "fields": {
                            "event": "alias_check_failed",
                            "model_uri": self.uri,
                            "reason": failure.reason,
                            "error": failure.message,
                        }
                    },
                )
                return False
            self._alias_checked("moved" if moved else "unchanged")
            if not moved:
                return False
        try:
            self.load()
        except Exception:
            return False  # already logged; the old model (if any) keeps serving
        return True

    def _alias_checked(self, result: str) -> None:
        if self.on_alias_check is not None:
            self.on_alias_check(result)


def _file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a file, or None when it does not exist."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
