"""Health, readiness and the 503 + Retry-After while no model is loaded."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.main import create_app, create_served_app
from service.model_store import ModelStore

from .conftest import app_of, json_lines, settings_for


def test_healthz_and_readyz_with_a_model(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_model_that_fails_to_load_leaves_the_service_up_but_not_ready(
    make_client: Callable[..., TestClient], tmp_path: Path, bundle_dir: Path, capsys
) -> None:
    missing = tmp_path / "not-there-yet"
    client = make_client(preloaded=False, model_uri=missing, admin_key="adm1n", model_refresh_seconds=7)
    failure = [line for line in json_lines(capsys.readouterr().out) if line.get("event") == "model_load_failed"]
    assert failure and str(missing) in failure[0]["error"] and failure[0]["level"] == "error"

    assert client.get("/healthz").status_code == 200
    for method, path in (("GET", "/readyz"), ("POST", "/v1/classify"), ("GET", "/v1/labels"), ("GET", "/v1/model")):
        response = client.request(method, path, json={"paragraphs": ["a"]} if method == "POST" else None)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "7"  # the background retry interval
        assert response.json()["detail"][0]["type"] == "model_not_ready"

    shutil.copytree(bundle_dir, missing)  # the model appears; an admin reload picks it up
    assert client.post("/v1/admin/reload", headers={"X-Admin-Key": "adm1n"}).status_code == 200
    assert client.get("/readyz").status_code == 200


def test_background_refresh_loads_a_model_that_was_missing_at_start(tmp_path: Path, bundle_dir: Path) -> None:
    store = ModelStore(str(tmp_path / "model"))
    app = create_app(settings_for(tmp_path / "model"), store)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 503
        assert store.refresh() is False  # still missing: nothing loaded, nothing raised
        shutil.copytree(bundle_dir, tmp_path / "model")
        assert store.refresh() is True
        assert client.get("/readyz").status_code == 200
        assert store.refresh() is False  # a local directory has no alias to follow
    assert app_of(client).state.store is store


def test_served_app_refuses_to_start_on_an_artifact_that_fails_its_check(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle_dir, tampered)
    with (tampered / "model.joblib").open("ab") as f:
        f.write(b"\0")
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", str(tampered))
    with pytest.raises(SystemExit) as exit_info:
        create_served_app()
    assert exit_info.value.code == 3  # uvicorn: failed to start, do not restart
    lines = json_lines(capsys.readouterr().out)
    refused = [line for line in lines if line.get("event") == "refused_to_start"]
    assert refused and refused[0]["level"] == "critical" and "does not match" in refused[0]["error"]


def test_served_app_starts_unready_when_the_model_is_only_missing(
    tmp_path: Path, bundle_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", str(tmp_path / "later"))
    monkeypatch.setenv("TOPICFRAME_MODEL_REFRESH_SECONDS", "0")
    with TestClient(create_served_app()) as client:
        assert client.get("/readyz").status_code == 503
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", str(bundle_dir))
    with TestClient(create_served_app()) as client:  # loaded before serving, not in the lifespan
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
