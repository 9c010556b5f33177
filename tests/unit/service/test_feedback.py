"""POST/GET /v1/feedback on the app with the session model and a real SQLite feedback store in tmp_path.

PostgreSQL, concurrent duplicates and the real server under load are in
tests/integration/test_feedback_postgres.py.
"""

from __future__ import annotations

import gzip
import json
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from training.feedback.store import open_store

from .conftest import app_of

ADMIN = {"X-Admin-Key": "admin-secret"}
PARAGRAPH = "Customs officers detained three shipments of solar panels under the forced labour law."
CORRECTION: dict[str, Any] = {
    "text": PARAGRAPH,
    "labels": {"topic": ["human_rights", "trade"], "frame": ["responsibility"]},
    "role": "body",
    "model": {"name": "topicframe", "version": "3"},
    "request_id": "req-1",
    "article_id": "A-17",
    "note": "missed the human rights angle",
}


@pytest.fixture
def feedback_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'feedback.db'}"


@pytest.fixture
def app_client(make_client: Callable[..., TestClient], feedback_url: str) -> TestClient:
    return make_client(feedback_url=feedback_url, admin_key="admin-secret")


def errors(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    return list(response.json()["detail"])


def test_a_correction_is_stored_once_and_listed_with_every_field(app_client: TestClient, feedback_url: str) -> None:
    first = app_client.post("/v1/feedback", json=CORRECTION)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["duplicate"] is False and isinstance(body["id"], int)
    again = app_client.post(
        "/v1/feedback", json={**CORRECTION, "labels": {"frame": ["responsibility"], "topic": ["trade", "human_rights"]}}
    )
    assert again.status_code == 201
    assert again.json() == {**body, "duplicate": True}  # same labels in another order: the same correction
    # The role left out is the default, body: the same correction.
    without_role = {key: value for key, value in CORRECTION.items() if key != "role"}
    assert app_client.post("/v1/feedback", json=without_role).json() == {**body, "duplicate": True}
    other = app_client.post("/v1/feedback", json={**CORRECTION, "note": "second look"})
    assert other.json()["id"] != body["id"] and other.json()["duplicate"] is False

    items = app_client.get("/v1/feedback", headers=ADMIN).json()["items"]
    assert [item["id"] for item in items] == [body["id"], other.json()["id"]]
    assert items[0] == {
        "id": body["id"],
        "created_at": body["created_at"],
        "text": PARAGRAPH,
        "labels": {"topic": ["trade", "human_rights"], "frame": ["responsibility"]},  # codebook order
        "role": "body",
        "model": {"name": "topicframe", "version": "3"},
        "request_id": "req-1",
        "article_id": "A-17",
        "note": "missed the human rights angle",
    }
    # Durable: the rows are in the database file, read by a store of its own.
    assert open_store(feedback_url).count() == 2
    # The same text in another Unicode normal form (é as one character, then as e + U+0301): the same correction.
    accented = {**CORRECTION, "text": "Côte d'Ivoire's café exporters face the new tariff."}
    composed = app_client.post("/v1/feedback", json=accented).json()
    decomposed = {**accented, "text": unicodedata.normalize("NFD", accented["text"])}
    assert decomposed["text"] != accented["text"] and composed["duplicate"] is False
    assert app_client.post("/v1/feedback", json=decomposed).json() == {**composed, "duplicate": True}


def test_listing_filters_by_time_and_limits(app_client: TestClient) -> None:
    ids = [app_client.post("/v1/feedback", json={**CORRECTION, "note": f"n{i}"}).json()["id"] for i in range(3)]
    items = app_client.get("/v1/feedback", headers=ADMIN).json()["items"]
    later = app_client.get("/v1/feedback", params={"since": items[1]["created_at"]}, headers=ADMIN).json()["items"]
    assert [item["id"] for item in later] == ids[1:]
    assert [i["id"] for i in app_client.get("/v1/feedback?limit=2", headers=ADMIN).json()["items"]] == ids[:2]
    page = app_client.get("/v1/feedback", params={"after_id": ids[0], "limit": 1}, headers=ADMIN).json()["items"]
    assert [item["id"] for item in page] == ids[1:2]
    assert app_client.get("/v1/feedback", params={"since": "2999-01-01T00:00:00Z"}, headers=ADMIN).json() == {
        "items": []
    }
    bad = app_client.get("/v1/feedback", params={"limit": 0}, headers=ADMIN)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]
    assert app_client.get("/v1/feedback", params={"since": "last week"}, headers=ADMIN).status_code == 422
    # Bounds the database or Python cannot hold are the caller's mistake (422 at the parameter), not a 500.
    for params, loc in (
        ({"since": "9999-12-31T23:59:59-05:00"}, ["query", "since"]),
        ({"since": "0001-01-01T00:00:00+00:01"}, ["query", "since"]),
        ({"after_id": 2**63}, ["query", "after_id"]),
    ):
        bad = app_client.get("/v1/feedback", params=params, headers=ADMIN)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == loc, bad.text
    assert app_client.get("/v1/feedback", params={"after_id": 2**63 - 1}, headers=ADMIN).json() == {"items": []}


@pytest.mark.parametrize(
    ("change", "loc", "says"),
    [
        ({"labels": {"topics": ["trade"], "frame": []}}, ["body", "labels", "topics"], "closest: 'topic'"),
        ({"labels": {"topic": ["trde"], "frame": []}}, ["body", "labels", "topic", 0], "closest: 'trade'"),
        ({"labels": {"topic": ["trade"]}}, ["body", "labels"], "missing label set 'frame'"),
        ({"labels": {"topic": [], "frame": [], "role": ["body"]}}, ["body", "labels", "role"], "'role' field"),
        ({"role": "captoin"}, ["body", "role"], "closest: 'caption'"),
        ({"role": "caption"}, ["body", "labels", "topic"], "a 'caption' paragraph carries no topic labels"),
    ],
)
def test_labels_and_role_are_checked_against_the_served_codebooks(
    app_client: TestClient, change: dict[str, Any], loc: list[Any], says: str
) -> None:
    detail = errors(app_client.post("/v1/feedback", json={**CORRECTION, **change}))
    assert any(item["loc"] == loc and says in item["msg"] for item in detail), detail
    if loc == ["body", "role"]:  # an unknown role is the one problem: its labels are not judged against it
        assert len(detail) == 1, detail
    assert app_client.get("/v1/feedback", headers=ADMIN).json()["items"] == []  # nothing half-stored


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain; charset=utf-8"])
def test_json_without_a_json_content_type_is_read_as_json(app_client: TestClient, content_type: str | None) -> None:
    """`curl -d` sends a form content type: FastAPI said "Input should be a valid dictionary", /v1/classify did not."""
    headers = {"content-type": content_type} if content_type else {}
    response = app_client.post("/v1/feedback", content=json.dumps(CORRECTION).encode(), headers=headers)
    assert response.status_code == 201, response.text


def test_every_label_problem_is_reported_at_once(app_client: TestClient) -> None:
    detail = errors(app_client.post("/v1/feedback", json={**CORRECTION, "labels": {"topik": [], "frame": ["war"]}}))
    assert {tuple(item["loc"]) for item in detail} == {
        ("body", "labels", "topik"),
        ("body", "labels", "frame", 0),
        ("body", "labels"),  # topic is missing
    }


def test_a_paragraph_sent_with_its_markup_is_stored_as_its_text(app_client: TestClient) -> None:
    """As classify and training read it: `<p>Talks <b>resumed</b></p>` and `Talks resumed` are one paragraph."""
    html = {**CORRECTION, "text": f"<p>{PARAGRAPH.replace('solar', '<b>solar</b>')}</p>"}
    marked = app_client.post("/v1/feedback", json=html)
    assert marked.status_code == 201, marked.text
    plain = app_client.post("/v1/feedback", json=CORRECTION)
    assert plain.json() == {**marked.json(), "duplicate": True}
    (item,) = app_client.get("/v1/feedback", headers=ADMIN).json()["items"]
    assert item["text"] == PARAGRAPH
    (empty,) = errors(app_client.post("/v1/feedback", json={**CORRECTION, "text": "<p><img src='a.jpg'></p>"}))
    assert (empty["loc"], empty["type"]) == (["body", "text"], "no_text")


def test_huge_label_lists_are_refused_at_once_and_problems_are_capped(app_client: TestClient) -> None:
    """60,000 unknown labels took 6 s on the event loop (a closest-name lookup each) and a 15 MB answer."""
    started = time.monotonic()
    huge = app_client.post("/v1/feedback", json={**CORRECTION, "labels": {"topic": [f"x{i}" for i in range(60_000)]}})
    assert time.monotonic() - started < 2
    (item,) = errors(huge)
    assert item["loc"] == ["body", "labels", "topic"] and item["type"] == "too_long"
    many = app_client.post("/v1/feedback", json={**CORRECTION, "labels": {"topic": [f"x{i}" for i in range(50)]}})
    detail = errors(many)
    assert len(detail) == 21 and detail[-1] == {
        "loc": ["body"], "msg": "and 31 more problem(s) like these, not listed", "type": "invalid_label"
    }  # fmt: skip
    assert len(many.content) < 20_000


def test_a_caption_correction_needs_no_content_labels(app_client: TestClient) -> None:
    response = app_client.post(
        "/v1/feedback", json={"text": "Photograph: Kim Lee for the Daily Ledger", "labels": {}, "role": "caption"}
    )
    assert response.status_code == 201, response.text
    item = app_client.get("/v1/feedback", headers=ADMIN).json()["items"][0]
    assert item["labels"] == {"topic": [], "frame": []} and item["role"] == "caption"
    # One paragraph may hold single newlines, as a classified paragraph can: only a blank line splits one.
    byline = {"text": "By Jane Smith, Staff Reporter\njane.smith@example-ledger.com", "labels": {}, "role": "byline"}
    assert app_client.post("/v1/feedback", json=byline).status_code == 201
    # Its labels may be left out as well ("send [] or leave the set out", the message for a caption's topics, said).
    footer = {"text": "(c) 2026 The Daily Ledger. All rights reserved.", "role": "footer"}
    assert app_client.post("/v1/feedback", json=footer).status_code == 201


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({**CORRECTION, "text": ""}, ["body", "text"], "string_too_short"),
        ({**CORRECTION, "text": " \n\t "}, ["body", "text"], "string_pattern_mismatch"),
        ({**CORRECTION, "text": "First paragraph.\n\nSecond paragraph."}, ["body", "text"], "too_many_paragraphs"),
        ({**CORRECTION, "labels": {"topic": "trade", "frame": []}}, ["body", "labels", "topic"], "list_type"),
        ({**CORRECTION, "colour": "red"}, ["body", "colour"], "extra_forbidden"),
        # A body paragraph's sets are needed (a byline's are not: test_a_caption_correction_needs_no_content_labels)
        ({k: v for k, v in CORRECTION.items() if k != "labels"}, ["body", "labels"], "invalid_label"),
        # NUL cannot be stored in PostgreSQL's text (it was a 500 there): refused in every text field.
        ({**CORRECTION, "text": "Tariffs\x00 rose."}, ["body", "text"], "value_error"),
        ({**CORRECTION, "note": "a\x00b"}, ["body", "note"], "value_error"),
        ({**CORRECTION, "labels": {"topic\x00": []}}, ["body", "labels", "topic\x00", "[key]"], "value_error"),
        ({**CORRECTION, "model": {"name": "tf", "version": "3\x00"}}, ["body", "model", "version"], "value_error"),
        # A limit is said in characters (it read "at most 200 items after validation", as if of a list).
        ({**CORRECTION, "request_id": "r" * 201}, ["body", "request_id"], "string_too_long"),
        ({**CORRECTION, "note": "n" * 2001}, ["body", "note"], "string_too_long"),
        ({**CORRECTION, "model": {"name": "tf", "version": "9" * 65}}, ["body", "model", "version"], "string_too_long"),
    ],
)
def test_bad_bodies_are_422_naming_the_field(app_client: TestClient, body: Any, loc: list[Any], kind: str) -> None:
    detail = errors(app_client.post("/v1/feedback", json=body))
    assert any(item["loc"] == loc and item["type"] == kind for item in detail), detail


def test_text_over_the_paragraph_limit_names_the_setting(
    make_client: Callable[..., TestClient], feedback_url: str
) -> None:
    client = make_client(feedback_url=feedback_url, max_paragraph_chars=40)
    detail = errors(client.post("/v1/feedback", json=CORRECTION))
    assert detail[0]["loc"] == ["body", "text"] and detail[0]["limit"] == "TOPICFRAME_MAX_PARAGRAPH_CHARS"


def test_a_body_that_is_not_json_is_a_4xx_naming_the_body(app_client: TestClient) -> None:
    response = app_client.post("/v1/feedback", content=b"text=hello", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid" and response.json()["detail"][0]["loc"][0] == "body"
    plain = app_client.post("/v1/feedback", content=b"hello", headers={"content-type": "text/plain"})
    assert 400 <= plain.status_code < 500 and plain.json()["detail"][0]["loc"][0] == "body"


def test_the_feedback_key_guards_posting_when_set(make_client: Callable[..., TestClient], feedback_url: str) -> None:
    client = make_client(feedback_url=feedback_url, feedback_key="fb-secret", api_key="classify-secret")
    assert client.post("/v1/feedback", json=CORRECTION).status_code == 401
    assert client.post("/v1/feedback", json=CORRECTION, headers={"X-API-Key": "classify-secret"}).status_code == 403
    assert client.post("/v1/feedback", json=CORRECTION, headers={"X-API-Key": "fb-secret"}).status_code == 201
    # Declared in the schema then, so Swagger's "Try it out" can send it.
    paths = client.get("/openapi.json").json()["paths"]
    assert paths["/v1/feedback"]["post"]["security"] == [{"FeedbackKey": []}]


def test_feedback_is_open_without_a_feedback_key_even_with_an_api_key(
    make_client: Callable[..., TestClient], feedback_url: str
) -> None:
    client = make_client(feedback_url=feedback_url, api_key="classify-secret")
    assert client.post("/v1/classify", json={"text": PARAGRAPH}).status_code == 401
    assert client.post("/v1/feedback", json=CORRECTION).status_code == 201
    assert "security" not in client.get("/openapi.json").json()["paths"]["/v1/feedback"]["post"]


def test_listing_needs_the_admin_key_and_does_not_exist_without_one(
    make_client: Callable[..., TestClient], app_client: TestClient, feedback_url: str
) -> None:
    assert app_client.get("/v1/feedback").status_code == 401
    assert app_client.get("/v1/feedback", headers={"X-Admin-Key": "wrong"}).status_code == 403
    without_admin = make_client(feedback_url=feedback_url)
    assert without_admin.get("/v1/feedback", headers=ADMIN).status_code == 404
    # Nor is it documented there (the schema listed a route that could only answer 404).
    assert "get" not in app_of(without_admin).openapi()["paths"]["/v1/feedback"]
    assert "get" in app_of(app_client).openapi()["paths"]["/v1/feedback"]


def test_an_unreachable_store_is_a_503_naming_it_and_classify_keeps_working(
    make_client: Callable[..., TestClient],
) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    client = make_client(feedback_url="postgresql+psycopg://topicframe:pw-not-shown@127.0.0.1:9/feedback")
    response = client.post("/v1/feedback", json=CORRECTION)
    assert response.status_code == 503
    message = response.json()["detail"][0]["msg"]
    assert "feedback store is unavailable" in message and "127.0.0.1:9" in message and "pw-not-shown" not in message
    assert client.post("/v1/classify", json={"text": PARAGRAPH}).status_code == 200


def test_a_bad_store_url_is_a_503_saying_what_a_url_looks_like(
    make_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    response = make_client(feedback_url="not a url").post("/v1/feedback", json=CORRECTION)
    assert response.status_code == 503 and "postgresql+psycopg://" in response.json()["detail"][0]["msg"]
    # A mistyped URL (':' missing, or a port that is not a number) was quoted whole, password and all, in the log
    # and in this 503; the port's ValueError was a bare "invalid literal for int()".
    for typo in ("postgresql+psycopg//feedback:pw-not-shown@db/feedback", "postgresql+psycopg://u:pw-not-shown@db:x/f"):
        response = make_client(feedback_url=typo).post("/v1/feedback", json=CORRECTION)
        said = response.json()["detail"][0]["msg"]
        assert response.status_code == 503 and "***@db" in said and "is not a database URL" in said
        assert "pw-not-shown" not in said and "pw-not-shown" not in caplog.text


def test_without_a_model_feedback_cannot_be_checked_503(
    make_client: Callable[..., TestClient], feedback_url: str, tmp_path: Path
) -> None:
    client = make_client(preloaded=False, model_uri=tmp_path / "no-model-here", feedback_url=feedback_url)
    response = client.post("/v1/feedback", json=CORRECTION)
    assert response.status_code == 503 and response.json()["detail"][0]["type"] == "model_not_ready"


def test_the_default_store_is_beside_the_mlflow_store(
    make_client: Callable[..., TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'tracking' / 'mlflow.db'}")
    client = make_client(feedback_url=None)
    assert not (tmp_path / "tracking" / "feedback.db").exists()  # created by the first correction, not at start-up
    assert client.post("/v1/feedback", json=CORRECTION).status_code == 201
    assert (tmp_path / "tracking" / "feedback.db").is_file()


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/feedback", "/v1/compare"])
@pytest.mark.parametrize(("raw", "byte"), [(b'{"text": "trade \xff talks"}', 16), (b'\xff\xfe{"text": 1}', 0)])
def test_a_body_that_is_not_utf8_is_the_same_422_on_every_route(
    app_client: TestClient, path: str, raw: bytes, byte: int
) -> None:
    """FastAPI's own routes answered 400 "There was an error parsing the body" (or read a UTF-16 BOM as UTF-16)
    where /v1/classify answered 422."""
    response = app_client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.headers["x-request-id"]
    assert response.json()["detail"] == [
        {"loc": ["body"], "msg": f"the body is not valid UTF-8 (byte {byte})", "type": "json_invalid"}
    ]


@pytest.mark.parametrize(
    ("path", "raw", "loc"),
    [
        ("/v1/classify", '{"text": "Tariffs rose.", "text": "Troops moved."}', ["text"]),
        (
            "/v1/classify",
            '{"paragraphs": [{"text": "a"}, {"text": "b", "role": "x", "role": "y"}]}',
            ["paragraphs", 1, "role"],
        ),
        (
            "/v1/feedback",
            '{"text": "Tariffs rose.", "labels": {"topic": ["trade"], "topic": ["economy"]}}',
            ["labels", "topic"],
        ),
        ("/v1/compare", '{"text": "Tariffs rose.", "a": "champion", "a": "1", "b": "1"}', ["a"]),
    ],
)
def test_a_json_object_naming_a_key_twice_is_a_422_with_its_path(
    app_client: TestClient, path: str, raw: str, loc: list[str | int]
) -> None:
    """The last of the two values was read and the other dropped without a word (a correction's topics, say)."""
    response = app_client.post(path, content=raw.encode(), headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.headers["x-request-id"]
    [item] = response.json()["detail"]
    assert item["loc"] == ["body", *loc] and item["type"] == "json_duplicate_key"
    assert f"the key '{loc[-1]}' appears more than once" in item["msg"]


def test_only_a_key_repeated_in_one_object_is_a_repeat() -> None:
    from service.encoding import duplicate_key

    assert duplicate_key('{"a": {"x": 1}, "b": [{"x": 2}, {"x": 3}]}') is None  # the same key in two objects
    assert duplicate_key('{"a": {"x": 1}, "b": [{"x": 2}, {"y": 3, "y": 4}]}') == ["b", 1, "y"]
    assert duplicate_key('{"a": 1, "a": 1}') == ["a"]  # the same value twice is still a repeat


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/feedback", "/v1/compare"])
@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b'{"text": "Tariffs rose.",', "Expecting property name enclosed in double quotes (line 1, column 26)"),
        (b"[" * 100_000, "nested too deeply to read"),  # feedback and compare answered 400 "error parsing the body"
        (b'\xef\xbb\xbf{"text": "Tariffs rose."}', "Unexpected UTF-8 BOM"),  # it read "expected value at line 1"
    ],
)
def test_a_body_that_is_not_json_is_the_same_422_on_every_route(
    app_client: TestClient, path: str, raw: bytes, said: str
) -> None:
    response = app_client.post(path, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    [item] = response.json()["detail"]
    assert item["loc"] == ["body"] and item["type"] == "json_invalid"
    assert item["msg"].startswith("the body is not valid JSON: ") and said in item["msg"]


@pytest.mark.parametrize("path", ["/v1/classify", "/v1/feedback", "/v1/compare"])
def test_a_compressed_body_is_a_415_naming_its_encoding(app_client: TestClient, path: str) -> None:
    """A gzip body was read as JSON and answered 422 "not valid UTF-8 (byte 1)", blaming the JSON."""
    raw = gzip.compress(b'{"text": "Tariffs on steel rose."}')
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    response = app_client.post(path, content=raw, headers=headers)
    assert response.status_code == 415 and response.headers["x-request-id"]
    assert "415" in app_client.get("/openapi.json").json()["paths"][path]["post"]["responses"]  # documented
    assert response.json()["detail"][0]["loc"] == ["header", "content-encoding"]
    assert "Content-Encoding: gzip" in response.json()["detail"][0]["msg"]
    plain = app_client.post(
        "/v1/classify", json={"text": "Tariffs on steel rose."}, headers={"content-encoding": "identity"}
    )
    assert plain.status_code == 200
