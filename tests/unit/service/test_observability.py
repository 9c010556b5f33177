"""/metrics content and the one JSON log line per request, also for requests that never got their body."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from service.server import TIMED_OUT

from .conftest import app_of, json_lines


def samples(client: TestClient) -> dict[tuple[str, frozenset], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_count_requests_latency_paragraphs_and_model_version(client: TestClient, bundle_dir: Path) -> None:
    client.post("/v1/classify", json={"paragraphs": ["trade talks resumed", "a second one"]})
    client.post("/v1/classify", json={"text": "one\n\ntwo\n\nthree"})
    client.post("/v1/classify", json={})
    client.get("/no/such/page")
    for page in ("/openapi.json", "/static/favicon.svg", "/static/style.css"):
        assert client.get(page).status_code == 200
    too_large = b'{"text": "' + b"a" * 3_000_000 + b'"}'  # refused before routing, by the body limit
    refused = client.post("/v1/classify", content=too_large, headers={"content-type": "application/json"})
    assert refused.status_code == 413
    found = samples(client)

    def requests(route: str, status: str, method: str = "POST") -> float:
        key = frozenset({"method": method, "route": route, "status": status}.items())
        return found.get(("topicframe_http_requests_total", key), 0.0)

    assert requests("/v1/classify", "200") == 2
    assert requests("/v1/classify", "422") == 1
    assert requests("unmatched", "404", "GET") == 1  # raw paths never become label values
    # The app's own other routes by their path, the page's files by their mount (they were "unmatched").
    assert requests("/openapi.json", "200", "GET") == 1 and requests("/static", "200", "GET") == 2
    assert requests("/v1/classify", "413") == 1  # counted under its route (it was "unmatched")
    latency_count = found[
        (
            "topicframe_http_request_duration_seconds_count",
            frozenset({"method": "POST", "route": "/v1/classify"}.items()),
        )
    ]
    assert latency_count == 4
    assert found[("topicframe_paragraphs_classified_total", frozenset())] == 5
    model_info = [(dict(labels), value) for (name, labels), value in found.items() if name == "topicframe_model_info"]
    # A local directory has no registry version; the integration test checks a real version label.
    digest = client.app.state.store.current.ref.bundle_sha256  # type: ignore[attr-defined]
    assert len(digest) == 64
    assert model_info == [
        ({"name": bundle_dir.name, "version": "", "alias": "", "run_id": "", "bundle_sha256": digest}, 1.0)
    ]


def test_one_json_log_line_per_request_without_text(make_client: Callable[..., TestClient], capsys) -> None:
    client = make_client()  # created under capsys, so its log handler writes where capsys reads
    capsys.readouterr()
    client.post(
        "/v1/classify",
        json={"paragraphs": ["secret source says talks resumed", "b"]},
        headers={"X-Request-ID": "req-7"},
    )
    out = capsys.readouterr().out
    lines = [line for line in json_lines(out) if line.get("event") == "request"]
    assert len(lines) == 1
    line = lines[0]
    assert {k: line[k] for k in ("method", "path", "status", "request_id", "n_paragraphs")} == {
        "method": "POST",
        "path": "/v1/classify",
        "status": 200,
        "request_id": "req-7",
        "n_paragraphs": 2,
    }
    assert line["duration_ms"] > 0 and line["level"] == "info"
    assert "secret source" not in out


def test_debug_logging_includes_the_text(make_client: Callable[..., TestClient], capsys) -> None:
    client = make_client(log_level="DEBUG")
    capsys.readouterr()
    client.post("/v1/classify", json={"paragraphs": ["secret source says talks resumed", "<p>talks <em>held</em></p>"]})
    lines = [line for line in json_lines(capsys.readouterr().out) if line.get("event") == "request"]
    assert lines[0]["paragraphs"] == ["secret source says talks resumed", "talks held"]  # as classified


def http_scope(path: str = "/v1/classify", length: int = 1000) -> dict[str, Any]:
    """The scope uvicorn passes for a POST whose body is still to come."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(length).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def run_app(client: TestClient, scope: dict[str, Any], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Call the app as the server would, the client sending `messages`; returns what the app sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app_of(client)(scope, receive, send))
    return sent


@pytest.mark.parametrize(
    ("timed_out", "status", "outcome", "model_loaded"),
    [
        (False, 499, "client_disconnected", True),
        (True, 408, "body_timeout", True),
        # Without a model the app answers 503 (to nobody) instead of raising: it was logged and counted as a 503.
        (True, 408, "body_timeout", False),
    ],
)
def test_a_client_that_leaves_mid_body_is_no_server_error(
    make_client: Callable[..., TestClient],
    capsys,
    tmp_path: Path,
    timed_out: bool,
    status: int,
    outcome: str,
    model_loaded: bool,
) -> None:
    client = make_client() if model_loaded else make_client(preloaded=False, model_uri=tmp_path / "no-model-here")
    capsys.readouterr()
    scope = http_scope()
    if timed_out:
        scope[TIMED_OUT] = True  # what service.server's protocol sets when it gives up on the body
    partial = {"type": "http.request", "body": b'{"paragraphs": ["Tariff', "more_body": True}
    sent = run_app(client, scope, [partial, {"type": "http.disconnect"}])
    # Nobody left to answer (the server's 408 went out from the protocol); without a model the app still sends its
    # 503, which the real server's protocol drops once it has given up on the body.
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == ([] if model_loaded else [503])

    lines = json_lines(capsys.readouterr().out)
    assert [line["level"] for line in lines] == ["info"]  # one line, no "unhandled error", no traceback
    assert lines[0]["status"] == status and lines[0]["outcome"] == outcome and "exception" not in lines[0]
    counted = {
        dict(labels)["status"]: value
        for (name, labels), value in samples(client).items()
        if name == "topicframe_http_requests_total" and dict(labels)["route"] == "/v1/classify"
    }
    assert counted == {str(status): 1.0}  # not a 5xx


def test_a_request_cancelled_by_the_shutdown_is_answered_503(make_client: Callable[..., TestClient], capsys) -> None:
    client = make_client()
    capsys.readouterr()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(60)  # a body that never comes
        raise AssertionError("not reached")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def main() -> None:
        task = asyncio.ensure_future(app_of(client)(http_scope(), receive, send))
        await asyncio.sleep(0.05)
        task.cancel()  # what uvicorn does when the graceful shutdown's time is up
        await task  # ends normally: nothing for uvicorn to log as an application error

    asyncio.run(main())
    assert sent[0]["status"] == 503 and (b"connection", b"close") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["detail"][0]["type"] == "shutting_down"
    lines = json_lines(capsys.readouterr().out)
    assert [(line["status"], line["outcome"]) for line in lines] == [(503, "cancelled_at_shutdown")]
