"""Bad input: every refusal is a JSON 4xx naming the field path (and the limit, for limits)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    return detail[0]


@pytest.mark.parametrize(
    ("body", "loc", "type_"),
    [
        ({"paragraphs": ["a"], "text": "b"}, ["body"], "value_error"),  # both
        ({}, ["body"], "value_error"),  # neither
        ({"explain": 2}, ["body"], "value_error"),
        ({"paragraphs": []}, ["body", "paragraphs"], "too_short"),
        ({"paragraphs": ["fine", ""]}, ["body", "paragraphs", 1], "string_too_short"),
        ({"paragraphs": ["fine", "fine", " \n\t "]}, ["body", "paragraphs", 2], "string_pattern_mismatch"),
        ({"text": "  \n\n  "}, ["body", "text"], "string_pattern_mismatch"),
        ({"paragraphs": "one string"}, ["body", "paragraphs"], "list_type"),
        ({"paragraphs": ["a", 7]}, ["body", "paragraphs", 1], "string_type"),
        ({"paragraphs": None, "text": "x"}, ["body", "paragraphs"], "value_error"),  # null is not "absent"
        ({"paragraphs": ["a"], "explain": "3"}, ["body", "explain"], "int_type"),
        ({"paragraphs": ["a"], "explain": 1.5}, ["body", "explain"], "int_type"),
        ({"paragraphs": ["a"], "explain": -1}, ["body", "explain"], "greater_than_equal"),
        ({"paragraphs": ["a"], "include_scores": "yes"}, ["body", "include_scores"], "bool_type"),
        ({"paragraphs": ["a"], "include_scores": 1}, ["body", "include_scores"], "bool_type"),
        ({"paragraphs": ["a"], "label_sets": "topic"}, ["body", "label_sets"], "list_type"),
        ({"paragraphs": ["a"], "label_sets": []}, ["body", "label_sets"], "too_short"),
        ({"paragraphs": ["a"], "labelsets": ["topic"]}, ["body", "labelsets"], "extra_forbidden"),
    ],
)
def test_invalid_requests_are_422_with_the_field_path(client: TestClient, body: Any, loc: list, type_: str) -> None:
    error = error_of(client.post("/v1/classify", json=body), 422)
    assert error["loc"] == loc
    assert error["type"] == type_


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"text": "\x1c\x1d\x1e\x1f"}, ["body", "text"]),  # Python strips these as white space: 0 paragraphs
        ({"text": "\x1c\n\n\x1f\x00\x7f"}, ["body", "text"]),
        ({"paragraphs": ["Tariffs rose.", "\x1c\x1f"]}, ["body", "paragraphs", 1]),
        ({"paragraphs": ["\u200b"]}, ["body", "paragraphs", 0]),  # a zero-width space
        ({"paragraphs": ["Tariffs rose.", "ok", "* * * -- !!!"]}, ["body", "paragraphs", 2]),
        ({"paragraphs": ["\u0301\u00a0"]}, ["body", "paragraphs", 0]),  # a lone combining accent, no-break space
    ],
)
def test_text_without_a_letter_or_digit_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], loc: list
) -> None:
    error = error_of(client.post("/v1/classify", json=body), 422)
    assert (error["loc"], error["type"]) == (loc, "no_text")
    assert "letter or a digit" in error["msg"]


@pytest.mark.parametrize("text", ["東京の関税", "١٢٣", "Ωμέγα", "7", "\x1cTariffs\x1f rose"])
def test_any_script_letter_or_digit_is_text(client: TestClient, text: str) -> None:
    assert client.post("/v1/classify", json={"paragraphs": [text]}).status_code == 200
    assert client.post("/v1/classify", json={"text": text}).status_code == 200


@pytest.mark.parametrize("raw", [b'{"paragraphs": ["a"]', b"", b"not json", b'{"paragraphs": ["a"],}'])
def test_malformed_json_is_422(client: TestClient, raw: bytes) -> None:
    error = error_of(client.post("/v1/classify", content=raw, headers={"content-type": "application/json"}), 422)
    assert error["loc"] == ["body"]
    assert error["type"] == "json_invalid"


@pytest.mark.parametrize("route", ["/v1/classify", "/v1/compare", "/v1/feedback"])
def test_an_empty_body_or_a_lone_surrogate_is_said_the_same_on_every_route(client: TestClient, route: str) -> None:
    """An empty body was "Invalid JSON: EOF while parsing" on classify and "Field required" on the others; a lone
    surrogate escape was "unexpected end of hex escape" on classify and `string_unicode` at the field elsewhere."""
    json_headers = {"content-type": "application/json"}
    empty = error_of(client.post(route, content=b"", headers=json_headers), 422)
    assert empty == {"loc": ["body"], "msg": "the body is empty: send a JSON object", "type": "json_invalid"}
    raw = b'{"text": "Tariffs rose", "labels": {"topic": ["trade", "x\\ud800y"]}}'
    lone = error_of(client.post(route, content=raw, headers=json_headers), 422)
    assert lone["loc"] == ["body", "labels", "topic", 1] and lone["type"] == "string_unicode"
    assert "lone UTF-16 surrogate" in lone["msg"]
    pair = b'{"text": "Tariffs rose \\ud83d\\ude00", "paragraphs": 3}'  # a pair is one character: read on
    assert all(e["type"] != "string_unicode" for e in client.post(route, content=pair).json()["detail"])


@pytest.mark.parametrize("body", [[], ["a"], "text", 3, None])
def test_a_body_that_is_not_an_object_is_422(client: TestClient, body: Any) -> None:
    assert error_of(client.post("/v1/classify", json=body), 422)["loc"] == ["body"]


def test_unknown_label_set_lists_the_valid_ones(client: TestClient) -> None:
    error = error_of(client.post("/v1/classify", json={"paragraphs": ["a"], "label_sets": ["topic", "tone"]}), 422)
    assert error["loc"] == ["body", "label_sets", 1]
    assert "'tone'" in error["msg"] and "topic" in error["msg"] and "frame" in error["msg"]


@pytest.fixture
def strict_client(make_client: Callable[..., TestClient]) -> Iterator[TestClient]:
    yield make_client(max_paragraphs=3, max_paragraph_chars=40, max_explain=4, max_body_bytes=2000)


def test_explain_over_the_limit_names_it(strict_client: TestClient) -> None:
    assert strict_client.post("/v1/classify", json={"paragraphs": ["a b"], "explain": 4}).status_code == 200
    error = error_of(strict_client.post("/v1/classify", json={"paragraphs": ["a b"], "explain": 5}), 422)
    assert error["loc"] == ["body", "explain"]
    assert error["limit"] == "TOPICFRAME_MAX_EXPLAIN"


def test_too_many_paragraphs_names_the_limit(strict_client: TestClient) -> None:
    assert strict_client.post("/v1/classify", json={"paragraphs": ["a"] * 3}).status_code == 200
    error = error_of(strict_client.post("/v1/classify", json={"paragraphs": ["a"] * 4}), 422)
    assert (error["loc"], error["limit"]) == (["body", "paragraphs"], "TOPICFRAME_MAX_PARAGRAPHS")
    error = error_of(strict_client.post("/v1/classify", json={"text": "a\n\nb\n\nc\n\nd"}), 422)
    assert (error["loc"], error["limit"]) == (["body", "text"], "TOPICFRAME_MAX_PARAGRAPHS")


def test_too_long_paragraph_names_the_limit_and_the_paragraph(strict_client: TestClient) -> None:
    assert strict_client.post("/v1/classify", json={"paragraphs": ["x" * 40]}).status_code == 200
    error = error_of(strict_client.post("/v1/classify", json={"text": "ok\n\n" + "x" * 41}), 422)
    assert (error["loc"], error["limit"]) == (["body", "text"], "TOPICFRAME_MAX_PARAGRAPH_CHARS")
    error = error_of(strict_client.post("/v1/classify", json={"paragraphs": ["ok", "x" * 41]}), 422)
    assert (error["loc"], error["limit"]) == (["body", "paragraphs", 1], "TOPICFRAME_MAX_PARAGRAPH_CHARS")
    assert "paragraph 1 has" in error["msg"]  # paragraphs[1]
    error = error_of(strict_client.post("/v1/classify", json={"text": "ok\n\n" + "x" * 41}), 422)
    # `text` has no index to name: counted from 1, as the web page numbers paragraphs (it said "paragraph 1").
    assert "paragraph 2 of the text (counting from 1) has 41 characters" in error["msg"]


def test_body_over_the_limit_is_413_before_parsing(strict_client: TestClient) -> None:
    # Not even valid JSON: the size is refused before anything parses it.
    error = error_of(strict_client.post("/v1/classify", content=b"{" * 2001), 413)
    assert (error["loc"], error["limit"]) == (["body"], "TOPICFRAME_MAX_BODY_BYTES")
    assert "2000" in error["msg"]
    # Exactly at the limit it is parsed (and here refused as JSON, not for its size).
    assert error_of(strict_client.post("/v1/classify", content=b"{" * 2000), 422)["type"] == "json_invalid"


def test_chunked_body_over_the_limit_is_413(strict_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # a generator body is sent without Content-Length
        for _ in range(30):
            yield b" " * 100

    error = error_of(strict_client.post("/v1/classify", content=chunks()), 413)
    assert error["limit"] == "TOPICFRAME_MAX_BODY_BYTES"

    def small() -> Iterator[bytes]:
        yield b'{"paragraphs": '
        yield b'["trade talks resumed"]}'

    assert strict_client.post("/v1/classify", content=small()).status_code == 200


def test_unknown_routes_and_methods_are_json(client: TestClient) -> None:
    assert error_of(client.get("/v1/nothing"), 404)["loc"] == ["path"]
    assert error_of(client.get("/v1/classify"), 405)["type"] == "method_not_allowed"
