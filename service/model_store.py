"""The model being served, and how it is (re)loaded.

The served model is one immutable `ServedModel` (bundle + registry ref + load
time). A reload builds a complete new one and then swaps a single reference, so
a request that already took the old object finishes on it, and no request ever
sees a half-loaded model. A failed load never replaces a working model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from training.bundle import ModelBundle
from training.registry import ModelRef, load_model, resolve_model

log = logging.getLogger("topicframe.service")


@dataclass(frozen=True)
class ServedModel:
    """Everything a request needs from the model, fixed for the lifetime of the object."""

    bundle: ModelBundle
    ref: ModelRef
    loaded_at: str

    def describe(self) -> dict[str, Any]:
        """The ``model`` block of every classification response."""
        return {"name": self.ref.name, "version": self.ref.version, "alias": self.ref.alias, "run_id": self.ref.run_id}


def describe_error(exc: BaseException) -> str:
    """One line saying what failed; MLflow errors carry a multi-line message."""
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message.splitlines()[0]}"


class ModelStore:
    """Holds the served model; `load` replaces it only with a fully loaded, verified one."""

    def __init__(
        self,
        uri: str,
        cache_dir: Path | None = None,
        on_load: Callable[[ServedModel, ServedModel | None], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ):
        self.uri = uri
        self.cache_dir = cache_dir
        self.on_load = on_load  # e.g. update the model-info metric
        self.on_failure = on_failure
        self.current: ServedModel | None = None
        self.last_error: str | None = None
        # Two loads at once (admin reload + background refresh) would download twice; run them in turn.
        self._loading = threading.Lock()

    def load(self) -> ServedModel:
        """Resolve the URI now, fetch, verify the sha256 and unpickle; then swap. Raises on failure."""
        with self._loading:
            try:
                # load_model checks the artifact's sha256 against the registry's record before unpickling.
                bundle, ref = load_model(self.uri, self.cache_dir)
            except Exception as exc:
                self.last_error = describe_error(exc)
                log.error(
                    "model load failed",
                    extra={
                        "fields": {
                            "event": "model_load_failed",
                            "model_uri": self.uri,
                            "error": self.last_error,
                            "serving_version": self.current.ref.version if self.current else None,
                        }
                    },
                )
                if self.on_failure is not None:
                    self.on_failure(self.last_error)
                raise
            loaded = ServedModel(bundle, ref, datetime.now(UTC).isoformat(timespec="seconds"))
            previous, self.current = self.current, loaded  # the swap: one reference assignment
            self.last_error = None
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
            try:
                if resolve_model(self.uri).version == current.ref.version:
                    return False
            except Exception as exc:
                log.warning(
                    "alias check failed",
                    extra={
                        "fields": {
                            "event": "alias_check_failed",
                            "model_uri": self.uri,
                            "error": describe_error(exc),
                        }
                    },
                )
                return False
        try:
            self.load()
        except Exception:
            return False  # already logged; the old model (if any) keeps serving
        return True
