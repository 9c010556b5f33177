"""/metrics content and the one JSON log line per request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from .conftest import json_lines


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
    found = samples(client)

    def requests(route: str, status: str, method: str = "POST") -> float:
        key = frozenset({"method": method, "route": route, "status": status}.items())
        return found.get(("topicframe_http_requests_total", key), 0.0)

    assert requests("/v1/classify", "200") == 2
    assert requests("/v1/classify", "422") == 1
    assert requests("unmatched", "404", "GET") == 1  # raw paths never become label values
    latency_count = found[
        (
            "topicframe_http_request_duration_seconds_count",
            frozenset({"method": "POST", "route": "/v1/classify"}.items()),
        )
    ]
    assert latency_count == 3
    assert found[("topicframe_paragraphs_classified_total", frozenset())] == 5
    model_info = [(dict(labels), value) for (name, labels), value in found.items() if name == "topicframe_model_info"]
    # A local directory has no registry version; the integration test checks a real version label.
    assert model_info == [({"name": bundle_dir.name, "version": "", "alias": "", "run_id": ""}, 1.0)]


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
    client.post("/v1/classify", json={"paragraphs": ["secret source says talks resumed"]})
    lines = [line for line in json_lines(capsys.readouterr().out) if line.get("event") == "request"]
    assert lines[0]["paragraphs"] == ["secret source says talks resumed"]
