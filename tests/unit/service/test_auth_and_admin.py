"""API key on /v1/classify, admin routes only with an admin key, reloads that swap or keep the model."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from training.bundle import BUNDLE_FILE, ModelBundle

from .conftest import app_of

PARAGRAPH = {"paragraphs": ["Washington and Beijing agreed to extend the tariff truce."]}


def test_api_key_protects_classify_only(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="s3cret")
    missing = client.post("/v1/classify", json=PARAGRAPH)
    assert missing.status_code == 401 and missing.json()["detail"][0]["msg"].startswith("an API key is required")
    assert missing.headers["www-authenticate"] == "Bearer"
    # Every refusal names the header at fault, as every 4xx names its field.
    assert missing.json()["detail"][0]["loc"] == ["header", "X-API-Key"]
    wrong = client.post("/v1/classify", json=PARAGRAPH, headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 403 and wrong.json()["detail"][0]["loc"] == ["header", "X-API-Key"]
    bearer = client.post("/v1/classify", json=PARAGRAPH, headers={"Authorization": "Bearer wrong"})
    assert bearer.status_code == 403 and bearer.json()["detail"][0]["loc"] == ["header", "Authorization"]
    assert client.post("/v1/classify", json=PARAGRAPH, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.post("/v1/classify", json=PARAGRAPH, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    for path in ("/healthz", "/readyz", "/v1/labels", "/v1/model", "/metrics"):
        assert client.get(path).status_code == 200, path
    schema = app_of(client).openapi()
    assert schema["paths"]["/v1/classify"]["post"]["security"] == [{"ApiKey": []}, {"HTTPBearer": []}]
    # Each key its own scheme: the classify key is sent as X-API-Key, not as the admin key's header.
    assert schema["components"]["securitySchemes"]["ApiKey"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}


def test_without_api_key_classify_is_open(client: TestClient) -> None:
    assert client.post("/v1/classify", json=PARAGRAPH).status_code == 200
    assert "security" not in app_of(client).openapi()["paths"]["/v1/classify"]["post"]


def test_no_admin_key_means_no_admin_routes(client: TestClient) -> None:
    assert client.post("/v1/admin/reload", headers={"X-Admin-Key": "anything"}).status_code == 404
    assert not any(path.startswith("/v1/admin") for path in app_of(client).openapi()["paths"])


def test_admin_key_is_checked(make_client: Callable[..., TestClient]) -> None:
    client = make_client(admin_key="adm1n")
    missing = client.post("/v1/admin/reload")
    assert missing.status_code == 401 and missing.json()["detail"][0]["loc"] == ["header", "X-Admin-Key"]
    assert "www-authenticate" not in missing.headers  # no Bearer here: the admin key has its own header
    assert client.post("/v1/admin/reload", headers={"X-Admin-Key": "wrong"}).status_code == 403
    # The API key is not an admin key.
    other = make_client(admin_key="adm1n", api_key="s3cret")
    assert other.post("/v1/admin/reload", headers={"X-Admin-Key": "s3cret"}).status_code == 403


@pytest.fixture
def model_dir(tmp_path: Path, bundle_dir: Path) -> Path:
    """A private copy of the session bundle that a test may replace or damage."""
    target = tmp_path / "model"
    shutil.copytree(bundle_dir, target)
    return target


def test_reload_swaps_in_the_new_model(
    make_client: Callable[..., TestClient], model_dir: Path, bundle: ModelBundle
) -> None:
    client = make_client(preloaded=False, model_uri=model_dir, admin_key="adm1n")
    before = client.get("/v1/model").json()
    retrained = copy.copy(bundle)
    retrained.created_at = "2030-01-01T00:00:00+00:00"  # a different artifact (and sha256) in the same place
    # The operator vouches for the new directory's digest (TOPICFRAME_MODEL_SHA256 of a restarted service).
    app_of(client).state.store.expected_sha256 = retrained.save(model_dir)

    response = client.post("/v1/admin/reload", headers={"X-Admin-Key": "adm1n"})
    assert response.status_code == 200, response.text
    assert response.json()["model"]["name"] == "model"
    after = client.get("/v1/model").json()
    assert (before["created_at"], after["created_at"]) == (bundle.created_at, "2030-01-01T00:00:00+00:00")
    assert client.post("/v1/classify", json=PARAGRAPH).status_code == 200


def test_failed_reload_keeps_the_old_model(make_client: Callable[..., TestClient], model_dir: Path) -> None:
    client = make_client(preloaded=False, model_uri=model_dir, admin_key="adm1n")
    before = client.get("/v1/model").json()
    with (model_dir / BUNDLE_FILE).open("ab") as f:
        f.write(b"tampered")  # the sha256 no longer matches the recorded one

    response = client.post("/v1/admin/reload", headers={"X-Admin-Key": "adm1n"})
    assert response.status_code == 502
    body = response.json()
    assert "sha256" in body["detail"][0]["msg"] and "previous model keeps serving" in body["detail"][0]["msg"]
    assert body["serving"]["name"] == "model"
    assert client.get("/v1/model").json() == before
    assert client.get("/readyz").status_code == 200
    assert client.post("/v1/classify", json=PARAGRAPH).status_code == 200
