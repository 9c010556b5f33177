"""POST /v1/classify on valid input: labels, thresholds, scores, explanations, summary, request ids."""

from __future__ import annotations

import re
import typing
from collections.abc import Callable
from typing import Any

import anyio.to_thread
import numpy as np
import pytest
from fastapi.testclient import TestClient

from service.routes.classify import INLINE_MAX_EXPLAINED_PARAGRAPHS, INLINE_MAX_PARAGRAPHS, run_classifier, runs_inline
from service.schemas import ClassifyResponse
from tests.conftest import GERMAN_NEWS
from training.bundle import ModelBundle
from training.classify import split_paragraphs

from .conftest import ARTICLE

BOILERPLATE = [
    "By Jane Smith, Staff Reporter",
    "Photograph: Kim Lee for the Daily Ledger",
    "Sign up for our morning newsletter to get the day's top stories in your inbox.",
]


CONTEXT_PREFIXES = ("context: ", "headline: ", "article: ")


def words(text: str) -> set[str]:
    # The vectorizer's default token pattern, lower-cased.
    return set(re.findall(r"\b\w\w+\b", text.lower()))


def test_paragraphs_are_classified_in_order_with_the_model_block(client: TestClient, bundle: ModelBundle) -> None:
    paragraphs = split_paragraphs(ARTICLE)
    response = client.post("/v1/classify", json={"paragraphs": paragraphs})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body["model"]) == {"name", "version", "alias", "run_id"}
    assert [p["index"] for p in body["paragraphs"]] == list(range(len(paragraphs)))
    assert [p["text"] for p in body["paragraphs"]] == paragraphs
    for item in body["paragraphs"]:
        assert set(item["labels"]) == set(bundle.content_label_sets) == {"topic", "frame"}
        assert set(item["scores"]) == set(bundle.content_label_sets)
        assert item["role"] in bundle.label_names["role"] and 0 < item["role_score"] <= 1
        assert "explanations" not in item  # explain defaults to 0
    ClassifyResponse.model_validate(body)  # the documented schema describes the real response


def test_text_is_split_on_blank_lines_keeping_single_newlines(client: TestClient) -> None:
    body = client.post("/v1/classify", json={"text": ARTICLE}).json()
    texts = [p["text"] for p in body["paragraphs"]]
    assert len(texts) == 3
    assert "law,\nsaying" in texts[1]
    assert body["summary"]["paragraphs"] == 3
    # A section break between paragraphs is not one: the same result as without it (it was read as a headline).
    parts = ARTICLE.split("\n\n")
    broken = client.post("/v1/classify", json={"text": "\n\n".join([*parts[:2], "* * *", *parts[2:]])}).json()
    assert broken["paragraphs"] == body["paragraphs"] and broken["summary"] == body["summary"]


def test_labels_pass_their_thresholds_and_come_highest_score_first(client: TestClient, bundle: ModelBundle) -> None:
    body = client.post("/v1/classify", json={"text": ARTICLE}).json()
    seen_a_label = False
    for item in body["paragraphs"]:
        for name, labels in item["labels"].items():
            scores, thresholds = item["scores"][name], bundle.thresholds(name)
            assert [scores[label] for label in labels] == sorted((scores[label] for label in labels), reverse=True)
            if not bundle.multi_label[name]:
                assert labels == [max(scores, key=lambda label: scores[label])]
            elif item["role"] not in ("body", "headline"):
                assert labels == []  # the role rule comes before any threshold
            else:
                # Each label's threshold, then at least `relative_to_top` of the top score, then at most
                # `max_labels`. Scores are rounded to 4 places in the response: allow that either way.
                decision, top = bundle.config.decision, max(scores.values())
                floor = {label: max(thresholds[label], decision.relative_to_top * top) for label in scores}
                cap = decision.max_labels or len(scores)
                assert all(scores[label] >= floor[label] - 1e-4 for label in labels) and len(labels) <= cap
                clearly_passing = sum(scores[label] >= floor[label] + 1e-4 for label in scores)
                assert len(labels) >= min(clearly_passing, cap)
            seen_a_label = seen_a_label or bool(labels)
    assert seen_a_label  # the news paragraphs get labels, so the checks above had something to check


def test_boilerplate_paragraphs_get_no_labels(client: TestClient) -> None:
    body = client.post("/v1/classify", json={"paragraphs": BOILERPLATE}).json()
    assert [item["role"] for item in body["paragraphs"]] == ["byline", "caption", "promo"]
    for item in body["paragraphs"]:
        assert all(labels == [] for labels in item["labels"].values()), item
    assert all(summary["primary"] is None for summary in body["summary"]["label_sets"].values())
    assert body["summary"]["content_paragraphs"] == 0


def test_non_content_roles_get_no_labels_whatever_their_scores(client: TestClient, bundle: ModelBundle) -> None:
    """The decision rule is the model's: a caption that describes news gets no labels, its scores stay visible."""
    caption = "Customs officers inspect seized solar panels at the port on Tuesday. Photo: AFP/Getty Images"
    body = client.post("/v1/classify", json={"paragraphs": [caption, ARTICLE.split("\n\n")[0]]}).json()
    item = body["paragraphs"][0]
    assert item["role"] == "caption"
    assert item["labels"] == {"topic": [], "frame": []}
    assert set(item["scores"]["topic"]) == set(bundle.label_names["topic"])
    assert body["paragraphs"][1]["role"] == "body" and body["paragraphs"][1]["labels"]["topic"]


def test_a_role_given_by_the_client_replaces_the_role_model(client: TestClient, bundle: ModelBundle) -> None:
    """A lone sentence the role model reads as a caption got no labels, and a client sending text taken from an
    article's body had no way to say what it is (the README's own first example came back empty)."""
    caption = "Customs officers inspect seized solar panels at the port on Tuesday. Photo: AFP/Getty Images"
    paragraphs = [caption, ARTICLE.split("\n\n")[0]]
    read = client.post("/v1/classify", json={"paragraphs": paragraphs}).json()
    given = client.post("/v1/classify", json={"paragraphs": paragraphs, "role": "body"}).json()
    assert read["paragraphs"][0]["role"] == "caption" and read["paragraphs"][0]["labels"]["topic"] == []
    assert [(p["role"], p["role_score"]) for p in given["paragraphs"]] == [("body", None), ("body", None)]
    assert given["summary"]["roles"] == {"body": 2} and given["summary"]["content_paragraphs"] == 2
    # The same scores (the role model is not run, and both paragraphs stay content for the context blocks), now
    # decided for a body paragraph: the model object's rule, as the CLI applies it.
    topic = given["paragraphs"][0]["scores"]["topic"]
    expected = bundle.decide("topic", np.array([[topic[label] for label in bundle.label_names["topic"]]]))[0]
    assert given["paragraphs"][0]["labels"]["topic"] == expected and expected
    unknown = client.post("/v1/classify", json={"paragraphs": paragraphs, "role": "Body text"})
    assert unknown.status_code == 422
    error = unknown.json()["detail"][0]
    assert error["loc"] == ["body", "role"] and "unknown role 'Body text' (closest: 'body'" in error["msg"]


# Written for these tests: a Chinese news paragraph, and an English one full of foreign names (German: conftest).
GERMAN = GERMAN_NEWS
CHINESE = "外交部发言人周三表示，中方愿与有关国家继续就关税问题进行磋商，争取尽早达成协议。"
# An English sentence that is mostly names, and a whole Japanese sentence of twelve characters.
NAMES = "Mitsotakis named Nikos Dendias, Giorgos Gerapetritis, Kostis Hatzidakis and Akis Skertsos to the cabinet."
JAPANESE = "総理大臣は国会で演説した"
FOREIGN_NAMES = (
    "Nguyen Thi Lan, a deputy in Hanoi, said Vietnam would raise tariffs on steel from Indonesia after talks with "
    "Retno Marsudi and Prabowo Subianto stalled in Jakarta."
)


def test_a_paragraph_in_another_language_is_not_read_and_not_labelled(client: TestClient, bundle: ModelBundle) -> None:
    """Its role is still given; no topic or frame (the top-label fallback gave one), and the summary leaves it out
    of its shares and counts it apart."""
    english = ARTICLE.split("\n\n")[0]
    paragraphs = [english, GERMAN, CHINESE, FOREIGN_NAMES, NAMES, JAPANESE]
    body = client.post("/v1/classify", json={"paragraphs": paragraphs}).json()
    items = body["paragraphs"]
    assert [item["read"] for item in items] == [True, False, False, True, True, False]
    assert items[1]["known_words"] < 0.5 and items[2]["known_words"] == 0.0 and items[3]["known_words"] >= 0.5
    for item in items[1:3]:
        assert item["role"] in bundle.label_names["role"] and item["labels"] == {"topic": [], "frame": []}
        assert set(item["scores"]["topic"]) == set(bundle.label_names["topic"])  # the scores stay visible
    assert items[0]["labels"]["topic"] and items[3]["labels"]["topic"]
    content = sum(item["role"] in ("body", "headline") and item["read"] for item in items)
    assert body["summary"]["content_paragraphs"] == content
    # Every paragraph not read is counted, whatever role the role model guessed for it.
    assert body["summary"]["unread_paragraphs"] == 3
    ClassifyResponse.model_validate(body)
    rule = client.get("/v1/labels").json()["decision_rule"]
    assert rule["min_known_words"] == bundle.config.decision.min_known_words == 0.5


def test_article_false_scores_each_paragraph_alone(client: TestClient, bundle: ModelBundle) -> None:
    paragraphs = split_paragraphs(ARTICLE)
    together = client.post("/v1/classify", json={"paragraphs": paragraphs}).json()
    alone = client.post("/v1/classify", json={"paragraphs": paragraphs, "article": False}).json()
    for i, paragraph in enumerate(paragraphs):
        single = client.post("/v1/classify", json={"paragraphs": [paragraph]}).json()["paragraphs"][0]
        assert alone["paragraphs"][i]["scores"] == single["scores"]
    assert len(together["paragraphs"]) == len(alone["paragraphs"])


def test_explanation_terms_occur_in_their_paragraph(client: TestClient) -> None:
    body = client.post("/v1/classify", json={"text": ARTICLE, "explain": 3}).json()
    explained = 0
    for item in body["paragraphs"]:
        paragraph_words = words(item["text"])
        for name, per_label in item["explanations"].items():
            assert set(per_label) == set(item["labels"][name])  # one entry per predicted label
            for terms in per_label.values():
                assert len(terms) <= 3
                weights = [t["weight"] for t in terms]
                assert weights == sorted(weights, reverse=True) and all(w > 0 for w in weights)
                for t in terms:
                    # The paragraph's own words (character n-grams are credited to them), or a context block's
                    # reason under its prefix.
                    in_context = t["term"].startswith(CONTEXT_PREFIXES)
                    assert in_context or set(t["term"].split()) <= paragraph_words, (t["term"], item["text"])
                explained += len(terms)
    assert explained > 0


def test_options_select_label_sets_and_drop_scores(client: TestClient) -> None:
    body = client.post(
        "/v1/classify", json={"text": ARTICLE, "label_sets": ["topic", "topic"], "include_scores": False}
    ).json()
    for item in body["paragraphs"]:
        assert list(item["labels"]) == ["topic"]
        assert "scores" not in item
    assert list(body["summary"]["label_sets"]) == ["topic"]
    assert "topic_frames" not in body["summary"]  # needs both topic and frame


def test_summary_counts_agree_with_the_paragraph_labels(client: TestClient) -> None:
    body = client.post("/v1/classify", json={"text": ARTICLE}).json()
    n = sum(p["role"] in ("body", "headline") for p in body["paragraphs"])
    assert body["summary"]["content_paragraphs"] == n and body["summary"]["paragraphs"] == len(body["paragraphs"])
    assert sum(body["summary"]["roles"].values()) == len(body["paragraphs"])
    for name, summary in body["summary"]["label_sets"].items():
        for label, count in summary["counts"].items():
            expected = sum(label in p["labels"][name] for p in body["paragraphs"])
            assert count == {"paragraphs": expected, "share": round(expected / n, 4)}
        if summary["counts"]:
            assert summary["primary"] in summary["counts"]
    for topic, frames in body["summary"]["topic_frames"].items():
        with_topic = [p for p in body["paragraphs"] if topic in p["labels"]["topic"]]
        for frame, share in frames.items():
            assert share["of"] == len(with_topic)
            assert share["paragraphs"] == sum(frame in p["labels"]["frame"] for p in with_topic)


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    echoed = client.post("/v1/classify", json={"paragraphs": ["x y"]}, headers={"X-Request-ID": "abc-123"})
    assert echoed.headers["x-request-id"] == "abc-123"
    generated = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", generated.headers["x-request-id"])
    assert client.get("/healthz").headers["x-request-id"] != generated.headers["x-request-id"]
    # An id that could forge log lines or headers is replaced, not echoed.
    forged = client.get("/healthz", headers={"X-Request-ID": 'x" injected'})
    assert forged.headers["x-request-id"] != 'x" injected'
    # Errors carry one too.
    assert client.post("/v1/classify", json={}, headers={"X-Request-ID": "err-1"}).headers["x-request-id"] == "err-1"


def test_lone_surrogates_are_a_client_error_not_a_crash(client: TestClient) -> None:
    # Python's json module would accept this and hand on a string that cannot be encoded as UTF-8.
    response = client.post(
        "/v1/classify",
        content=b'{"paragraphs": ["trade talks \\ud800 resumed"]}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    # Named at the string that holds it, as on every route (it was "unexpected end of hex escape" at the body).
    assert response.json()["detail"][0]["loc"] == ["body", "paragraphs", 0]
    assert response.json()["detail"][0]["type"] == "string_unicode"


@pytest.mark.parametrize(
    ("paragraphs", "explain", "inline"),
    [
        (["Tariff talks resumed."], 0, True),  # the latency-critical case stays on the event loop
        (["Tariff talks resumed."] * INLINE_MAX_EXPLAINED_PARAGRAPHS, 3, True),
        (["Tariff talks resumed."] * (INLINE_MAX_EXPLAINED_PARAGRAPHS + 1), 3, False),  # explanations: heavy
        (["Tariff talks resumed."] * INLINE_MAX_PARAGRAPHS, 0, True),
        ([f"tariff {i}" for i in range(INLINE_MAX_PARAGRAPHS + 1)], 0, False),  # many short paragraphs
        (["x" * 4_001, "y" * 4_000], 0, False),  # over INLINE_MAX_CHARS
    ],
)
def test_heavy_requests_run_in_the_thread_pool_small_ones_inline(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, paragraphs: list[str], explain: int, inline: bool
) -> None:
    assert runs_inline(paragraphs, explain) is inline
    offloaded: list[object] = []
    real_run_sync = anyio.to_thread.run_sync

    async def spy(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        offloaded.append(func)
        return await real_run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", spy)
    response = client.post("/v1/classify", json={"paragraphs": paragraphs, "explain": explain})
    assert response.status_code == 200, response.text
    assert offloaded == ([] if inline else [run_classifier])


def test_a_heavy_requests_paragraph_markup_is_read_in_the_thread_pool(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Reading markup costs by its length, like classifying: a heavy request must not read it on the event loop.
    import asyncio

    import training.markup

    read_on_event_loop: list[bool] = []
    real_paragraph_text = training.markup.paragraph_text

    def spy(paragraph: str, text_format: str = "auto") -> str:
        try:
            asyncio.get_running_loop()
            read_on_event_loop.append(True)
        except RuntimeError:  # no loop running in this thread: a worker thread
            read_on_event_loop.append(False)
        return real_paragraph_text(paragraph, text_format)

    monkeypatch.setattr(training.markup, "paragraph_text", spy)
    heavy = [f"<p>Tariff talks resumed in <em>round {i}</em>.</p>" for i in range(INLINE_MAX_PARAGRAPHS + 1)]
    response = client.post("/v1/classify", json={"paragraphs": heavy})
    assert response.status_code == 200, response.text
    assert response.json()["paragraphs"][3]["text"] == "Tariff talks resumed in round 3."
    assert read_on_event_loop == [False] * len(heavy)
    read_on_event_loop.clear()
    assert client.post("/v1/classify", json={"paragraphs": heavy[:2]}).status_code == 200
    assert read_on_event_loop == [True, True]  # a small request stays inline
    # A paragraph with no text is the same located 422 when it is found in the thread pool.
    response = client.post("/v1/classify", json={"paragraphs": [*heavy[:-1], "<p><img src='a.jpg'></p>"]})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "paragraphs", INLINE_MAX_PARAGRAPHS] and item["type"] == "no_text"


def test_labels_route_shows_thresholds_and_the_decision_rule(client: TestClient, bundle: ModelBundle) -> None:
    body = client.get("/v1/labels").json()
    assert set(body["thresholds"]) == {name for name in bundle.label_sets if bundle.multi_label[name]}
    assert "role" not in body["thresholds"]  # single-label: the top score wins, no threshold
    for name, thresholds in body["thresholds"].items():
        assert list(thresholds) == bundle.label_names[name]
        assert thresholds == pytest.approx(bundle.thresholds(name))
    decision = bundle.config.decision
    assert body["decision_rule"] == {
        "max_labels": decision.max_labels,
        "relative_to_top": decision.relative_to_top,
        "content_roles": bundle.config.roles.content,
        "linked_headlines": True,  # the default config's role rule (`roles.linked_headlines`)
        "at_least_one": {name: bundle.at_least_one(name) for name in body["thresholds"]},
        "min_known_words": 0.5,  # the default config's (`decision.min_known_words`)
    }


def test_margins_are_score_minus_threshold_and_match_the_labels(client: TestClient, bundle: ModelBundle) -> None:
    body = client.post("/v1/classify", json={"text": ARTICLE, "include_scores": True}).json()
    ClassifyResponse.model_validate(body)
    thresholds = client.get("/v1/labels").json()["thresholds"]
    for item in body["paragraphs"]:
        assert set(item["margins"]) == {"topic", "frame"}  # multi-label sets only
        for name, margins in item["margins"].items():
            for label, margin in margins.items():
                assert margin == pytest.approx(item["scores"][name][label] - thresholds[name][label], abs=2e-4)
            if item["role"] in bundle.config.roles.content:  # every given label passed its threshold
                assert all(margins[label] >= -1e-4 for label in item["labels"][name])
    quiet = client.post("/v1/classify", json={"text": ARTICLE, "include_scores": False}).json()
    assert all("margins" not in item for item in quiet["paragraphs"])


def test_text_with_one_paragraph_per_line_is_classified_as_those_paragraphs(client: TestClient) -> None:
    paragraphs = split_paragraphs(ARTICLE)
    as_paragraphs = client.post("/v1/classify", json={"paragraphs": paragraphs}).json()["paragraphs"]
    one_per_line = "\n".join(p.replace("\n", " ") for p in paragraphs)  # a word processor's copy: no blank lines
    as_lines = client.post("/v1/classify", json={"text": one_per_line}).json()["paragraphs"]
    assert len(as_lines) == len(paragraphs) == 3  # it was one paragraph, with one role and one set of labels
    assert [(p["role"], p["labels"]) for p in as_lines] == [(p["role"], p["labels"]) for p in as_paragraphs]


def test_text_sent_as_html_or_markdown_is_classified_as_its_paragraphs(client: TestClient) -> None:
    paragraphs = split_paragraphs(ARTICLE)
    as_paragraphs = client.post("/v1/classify", json={"paragraphs": paragraphs}).json()
    assert as_paragraphs["text_format"] is None
    feed_item = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs)  # a feed's HTML, one line
    markdown = "\n\n".join(f"*{p}*" if p.startswith("Photograph") else p for p in paragraphs)
    for text, given, read_as in ((feed_item, "auto", "html"), (markdown, "markdown", "markdown")):
        body = client.post("/v1/classify", json={"text": text, "text_format": given}).json()
        assert body["text_format"] == read_as
        assert [(p["text"], p["role"], p["labels"]) for p in body["paragraphs"]] == [
            (p["text"], p["role"], p["labels"]) for p in as_paragraphs["paragraphs"]
        ]
        ClassifyResponse.model_validate(body)
    # Read as plain text, the feed item stays one paragraph of tags (how every text was read before).
    plain = client.post("/v1/classify", json={"text": feed_item, "text_format": "plain"}).json()
    assert plain["text_format"] == "plain" and len(plain["paragraphs"]) == 1


def test_paragraphs_sent_with_their_markup_are_classified_as_their_text(client: TestClient) -> None:
    # A CMS export: each paragraph's inner HTML (links, emphasis, entities), or Markdown from a reader tool.
    paragraphs = split_paragraphs(ARTICLE)
    as_text = client.post("/v1/classify", json={"paragraphs": paragraphs}).json()["paragraphs"]
    escaped = [p.replace("&", "&amp;").replace("\n", "<br>") for p in paragraphs]
    as_html = [f"<p>{p}</p>" for p in escaped]
    linked = [f'<a href="/story">{p.split(" ", 1)[0]}</a> {p.split(" ", 1)[1]}' for p in escaped]
    strong = [f"**{p.split(' ', 1)[0]}** {p.split(' ', 1)[1]}" for p in paragraphs]  # Markdown
    for sent in (as_html, linked, strong):
        body = client.post("/v1/classify", json={"paragraphs": sent}).json()
        assert [(p["text"], p["role"], p["labels"]) for p in body["paragraphs"]] == [
            (p["text"], p["role"], p["labels"]) for p in as_text
        ], sent
    # text_format 'plain' classifies them as they are, tags included.
    body = client.post("/v1/classify", json={"paragraphs": as_html, "text_format": "plain"}).json()
    assert [p["text"] for p in body["paragraphs"]] == as_html
    # A paragraph that is only a link is kept (sent alone, it is one to label); one with no text is a 422.
    promo = client.post("/v1/classify", json={"paragraphs": ['<p><a href="/x">Read more: talks resume</a></p>']})
    assert promo.json()["paragraphs"][0]["text"] == "Read more: talks resume"
    for no_text in ("<p><img src='a.jpg'></p>", "<p>* * *</p>"):  # once read: nothing, or no letter or digit
        response = client.post("/v1/classify", json={"paragraphs": ["Talks resumed.", no_text]})
        assert response.status_code == 422
        (item,) = response.json()["detail"]
        assert item["loc"] == ["body", "paragraphs", 1] and item["type"] == "no_text"


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"text": "Talks resumed.", "text_format": "rtf"}, ["body", "text_format"]),
        ({"paragraphs": ["Talks resumed."], "text_format": "rtf"}, ["body", "text_format"]),
    ],
)
def test_a_text_format_that_cannot_apply_is_a_422_naming_it(client: TestClient, body: dict, loc: list) -> None:
    response = client.post("/v1/classify", json=body)
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"] == loc and "text_format" in (detail["msg"] + str(detail["loc"]))


def test_the_text_formats_are_the_ones_training_reads() -> None:
    from service.schemas import TextFormatIn
    from training.markup import TEXT_FORMATS

    assert typing.get_args(TextFormatIn) == TEXT_FORMATS


def test_markdown_too_deep_to_read_is_a_422_not_silently_shorter(client: TestClient) -> None:
    """markdown-it stops reading past 20 levels of nesting: the article's last paragraphs were dropped, 200."""
    deep = "\n".join("  " * i + f"- item {i}" for i in range(10)) + "\n\nAfter the list.\n\nThe last paragraph."
    response = client.post("/v1/classify", json={"text": f"# Talks resume\n\n{deep}"})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "text"] and item["type"] == "markdown_too_deep"
    assert "nested more than 20 levels deep" in item["msg"] and "at line 12" in item["msg"]
    response = client.post("/v1/classify", json={"paragraphs": ["Envoys met.", "> " * 20 + "**quoted**"]})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "paragraphs", 1]
    assert client.post("/v1/classify", json={"text": deep, "text_format": "plain"}).status_code == 200


@pytest.mark.parametrize(
    "text", ["<nav><a href='/'>Home</a></nav><p><img src='a.jpg'></p>", "![a photo](https://x.example/a.jpg)"]
)
def test_markup_with_no_text_to_classify_is_a_422_not_an_empty_result(client: TestClient, text: str) -> None:
    response = client.post("/v1/classify", json={"text": text})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "text"] and item["type"] == "no_text" and "text_format 'plain'" in item["msg"]
    assert client.post("/v1/classify", json={"text": text, "text_format": "plain"}).status_code == 200


def test_markdown_over_its_limit_is_a_422_naming_the_setting(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_markdown_chars=100)
    long_markdown = "# Talks resume\n\n" + "Envoys met in [Geneva](https://x.example). " * 5
    response = client.post("/v1/classify", json={"text": long_markdown})
    assert response.status_code == 422
    (item,) = response.json()["detail"]
    assert item["loc"] == ["body", "text"] and item["limit"] == "TOPICFRAME_MAX_MARKDOWN_CHARS"
    # The same text read as plain text is not parsed as Markdown: no such limit.
    assert client.post("/v1/classify", json={"text": long_markdown, "text_format": "plain"}).status_code == 200
