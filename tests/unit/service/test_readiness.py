"""Health, readiness and the 503 + Retry-After (with the reason) while no model is loaded."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import service.main
from service.main import create_app, create_served_app
from service.model_store import ModelStore

from .conftest import app_of, json_lines, settings_for, wait_for_first_load


def test_healthz_and_readyz_with_a_model(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    for path in ("/healthz", "/readyz"):  # monitors that probe with HEAD get GET's status, no body
        head = client.head(path)
        assert (head.status_code, head.content) == (200, b"") and head.headers["x-request-id"]


def test_a_reload_that_fails_while_a_model_serves_shows_in_readyz_and_metrics_until_one_succeeds(
    make_client: Callable[..., TestClient], tmp_path: Path, bundle_dir: Path
) -> None:
    """The model keeps serving and /readyz stays 200, but says the last load failed: before, nothing in
    /readyz or a gauge told that the served model was not the one the operator asked for."""
    from training.bundle import BUNDLE_FILE

    model_dir = tmp_path / "model"
    shutil.copytree(bundle_dir, model_dir)
    client = make_client(model_uri=model_dir, admin_key="adm1n")
    assert client.get("/readyz").json()["last_load_failure"] is None
    bundle_file = model_dir / BUNDLE_FILE
    intact = bundle_file.read_bytes()
    bundle_file.write_bytes(intact[:-1] + bytes([intact[-1] ^ 1]))  # one bit off: the digest no longer matches
    assert client.post("/v1/admin/reload", headers={"X-Admin-Key": "adm1n"}).status_code == 502

    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["model"]["version"] is None  # still the model it had
    failure = ready.json()["last_load_failure"]
    assert failure["reason"] == "integrity_failed" and "does not match" in failure["msg"] and failure["at"]
    assert "topicframe_model_last_load_failed 1.0" in client.get("/metrics").text

    bundle_file.write_bytes(intact)
    assert client.post("/v1/admin/reload", headers={"X-Admin-Key": "adm1n"}).status_code == 200
    assert client.get("/readyz").json()["last_load_failure"] is None
    assert "topicframe_model_last_load_failed 0.0" in client.get("/metrics").text


def test_model_that_fails_to_load_leaves_the_service_up_but_not_ready(
    make_client: Callable[..., TestClient], tmp_path: Path, bundle_dir: Path, capsys
) -> None:
    missing = tmp_path / "not-there-yet"
    client = make_client(preloaded=False, model_uri=missing, admin_key="adm1n", model_refresh_seconds=7)
    failure = [line for line in json_lines(capsys.readouterr().out) if line.get("event") == "model_load_failed"]
    assert failure and str(missing) in failure[0]["error"] and failure[0]["level"] == "error"
    assert failure[0]["reason"] == "model_not_found"

    assert client.get("/healthz").status_code == 200
    for method, path in (("GET", "/readyz"), ("POST", "/v1/classify"), ("GET", "/v1/labels"), ("GET", "/v1/model")):
        response = client.request(method, path, json={"paragraphs": ["a"]} if method == "POST" else None)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "7"  # the background retry interval
        detail = response.json()["detail"][0]
        assert detail["type"] == "model_not_ready" and detail["reason"] == "model_not_found"
        assert str(missing) in detail["msg"]
    head = client.head("/readyz")  # a monitor probing with HEAD sees the same status
    assert (head.status_code, head.headers["retry-after"], head.content) == (503, "7", b"")

    still_missing = client.post("/v1/admin/reload", headers={"X-Admin-Key": "adm1n"})
    assert still_missing.status_code == 502 and still_missing.json()["serving"] is None
    assert "reload failed, and no model is serving yet" in still_missing.json()["detail"][0]["msg"]  # not "keeps"
    shutil.copytree(bundle_dir, missing)  # the model appears; an admin reload picks it up
    assert client.post("/v1/admin/reload", headers={"X-Admin-Key": "adm1n"}).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_background_refresh_loads_a_model_that_was_missing_at_start(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str
) -> None:
    store = ModelStore(str(tmp_path / "model"), expected_sha256=bundle_sha256)
    app = create_app(settings_for(tmp_path / "model"), store)
    with TestClient(app) as client:
        wait_for_first_load(store)
        assert client.get("/readyz").status_code == 503
        assert store.refresh() is False  # still missing: nothing loaded, nothing raised
        shutil.copytree(bundle_dir, tmp_path / "model")
        assert store.refresh() is True
        assert client.get("/readyz").status_code == 200
        assert store.refresh() is False  # a local directory has no alias to follow
    assert app_of(client).state.store is store


def test_served_app_refuses_to_start_on_an_artifact_that_fails_its_check(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The start-up load runs in the background; its integrity failure still ends the process with status 3."""
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle_dir, tampered)
    with (tampered / "arrays.npz").open("ab") as f:
        f.write(b"\0")
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", str(tampered))
    monkeypatch.setenv("TOPICFRAME_MODEL_SHA256", bundle_sha256)
    exits: list[int] = []
    monkeypatch.setattr(service.main, "exit_process", exits.append)  # instead of os._exit
    with TestClient(create_served_app()) as client:
        assert client.get("/healthz").status_code == 200  # up at once, before the load has finished
        deadline = time.monotonic() + 60
        while not exits and time.monotonic() < deadline:
            time.sleep(0.02)
    assert exits == [3]  # uvicorn: failed to start, do not restart
    lines = json_lines(capsys.readouterr().out)
    refused = [line for line in lines if line.get("event") == "refused_to_start"]
    assert len(refused) == 1 and refused[0]["level"] == "critical" and "does not match" in refused[0]["error"]
    failed = [line for line in lines if line.get("event") == "model_load_failed"]
    assert failed[0]["reason"] == "integrity_failed"


def test_plain_app_stays_up_on_an_artifact_that_fails_its_check(
    make_client: Callable[..., TestClient], tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`uvicorn service.main:app` (`create_app`): not ready, and /readyz says why; the process stays."""
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle_dir, tampered)
    with (tampered / "arrays.npz").open("ab") as f:
        f.write(b"\0")
    exits: list[int] = []
    monkeypatch.setattr(service.main, "exit_process", exits.append)
    client = make_client(preloaded=False, model_uri=tampered)
    detail = client.get("/readyz").json()["detail"][0]
    assert detail["reason"] == "integrity_failed" and "does not match" in detail["msg"]
    assert exits == []


def test_served_app_starts_unready_when_the_model_is_only_missing(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", str(tmp_path / "later"))
    monkeypatch.setenv("TOPICFRAME_MODEL_REFRESH_SECONDS", "0")
    app = create_served_app()
    with TestClient(app) as client:
        wait_for_first_load(app_of(client).state.store)
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["detail"][0]["reason"] == "model_not_found"
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", str(bundle_dir))
    monkeypatch.setenv("TOPICFRAME_MODEL_SHA256", bundle_sha256)
    app = create_served_app()
    with TestClient(app) as client:  # loaded in the background, after the server is up
        wait_for_first_load(app_of(client).state.store)
        assert client.get("/readyz").status_code == 200


def test_readyz_says_the_model_is_loading_while_the_first_load_runs(
    bundle_dir: Path, bundle_sha256: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = threading.Event()
    real_load = ModelStore.load

    def slow_load(self: ModelStore) -> object:
        assert release.wait(30)
        return real_load(self)

    monkeypatch.setattr(ModelStore, "load", slow_load)
    store = ModelStore(str(bundle_dir), expected_sha256=bundle_sha256)
    app = create_app(settings_for(bundle_dir), store)
    with TestClient(app) as client:
        started = time.monotonic()
        response = client.get("/readyz")
        assert time.monotonic() - started < 5  # the lifespan did not wait for the load
        assert response.status_code == 503
        detail = response.json()["detail"][0]
        assert detail["reason"] == "loading" and str(bundle_dir) in detail["msg"]
        assert client.post("/v1/classify", json={"paragraphs": ["Tariffs rose."]}).json()["detail"][0]["reason"] == (
            "loading"
        )
        release.set()
        wait_for_first_load(store)
        assert client.get("/readyz").status_code == 200


def test_labels_are_the_codebooks_stored_in_the_model(client: TestClient, bundle) -> None:
    body = client.get("/v1/labels").json()
    assert body["label_sets"] == bundle.codebooks
    topic = body["label_sets"]["topic"]
    assert topic["labels"][0]["description"] and "include" in topic["labels"][0]


def test_model_details(client: TestClient, bundle, bundle_dir: Path) -> None:
    body = client.get("/v1/model").json()
    assert body["uri"] == str(bundle_dir)
    assert body["data_digest"] == bundle.data_digest
    assert body["codebook_sha256"] == bundle.codebook_sha256
    assert body["metrics"] == bundle.metrics and "topic.micro_f1" in body["metrics"]
    assert body["label_sets"] == bundle.label_sets
    assert body["loaded_at"] and body["created_at"] == bundle.created_at
