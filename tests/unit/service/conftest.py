"""Apps for the service tests: settings pointing at the session bundle on disk, no server, no registry.

The app loads its model in the background; `make_client(preloaded=False)` waits for that first
attempt to finish (`wait_for_first_load`), so a test starts from "loaded" or "failed", never "loading".
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from service.main import create_app
from service.model_store import ModelStore, ServedModel
from service.settings import Settings

ARTICLE = (
    "Washington and Beijing agreed to extend the tariff truce, with China pledging to buy more soybeans and "
    "liquefied natural gas from American exporters over the next two years.\n\n"
    "Customs officers detained three shipments of solar panels at the port of Los Angeles under the forced labour "
    "law,\nsaying the polysilicon inside was traced to camps in Xinjiang.\n\n"
    "Photograph: Kim Lee for the Daily Ledger"
)


# The app's lifespan sets these (`service.main.bound_registry_requests`); undone after every test.
MLFLOW_HTTP_SETTINGS = (
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
)


@pytest.fixture(autouse=True)
def _no_topicframe_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the test, never from the developer's shell; MLflow's HTTP settings are restored."""
    import os

    for name in list(os.environ):
        if name.startswith("TOPICFRAME_") or name == "PROMETHEUS_MULTIPROC_DIR":
            monkeypatch.delenv(name)
    for name in MLFLOW_HTTP_SETTINGS:
        monkeypatch.setenv(name, os.environ.get(name, ""))  # recorded, so teardown puts back what was there
        monkeypatch.delenv(name)


def wait_for_first_load(store: ModelStore, timeout: float = 60) -> None:
    """Until the store's first (background) load attempt has finished, loaded or failed."""
    assert store.attempted.wait(timeout), f"the first load of {store.uri} did not finish within {timeout}s"


@pytest.fixture(scope="session")
def served(bundle_dir: Path, bundle_sha256: str) -> ServedModel:
    """The session bundle loaded once through the real loading path (sha256 check included)."""
    return ModelStore(str(bundle_dir), expected_sha256=bundle_sha256).load()


# Every test's throw-away corrections database lives under this directory, removed when the session ends
# (created at import: a test module builds its settings at import time too).
FEEDBACK_ROOT = Path(tempfile.mkdtemp(prefix="topicframe-feedback-"))


@pytest.fixture(scope="session", autouse=True)
def _remove_feedback_databases() -> Iterator[None]:
    yield
    shutil.rmtree(FEEDBACK_ROOT, ignore_errors=True)


def settings_for(model_uri: str | Path, **overrides: Any) -> Settings:
    # No background refresh: tests decide when a model is (re)loaded. Corrections go to a throw-away
    # database, never to the default ./feedback.db of the directory the tests run in.
    # (`feedback_url=None` asks for the real default.)
    overrides.setdefault("feedback_url", f"sqlite:///{tempfile.mkdtemp(dir=FEEDBACK_ROOT)}/feedback.db")
    return Settings(**{"model_uri": str(model_uri), "model_refresh_seconds": 0, **overrides})


@pytest.fixture
def make_client(bundle_dir: Path, bundle_sha256: str, served: ServedModel) -> Iterator[Callable[..., TestClient]]:
    """``make_client(**settings)``: a started TestClient whose store already holds the session model.

    The operator's digest (``model_sha256``) is the session bundle's unless a test sets its own.
    """
    clients: list[TestClient] = []

    def make(preloaded: bool = True, model_uri: str | Path | None = None, **overrides: Any) -> TestClient:
        settings = settings_for(model_uri or bundle_dir, **{"model_sha256": bundle_sha256, **overrides})
        store = ModelStore(settings.model_uri, settings.model_cache_dir, expected_sha256=settings.model_sha256)
        if preloaded:
            store.current = served
        client = TestClient(create_app(settings, store))
        client.__enter__()  # runs the lifespan, which starts loading the model in the background
        clients.append(client)
        if not preloaded:
            wait_for_first_load(store)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def app_of(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


def json_lines(text: str) -> list[dict[str, Any]]:
    """The JSON log lines in captured output (other lines ignored)."""
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines
