"""The web page's results, downloads, version comparison, error states and measured load (fixtures: conftest)."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import GERMAN_NEWS

from ..conftest import child_env, free_port, running, wait_for_http
from .conftest import (
    ADMIN_KEY,
    ARTICLE,
    MAX_PARAGRAPH_CHARS,
    MODEL,
    Service,
    api_result,
    classify_in_page,
    record,
    shot,
)

pytestmark = pytest.mark.integration


def test_results_show_roles_chips_thresholds_summary_and_highlights(open_page: Any, service: Service) -> None:
    tab = open_page()
    page = tab.page
    shot(page, "01-empty-1280")
    classify_in_page(page, ARTICLE)
    expected = api_result(service, ARTICLE)
    cards = page.locator("#paragraphs > li")
    expect(cards).to_have_count(len(expected["paragraphs"]))
    thresholds = httpx.get(f"{service.base}/v1/labels", timeout=10).json()["thresholds"]
    for paragraph in expected["paragraphs"]:
        card = cards.nth(paragraph["index"])
        assert card.get_attribute("data-role") == paragraph["role"]
        content = paragraph["role"] in ("body", "headline")
        assert ("muted" in (card.get_attribute("class") or "").split()) is not content
        for name, labels in paragraph["labels"].items():
            given = card.locator(f'.chip:not(.below):not(.edit)[data-set="{name}"]')
            # The chips of the given labels, highest score first (the order the service returns them in).
            assert given.evaluate_all("chips => chips.map(c => c.dataset.label)") == labels
            for label in labels:
                title = card.locator(f'.chip[data-set="{name}"][data-label="{label}"]').get_attribute("title") or ""
                assert f"threshold {thresholds[name][label]:.2f}" in title
                under = paragraph["scores"][name][label] < thresholds[name][label]  # the top-label fallback
                assert ("given because none passed" in title) is under
    assert page.locator(".chip .tick").count() > 0  # thresholds drawn on the chips' score bars
    # A label over its threshold that the decision rule's caps left out says so (it read "+0.11 — not given").
    capped = [
        (p["index"], name, label)
        for p in expected["paragraphs"]
        if p["role"] in ("body", "headline")
        for name, scores in p["scores"].items()
        if name in thresholds
        for label, score in scores.items()
        if score >= thresholds[name][label] and label not in p["labels"][name]
    ]
    for index, name, label in capped:
        chip = cards.nth(index).locator(f'.chip.below[data-set="{name}"][data-label="{label}"]')
        if chip.count():  # only the best two labels not given are drawn
            assert "not given: over its threshold, but" in (chip.get_attribute("title") or "")
    print(f"capped labels in the article: {len(capped)}")
    byline = cards.nth(1)
    assert byline.get_attribute("data-role") == expected["paragraphs"][1]["role"]

    counts = expected["summary"]["label_sets"]["topic"]["counts"]
    drawn = page.locator("#topic-shares svg g[data-label]").evaluate_all("gs => gs.map(g => g.dataset.label)")
    assert sorted(drawn) == sorted(counts)
    cells = page.locator("#topic-frame-heatmap svg rect[data-topic]")
    assert cells.count() == len(expected["summary"]["topic_frames"]) * len(
        {frame for row in expected["summary"]["topic_frames"].values() for frame in row}
    )
    # Every slanted frame name fits in the chart (a fixed margin cut "economic_consequences" off at the top).
    outside = page.locator("#topic-frame-heatmap svg").evaluate(
        """svg => { const box = svg.getBoundingClientRect();
        return [...svg.querySelectorAll("text")].map(t => [t.textContent, t.getBoundingClientRect()])
          .filter(([, r]) => r.top < box.top - 1 || r.right > box.right + 1).map(([name]) => name); }"""
    )
    assert outside == []
    assert page.locator("#paragraphs p.text").first.get_attribute("dir") == "auto"  # right-to-left text reads so

    # Selecting a given label highlights the terms of its explanation that occur in the paragraph.
    target = next(
        (p, name, labels[0])
        for p in expected["paragraphs"]
        for name, labels in p["labels"].items()
        if labels
        and any(
            t["term"].lower() in p["text"].lower() and not t["term"].startswith(("context: ", "headline: "))
            for t in p["explanations"][name][labels[0]]
        )
    )
    paragraph, name, label = target
    card = cards.nth(paragraph["index"])
    assert card.locator("mark").count() == 0
    card.locator(f'.chip[data-set="{name}"][data-label="{label}"]').focus()
    page.keyboard.press("Enter")  # keyboard works: the chip is a button
    marks = card.locator("mark")
    expect(marks.first).to_be_visible()
    terms = {t["term"].lower() for t in paragraph["explanations"][name][label]}
    assert {m.lower() for m in marks.all_inner_texts()} <= terms
    expect(card.locator(".evidence")).to_contain_text(f"Terms behind {label}")
    shot(page, "02-results-1280")
    record(layout_shift_after_results=page.evaluate("window.__layoutShift"))
    assert page.evaluate("window.__layoutShift") <= 0.01


def test_a_paragraph_in_another_language_reads_as_not_read(open_page: Any, service: Service) -> None:
    """No chips and a note saying how few of its words the model knows; the summary counts it apart."""
    text = ARTICLE.rstrip() + "\n\n" + GERMAN_NEWS
    page = open_page().page
    classify_in_page(page, text)
    expected = api_result(service, text)["paragraphs"][-1]
    assert expected["read"] is False and expected["role"] in ("body", "headline")
    card = page.locator("#paragraphs > li").last
    assert card.get_attribute("data-read") == "false" and "muted" in (card.get_attribute("class") or "").split()
    expect(card.locator("header .unread")).to_contain_text(
        f"knows {round(expected['known_words'] * 100)}% of its words"
    )
    expect(card.locator(".chip")).to_have_count(0)
    expect(page.locator("#summary .facts")).to_contain_text("1 not read")


def test_the_csv_download_numbers_paragraphs_as_shown_and_cannot_run_formulas(open_page: Any, service: Service) -> None:
    """¶1 is paragraph 1; a paragraph starting with '=' is text to a spreadsheet, not a formula; a BOM for Excel."""
    text = '=HYPERLINK("http://example.invalid","click") Tariffs on steel rose again.\n\n' + ARTICLE
    page = open_page().page
    classify_in_page(page, text)
    expected = api_result(service, text)["paragraphs"]
    with page.expect_download() as caught:
        page.click("#download-csv")
    raw = Path(caught.value.path()).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0][:4] == ["paragraph", "role", "role_score", "read"] and rows[0][-1] == "text"
    assert [row[0] for row in rows[1:]] == [str(p["index"] + 1) for p in expected]
    assert rows[1][-1] == "'" + expected[0]["text"] and rows[2][-1] == expected[1]["text"]
    assert [row[3] for row in rows[1:]] == [str(p["read"]).lower() for p in expected]


def test_phone_width_is_readable(open_page: Any) -> None:
    page = open_page(390, 844).page
    classify_in_page(page, ARTICLE)
    # Nothing wider than the screen: no sideways scrolling at 390 px.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#paragraphs .chip").first.is_visible()
    shot(page, "03-results-390")
    assert page.evaluate("window.__layoutShift") <= 0.01


def test_an_article_pasted_as_html_is_read_as_its_paragraphs(open_page: Any) -> None:
    page = open_page().page
    classify_in_page(page, ARTICLE)
    as_text = page.locator("#paragraphs > li").evaluate_all("cards => cards.map(c => c.dataset.role)")
    html = "".join(f"<p>{p}</p>" for p in ARTICLE.split("\n\n"))  # e.g. a feed item's content, on one line
    classify_in_page(page, html)
    expect(page.locator("#status")).to_contain_text("(read as HTML)")
    assert page.locator("#paragraphs > li").evaluate_all("cards => cards.map(c => c.dataset.role)") == as_text
    assert "<p>" not in page.locator("#paragraphs").inner_text()


def test_compare_versions_side_by_side(open_page: Any, service: Service) -> None:
    page = open_page().page
    page.fill("#article-text", ARTICLE)
    page.click("#tab-compare")
    first, second = service.versions
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(2)
    assert rows.nth(0).get_attribute("data-version") == second  # newest first
    expect(rows.nth(1)).to_contain_text("champion")
    expect(rows.nth(1)).to_contain_text("serving")
    # The headline metrics lead, and the caption and every metric column are in view at 1280 px (they were cut).
    metrics = page.locator("#versions th[data-metric]").evaluate_all("ths => ths.map(th => th.dataset.metric)")
    assert metrics[:3] == ["topic.micro_f1", "frame.micro_f1", "role.accuracy"]
    panel = page.locator("#versions").bounding_box()
    assert panel is not None
    for box in [page.locator("#versions caption").bounding_box(), page.locator("#versions th").last.bounding_box()]:
        assert box is not None and panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"] + 1
    page.select_option("#version-a", "champion")
    page.select_option("#version-b", second)
    page.click("#compare")
    expect(page.locator(".compare-summary")).to_be_visible()
    expected = httpx.post(
        f"{service.base}/v1/compare", json={"text": ARTICLE, "a": "champion", "b": second}, timeout=60
    ).json()
    assert expected["a"]["model"]["version"] == first and expected["b"]["model"]["version"] == second
    assert expected["differences"], "the stricter version should drop labels somewhere"
    shown = page.locator("#comparison tbody tr").evaluate_all("rs => rs.map(r => Number(r.dataset.index))")
    assert shown == expected["differences"]
    assert page.locator("#comparison .only").count() > 0  # the labels only one version gives are marked
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # the metrics table scrolls, not the page
    expect(page.locator("#versions .scroll-hint")).to_be_hidden()  # every column is in view at 1280 px
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: 4 of 8 columns, and no sign of the others
    expect(page.locator("#versions .scroll-hint")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})
    shot(page, "05-compare")
    page.select_option("#version-b", "champion")  # the same model as A: said, not "0 paragraphs differ"
    page.click("#compare")
    expect(page.locator("#comparison")).to_contain_text(f"A and B are the same model (v{first})")


def test_a_page_open_while_the_served_model_changes_draws_the_new_models_thresholds(
    open_page: Any, service: Service
) -> None:
    """The page read /v1/labels once: after a reload it drew the old model's ticks beside the new model's labels
    ("threshold 0.39 (+0.02) — not given"), and its header and versions named the old model."""
    from training.registry import tracking_client

    page = open_page().page
    first, second = service.versions
    page.click("#tab-compare")
    expect(page.locator("#versions tbody tr").nth(1)).to_contain_text("serving")
    page.click("#tab-results")
    client = tracking_client(service.tracking_uri)

    def serve(version: str) -> None:
        client.set_registered_model_alias(MODEL, "champion", version)
        reload = httpx.post(f"{service.base}/v1/admin/reload", headers={"X-Admin-Key": ADMIN_KEY}, timeout=120)
        assert reload.status_code == 200 and reload.json()["model"]["version"] == version, reload.text

    try:
        serve(second)
        classify_in_page(page, ARTICLE)
        expect(page.locator("#model-badge")).to_contain_text(f"v{second}")
        thresholds = httpx.get(f"{service.base}/v1/labels", timeout=10).json()["thresholds"]
        chips = page.locator('#paragraphs .chip:not(.edit)[data-set="topic"]')
        assert chips.count() > 0
        for k in range(min(chips.count(), 12)):
            label = chips.nth(k).get_attribute("data-label") or ""
            assert f"threshold {thresholds['topic'][label]:.2f}" in (chips.nth(k).get_attribute("title") or "")
        page.click("#tab-compare")  # the versions table was read again: the new version serves
        expect(page.locator(f'#versions tbody tr[data-version="{second}"]')).to_contain_text("serving")
    finally:
        serve(first)


def test_bad_input_and_server_trouble_read_as_messages(open_page: Any) -> None:
    page = open_page().page
    page.click("#classify")
    expect(page.locator("#status")).to_contain_text("there is no text to classify")
    # The API's field names are said in the page's words (a tester was told "text_format 'plain' ...").
    page.fill("#article-text", '<p><img src="chart.png"></p>')
    page.click("#classify")
    expect(page.locator("#status")).to_contain_text("Article: read as html, the text has no paragraph to classify")
    expect(page.locator("#status")).to_contain_text("Read as \u201cplain text\u201d classifies it as it is")
    expect(page.locator("#status")).not_to_contain_text("text_format")
    # Results of an earlier text are marked as such once the text changes, and cannot be downloaded or corrected.
    classify_in_page(page, ARTICLE)
    expect(page.locator("#download-json")).to_be_enabled()
    page.fill("#article-text", ARTICLE + "\n\nOne more paragraph on tariffs.")
    expect(page.locator("#status")).to_contain_text("the results below are for the earlier reading")
    for action in ("#download-json", "#download-csv", "#correct-mode"):
        expect(page.locator(action)).to_be_disabled()
    page.fill("#article-text", "Tariffs " * (MAX_PARAGRAPH_CHARS // 8 + 10))
    page.click("#classify")
    expect(page.locator("#status")).to_contain_text("TOPICFRAME_MAX_PARAGRAPH_CHARS")
    # Counted as the page counts (¶1), not from 0 ("paragraph 0" was the page's ¶1).
    expect(page.locator("#status")).to_contain_text("paragraph 1 of the text (counting from 1)")
    expect(page.locator("#status")).to_contain_text("The results below are for the earlier text.")
    expect(page.locator("#status")).to_have_class("status error")
    # The earlier article's results stay (they were wiped), marked as the earlier text's and not downloadable.
    shown = page.locator("#paragraphs > li").count()
    assert shown > 0
    expect(page.locator("#panel-results")).to_have_class(re.compile(r"\bstale\b"))
    for action in ("#download-json", "#download-csv", "#correct-mode"):
        expect(page.locator(action)).to_be_disabled()
    shot(page, "06-over-limit")

    # A 500 with an HTML body, as a failing proxy in front of the service would send (the service itself
    # answers JSON): the page says what happened instead of going blank. Sent for the text the results are
    # for, the failure leaves them as they were: current, and their actions usable.
    classify_in_page(page, ARTICLE)
    page.route("**/v1/classify", lambda route: route.fulfill(status=502, body="<html>Bad Gateway</html>"))
    page.click("#classify")
    expect(page.locator("#status")).to_contain_text("HTTP 502")
    expect(page.locator("#status")).not_to_contain_text("earlier text")
    assert page.locator("#classify").is_enabled()
    expect(page.locator("#paragraphs > li")).to_have_count(shown)
    expect(page.locator("#panel-results")).not_to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator("#download-json")).to_be_enabled()


def test_a_model_that_is_not_ready_shows_its_readyz_state(browser: Browser, service: Service, tmp_path: Path) -> None:
    port = free_port()
    environment = child_env(
        MLFLOW_TRACKING_URI=service.tracking_uri,
        TOPICFRAME_MODEL_URI="models:/topicframe-web-missing@champion",
        TOPICFRAME_MODEL_REFRESH_SECONDS="0",
    )
    log = tmp_path / "not-ready.log"
    with running([sys.executable, "-m", "service", "--port", str(port)], log, environment, cwd=tmp_path) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", timeout=60, process=process, log=log)
        context = browser.new_context(viewport={"width": 1280, "height": 700})
        try:
            page = context.new_page()
            page.goto(base + "/")
            expect(page.locator("#status")).to_contain_text("alias_not_set", timeout=30_000)
            expect(page.locator("#model-badge")).to_contain_text("not ready")
            shot(page, "07-not-ready")
        finally:
            context.close()


def test_docs_and_redoc_render_offline(open_page: Any, service: Service) -> None:
    tab = open_page()
    page = tab.page
    operations = [
        (method, path)
        for path, item in httpx.get(f"{service.base}/openapi.json", timeout=10).json()["paths"].items()
        for method in item
    ]
    page.goto(service.base + "/docs")
    expect(page.locator(".opblock")).to_have_count(len(operations), timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/v1/compare")).to_be_visible()
    shot(page, "08-docs")
    page.goto(service.base + "/redoc")
    # Every operation's summary is a heading in ReDoc's middle panel.
    headings = page.locator("h2", has_text="Classify an article with two versions of the model")
    expect(headings.first).to_be_visible(timeout=20_000)
    assert page.locator("h2").count() >= len(operations)
    shot(page, "09-redoc")
    served_locally = {urlsplit(url).path for url in tab.requested}
    assert {
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/redoc/redoc.standalone.js",
    } <= served_locally


def test_measure_cold_load_and_a_40_paragraph_article(browser: Browser, service: Service) -> None:
    """Reported, not asserted: bytes over the wire for a cold load, and click-to-rendered for 40 paragraphs."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        sizes: dict[str, float] = {}
        urls: dict[str, str] = {}
        cdp.on("Network.requestWillBeSent", lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]))
        cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
        page.goto(service.base + "/", wait_until="networkidle")
        expect(page.locator("#model-badge")).to_contain_text("v")
        page_bytes = sum(sizes.values())
        requests = len(sizes)

        paragraphs = [
            f"Paragraph {i}: Washington and Beijing traded accusations over tariffs on steel and solar panels, "
            f"while negotiators in Geneva discussed export controls and human rights monitors urged sanctions."
            for i in range(40)
        ]
        timings = [classify_in_page(page, "\n\n".join(paragraphs)) for _ in range(3)]
        expect(page.locator("#paragraphs > li")).to_have_count(40)

        sizes.clear()
        page.goto(service.base + "/docs", wait_until="networkidle")
        docs_bytes = sum(sizes.values())
        sizes.clear()
        page.goto(service.base + "/redoc", wait_until="networkidle")
        redoc_bytes = sum(sizes.values())
    finally:
        context.close()
    record(
        cold_page_load_bytes=page_bytes,
        cold_page_load_requests=requests,
        click_to_rendered_ms_40_paragraphs=[round(t) for t in timings],
        docs_cold_load_bytes=docs_bytes,
        redoc_cold_load_bytes=redoc_bytes,
    )
    assert page_bytes > 0 and all(t > 0 for t in timings)


def test_figures_in_words_and_the_text_read_as_chosen(open_page: Any, service: Service) -> None:
    """A chip's score and threshold were in its tooltip only (a keyboard user saw none); the charts' text
    alternative was their title alone; the advice "text_format 'plain'" named a control the page did not have."""
    page = open_page().page
    classify_in_page(page, ARTICLE)
    result = api_result(service, ARTICLE)
    card = page.locator("#paragraphs > li").nth(2)
    given = result["paragraphs"][2]["labels"]["topic"][0]
    chip = card.locator(f'.chip:not(.edit)[data-set="topic"][data-label="{given}"]')
    chip.focus()
    page.keyboard.press("Enter")
    score = result["paragraphs"][2]["scores"]["topic"][given]
    expect(card.locator(".evidence")).to_contain_text(f"{given}: score {score:.2f}, threshold 0.")
    page.keyboard.press("Escape")  # clears the selection (it did nothing), the keyboard stays on the chip
    expect(card.locator(".evidence")).to_have_count(0)
    expect(card.locator(f'.chip:not(.edit)[data-set="topic"][data-label="{given}"]')).to_be_focused()
    shares = page.locator("#topic-shares svg").get_attribute("aria-label") or ""
    assert shares.startswith("Topic shares: ") and "%" in shares, shares
    cells = page.locator("#topic-frame-heatmap svg").get_attribute("aria-label") or ""
    assert re.search(r"\w+ × \w+: \d+ of \d+", cells), cells

    sent: list[str | None] = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/v1/classify") else None)
    html = "<p>Tariffs rose on <b>steel</b> imports.</p>"
    page.select_option("#text-format", "plain")
    classify_in_page(page, html)
    expect(page.locator("#paragraphs > li").first).to_contain_text("<b>steel</b>")  # read as it is
    page.select_option("#text-format", "auto")
    expect(page.locator("#panel-results")).to_have_class(re.compile(r"\bstale\b"))  # read another way now
    classify_in_page(page, html)
    expect(page.locator("#paragraphs > li").first).not_to_contain_text("<b>")
    assert [json.loads(body or "{}").get("text_format") for body in sent] == ["plain", None]
    # Compare reads the text as Classify does (it sent no text_format: another split, other paragraph numbers).
    compared: list[str | None] = []
    page.on("request", lambda r: compared.append(r.post_data) if r.url.endswith("/v1/compare") else None)
    page.select_option("#text-format", "plain")
    page.click("#tab-compare")
    page.click("#compare")
    expect(page.locator("#comparison")).not_to_contain_text("Classifying with both versions", timeout=30_000)
    assert [json.loads(body or "{}").get("text_format") for body in compared] == ["plain"]


def test_paragraphs_given_as_body_text_are_labelled_as_the_api_labels_them(open_page: Any, service: Service) -> None:
    """The page had no way to say "this is body text" (the API's `role`): a sentence pasted from a body that
    reads like a caption got no labels, and the analyst could not ask otherwise."""
    page = open_page().page
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}")) if "/v1/c" in r.url else None)
    classify_in_page(page, ARTICLE)
    cards = page.locator("#paragraphs > li")
    assert page.locator('#paragraphs > li[data-role="byline"]').count() == 1  # the role model read the byline
    page.select_option("#paragraph-role", "body")
    expect(page.locator("#panel-results")).to_have_class(re.compile(r"\bstale\b"))  # other roles, other labels
    # Ctrl+Enter classifies from the control just used (it worked in the text box only).
    page.focus("#paragraph-role")
    page.keyboard.press("Control+Enter")
    expect(page.locator("body")).to_have_attribute("data-rendered", "2", timeout=60_000)
    expected = httpx.post(f"{service.base}/v1/classify", json={"text": ARTICLE, "role": "body"}, timeout=30).json()
    expect(page.locator('#paragraphs > li[data-role="body"]')).to_have_count(len(expected["paragraphs"]))
    expect(cards.nth(1).locator(".role")).to_have_text("body (given)")
    for paragraph in expected["paragraphs"]:
        given = cards.nth(paragraph["index"]).locator('.chip:not(.below):not(.edit)[data-set="topic"]')
        assert given.evaluate_all("chips => chips.map(c => c.dataset.label)") == paragraph["labels"]["topic"]
    page.select_option("#paragraph-role", "")
    expect(page.locator("#panel-results")).to_have_class(re.compile(r"\bstale\b"))
    page.select_option("#paragraph-role", "body")  # back to how the results were read: current again
    expect(page.locator("#panel-results")).not_to_have_class(re.compile(r"\bstale\b"))
    page.click("#tab-compare")
    page.click("#compare")  # Compare reads the paragraphs as Classify did
    expect(page.locator("#comparison")).not_to_contain_text("Classifying with both versions", timeout=30_000)
    assert [body.get("role") for body in sent] == [None, "body", "body"]


def test_one_tab_stop_per_row_of_chips_and_arrow_keys_along_it(open_page: Any) -> None:
    """Every chip was its own Tab stop: about 80 dashed "not given" chips on a 20-paragraph article before the next
    control, and 16 more per paragraph in correct mode."""
    page = open_page().page
    classify_in_page(page, ARTICLE)
    card = page.locator("#paragraphs > li").nth(2)
    topic, frame = card.locator('.chips[role="toolbar"]').nth(0), card.locator('.chips[role="toolbar"]').nth(1)
    chips = topic.locator(".chip")
    assert chips.count() >= 3 and topic.locator('.chip[tabindex="0"]').count() == 1
    chips.first.focus()
    page.keyboard.press("ArrowRight")
    expect(chips.nth(1)).to_be_focused()
    page.keyboard.press("End")
    expect(chips.last).to_be_focused()
    page.keyboard.press("ArrowRight")  # round to the first
    expect(chips.first).to_be_focused()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("Tab")  # out of the row, onto the next row's one stop
    expect(frame.locator(".chip").first).to_be_focused()
    page.keyboard.press("Shift+Tab")  # back to the chip last used in the row
    expect(chips.last).to_be_focused()
    tab_stops = page.locator('#paragraphs .chip:not([tabindex="-1"])').count()
    assert tab_stops == page.locator("#paragraphs .chips").count()

    page.click("#correct-mode")
    editor = card.locator(".editor .chips").first
    assert editor.locator(".chip.edit").count() > 3 and editor.locator('.chip.edit[tabindex="0"]').count() == 1
    stop = editor.locator('.chip.edit[tabindex="0"]')
    assert stop.get_attribute("aria-pressed") == "true"  # a label the paragraph has, where one is
    stop.focus()
    page.keyboard.press("Home")
    first = editor.locator(".chip.edit").first
    expect(first).to_be_focused()
    page.keyboard.press("Space")  # toggles, re-renders the row, and the keyboard stays on that chip
    expect(editor.locator(".chip.edit").first).to_be_focused()
    assert editor.locator('.chip.edit[tabindex="0"]').get_attribute("data-label") == first.get_attribute("data-label")


def test_overlapping_explanation_terms_are_marked_as_one_span(open_page: Any) -> None:
    """One regex over all the terms took one term at each place: in "the two governments" the terms "the two" and
    "two governments" marked "the two" and left "two" of the second unmarked."""
    page = open_page().page
    nodes = page.evaluate(
        """async () => {
            const { highlighted } = await import("/static/js/render.js");
            const text = "The two governments met. Two governments, two ways; THE TWO";
            return highlighted(text, ["the two", "two governments", "ways", "context: two"])
                .map((node) => [node.nodeName, node.textContent]);
        }"""
    )
    assert nodes == [
        ["MARK", "The two governments"],
        ["#text", " met. "],
        ["MARK", "Two governments"],
        ["#text", ", two "],
        ["MARK", "ways"],
        ["#text", "; "],
        ["MARK", "THE TWO"],
    ]
