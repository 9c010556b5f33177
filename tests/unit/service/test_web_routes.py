"""The web page's routes without a browser: the page and its assets, offline /docs and /redoc, /v1/models
and /v1/compare on a model served from a local directory, and a registry that cannot be reached.

The browser tests (tests/integration/web/) cover the page itself and a real registry.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from service.model_store import ServedModel
from service.routes.pages import STATIC_DIR
from training.registry import ModelRef

from .conftest import ARTICLE, app_of

PAGE_FILES = [p for p in STATIC_DIR.rglob("*") if p.is_file() and "vendor" not in p.parts]


def test_the_page_and_its_modules_are_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert "/static/js/app.js" in assets and "/static/style.css" in assets
    modules = re.findall(r'from "\./([a-z]+\.js)"', (STATIC_DIR / "js" / "app.js").read_text())
    for path in assets + [f"/static/js/{name}" for name in modules]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers.get("etag"), path  # revalidated on reload, not downloaded again
    assert client.get("/static/../main.py").status_code == 404


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_pages_may_load_only_from_the_service(client: TestClient, path: str) -> None:
    # The browser refuses any other origin before requesting it (ReDoc's bundle fetches a logo from a CDN).
    policy = client.get(path).headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'self'" and directives["connect-src"] == "'self'"
    assert directives["img-src"].split() == ["'self'", "data:"] + (["blob:"] if path == "/" else [])


@pytest.mark.parametrize("path", [p.relative_to(STATIC_DIR).as_posix() for p in PAGE_FILES])
def test_the_page_refers_to_nothing_outside_the_service(path: str) -> None:
    # The SVG namespace is a name, not an address the browser fetches.
    text = (STATIC_DIR / path).read_text(encoding="utf-8").replace("http://www.w3.org/2000/svg", "")
    assert not re.search(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), f"{path} refers to another host"


@pytest.mark.parametrize(
    ("path", "assets"),
    [
        ("/docs", ["/static/vendor/swagger-ui/swagger-ui-bundle.js", "/static/vendor/swagger-ui/swagger-ui.css"]),
        ("/redoc", ["/static/vendor/redoc/redoc.standalone.js"]),
    ],
)
def test_api_docs_load_their_assets_from_the_package(client: TestClient, path: str, assets: list[str]) -> None:
    html = client.get(path)
    assert html.status_code == 200
    for asset in assets:
        assert f'"{asset}"' in html.text or f"'{asset}'" in html.text, asset
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 100_000, asset
    # No CDN, no web fonts, no favicon from fastapi.tiangolo.com: nothing the browser must fetch elsewhere.
    assert not re.search(r"(?:src|href)=[\"']https?://", html.text), html.text
    assert client.get("/openapi.json").status_code == 200


def test_vendored_assets_carry_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    for package in ("swagger-ui", "redoc"):
        assert (vendor / package / "LICENSE").is_file()
    readme = (vendor / "README.md").read_text()
    assert "swagger-ui-dist 5.35.0" in readme and "redoc 2.5.4" in readme


def test_models_lists_a_local_model_alone(client: TestClient, served: ServedModel) -> None:
    body = client.get("/v1/models").json()
    assert body["registry"] is False and body["name"] == served.ref.name
    (version,) = body["versions"]
    assert version["version"] is None and version["serving"] is True
    assert version["metrics"]["topic.micro_f1"] == served.bundle.metrics["topic.micro_f1"]
    assert all(not key.startswith("cv.") and key.count(".") == 1 for key in version["metrics"])


def test_compare_on_a_local_model(client: TestClient) -> None:
    response = client.post("/v1/compare", json={"text": ARTICLE, "a": "current", "b": "current"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["differences"] == [] and body["a"]["paragraphs"] == body["b"]["paragraphs"]
    assert len(body["a"]["paragraphs"]) == 3 and body["a"]["summary"]["paragraphs"] == 3
    assert body["text_format"] == "plain"
    feed_item = "".join(f"<p>{p}</p>" for p in ARTICLE.split("\n\n"))  # read as HTML, as /v1/classify reads it
    as_html = client.post("/v1/compare", json={"text": feed_item, "a": "current", "b": "current"}).json()
    assert as_html["text_format"] == "html" and len(as_html["a"]["paragraphs"]) == 3
    # The caller's role, as /v1/classify takes it: the role model is not run on either side.
    as_body = client.post("/v1/compare", json={"text": ARTICLE, "a": "current", "b": "current", "role": "body"})
    assert as_body.status_code == 200, as_body.text
    classified = client.post("/v1/classify", json={"text": ARTICLE, "role": "body", "explain": 0}).json()
    for side in ("a", "b"):
        assert [(p["role"], p["role_score"]) for p in as_body.json()[side]["paragraphs"]] == [("body", None)] * 3
        assert [p["labels"] for p in as_body.json()[side]["paragraphs"]] == [
            p["labels"] for p in classified["paragraphs"]
        ]
    unknown = client.post("/v1/compare", json={"text": ARTICLE, "a": "current", "b": "current", "role": "bodytext"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "role"]

    other = client.post("/v1/compare", json={"text": ARTICLE, "a": "current", "b": "2"})
    assert other.status_code == 422
    (item,) = other.json()["detail"]
    assert item["loc"] == ["body", "b"] and "local model directory" in item["msg"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"text": " \n\n ", "a": "current", "b": "current"}, ["body", "text"]),
        ({"text": "Tariffs rose.", "a": "", "b": "current"}, ["body", "a"]),
        (
            {"text": "Tariffs rose.", "a": "current", "b": "current", "label_sets": ["colour"]},
            ["body", "label_sets", 0],
        ),
        ({"text": "Tariffs rose.", "a": "current"}, ["body", "b"]),
    ],
)
def test_compare_refuses_bad_requests_naming_the_field(client: TestClient, body: dict, loc: list) -> None:
    response = client.post("/v1/compare", json=body)
    assert response.status_code == 422
    assert [item["loc"] for item in response.json()["detail"]] == [loc]


def test_compare_applies_the_paragraph_limit(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_paragraphs=2)
    response = client.post("/v1/compare", json={"text": ARTICLE, "a": "current", "b": "current"})
    assert response.status_code == 422 and response.json()["detail"][0]["limit"] == "TOPICFRAME_MAX_PARAGRAPHS"


def test_compare_needs_the_api_key_when_one_is_set(make_client: Callable[..., TestClient]) -> None:
    client = make_client(api_key="secret")
    body = {"text": ARTICLE, "a": "current", "b": "current"}
    assert client.post("/v1/compare", json=body).status_code == 401
    assert client.post("/v1/compare", json=body, headers={"X-API-Key": "secret"}).status_code == 200


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_registry_is_a_502_naming_it(
    make_client: Callable[..., TestClient], served: ServedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    client = make_client(registry_max_retries=0, registry_timeout_seconds=2)
    ref = ModelRef(uri="models:/web-test@champion", name="web-test", version="1", alias="champion")
    app_of(client).state.store.current = ServedModel(served.bundle, ref, served.loaded_at)

    listing = client.get("/v1/models")
    assert listing.status_code == 502
    assert registry in listing.json()["detail"][0]["msg"]
    compared = client.post("/v1/compare", json={"text": ARTICLE, "a": "current", "b": "champion"})
    assert compared.status_code == 502
    (item,) = compared.json()["detail"]
    assert item["loc"] == ["body", "b"] and registry in item["msg"]


def test_every_openapi_operation_id_is_unique(client: TestClient) -> None:
    """GET and HEAD of /healthz and /readyz shared one operationId: client generators refuse or rename them."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # FastAPI warns "Duplicate Operation ID" while it builds the document
        paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    ids = [operation["operationId"] for item in paths.values() for operation in item.values()]
    assert len(ids) == len(set(ids)) and {"healthz", "healthz_head", "readyz", "readyz_head"} <= set(ids)
    assert client.head("/healthz").status_code == 200 and client.get("/healthz").json() == {"status": "ok"}
