"""Correct mode: corrections sent and read back, the keys they carry, and drafts that survive what an analyst
does meanwhile (a role passed over, an edit undone, the same text classified again, a reload prompt)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from .conftest import ADMIN_KEY, ARTICLE, Service, api_result, classify_in_page, shot

pytestmark = pytest.mark.integration


def test_correct_mode_sends_feedback_and_shows_what_was_saved(open_page: Any, service: Service) -> None:
    page = open_page().page
    classify_in_page(page, ARTICLE)
    page.click("#correct-mode")
    card = page.locator("#paragraphs > li").nth(3)  # the customs paragraph
    editor = card.locator(".editor")
    pressed = editor.locator('.chip.edit[data-set="topic"][aria-pressed="true"]')
    before = set(pressed.evaluate_all("cs => cs.map(c => c.dataset.label)"))
    added = next(label for label in ("human_rights", "security", "trade") if label not in before)
    editor.locator(f'.chip.edit[data-set="topic"][data-label="{added}"]').click()
    editor.locator("select").select_option("body")
    editor.locator('[data-action="send"]').click()
    expect(card.locator(".saved")).to_contain_text("Saved as #")
    saved_text = card.locator(".saved").inner_text()
    assert added in saved_text
    shot(page, "04-correct-mode")

    listed = httpx.get(f"{service.base}/v1/feedback", headers={"X-Admin-Key": ADMIN_KEY}, timeout=10)
    assert listed.status_code == 200, listed.text
    text = api_result(service, ARTICLE)["paragraphs"][3]["text"]
    mine = [item for item in listed.json()["items"] if item["text"] == text]
    assert mine and set(mine[-1]["labels"]["topic"]) == before | {added}
    assert mine[-1]["role"] == "body" and mine[-1]["model"]["version"] == service.versions[0]
    assert f"#{mine[-1]['id']}" in saved_text


def test_corrections_carry_the_feedback_key_and_everything_else_the_api_key(open_page: Any) -> None:
    """A service may guard corrections with a key of their own (TOPICFRAME_FEEDBACK_KEY): with one key field the
    page could classify or correct, never both. The headers are read as sent (this service checks no key)."""
    page = open_page().page
    sent: dict[str, list[str | None]] = {"classify": [], "feedback": []}

    def watch(request: Any) -> None:
        for route_name, keys in sent.items():
            if request.method == "POST" and request.url.endswith(f"/v1/{route_name}"):
                keys.append(request.headers.get("x-api-key"))

    page.on("request", watch)
    page.locator(".settings summary").click()
    page.fill("#api-key", "api-secret")
    page.locator("#api-key").dispatch_event("change")
    classify_in_page(page, ARTICLE)
    page.click("#correct-mode")
    card = page.locator("#paragraphs > li").nth(3)
    card.locator('.editor [data-action="send"]').click()  # no feedback key given: the API key goes
    expect(card.locator(".saved")).to_contain_text("as #")
    page.fill("#feedback-key", "feedback-secret")
    page.locator("#feedback-key").dispatch_event("change")
    card.locator('.editor [data-action="send"]').click()
    expect(card.locator(".saved")).to_contain_text("Already saved")
    assert sent == {"classify": ["api-secret"], "feedback": ["api-secret", "feedback-secret"]}

    refused = {"detail": [{"loc": ["header", "X-API-Key"], "msg": "the key is not valid", "type": "forbidden"}]}
    page.route("**/v1/feedback", lambda route: route.fulfill(status=403, json=refused))
    card.locator('.editor [data-action="send"]').click()
    expect(card.locator(".failed")).to_contain_text("enter the key under \u201cFeedback key\u201d")
    expect(card.locator(".failed")).to_contain_text("Feedback key: the key is not valid")  # not "header.X-API-Key"


def test_results_of_an_edited_text_are_stale_and_cannot_be_corrected(open_page: Any, service: Service) -> None:
    """Edited while the request ran, the answer showed as current; Ctrl+Enter started a second request whose
    older answer won; after an edit the editors still sent corrections; a caption's chips were sent and refused."""
    page = open_page().page
    page.fill("#article-text", ARTICLE)
    release: list[Route] = []
    page.route("**/v1/classify", lambda route: release.append(route))  # held until the text has changed
    page.click("#classify")
    expect(page.locator("#status")).to_contain_text("Classifying")
    page.locator("#article-text").press("Control+Enter")  # a second request is not started
    expect(page.locator("#status")).to_contain_text("Still classifying")
    page.fill("#article-text", ARTICLE + "\n\nOne more paragraph about tariffs.")
    assert len(release) == 1
    release[0].continue_()
    page.unroute("**/v1/classify")
    expect(page.locator("#panel-results")).to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator("#status")).to_contain_text("The text, or how it is read, has changed since it was classified")
    assert page.locator("#download-csv").is_disabled() and page.locator("#correct-mode").is_disabled()

    classify_in_page(page, ARTICLE)
    page.click("#correct-mode")
    card = page.locator("#paragraphs > li").nth(3)
    card.locator(".editor select").select_option("caption")  # a caption carries no topics or frames
    expect(card.locator(".editor .note")).to_contain_text("A caption paragraph carries no topics or frames")
    assert card.locator('.editor .chip.edit[aria-pressed="true"]').count() == 0
    assert card.locator(".editor .chip.edit").first.is_disabled()
    page.locator("#article-text").press("End")
    page.keyboard.type(" edited")
    expect(page.locator("#paragraphs .editor")).to_have_count(0)  # no correction of the earlier text


def pressed_topics(card: Any) -> set[str]:
    chips = card.locator('.editor .chip.edit[data-set="topic"][aria-pressed="true"]')
    return set(chips.evaluate_all("cs => cs.map(c => c.dataset.label)"))


def feedback_for(service: Service, text: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{service.base}/v1/feedback", headers={"X-Admin-Key": ADMIN_KEY}, timeout=10)
    assert listed.status_code == 200, listed.text
    return [item for item in listed.json()["items"] if item["text"] == text]


def a_draft_in_correct_mode(open_page: Any) -> tuple[Page, Any, set[str], str]:
    """The article classified, correct mode on, and one topic added to its third paragraph (not sent):
    the page, that paragraph's card, its topics before, and the topic added."""
    page = open_page().page
    classify_in_page(page, ARTICLE)
    page.click("#correct-mode")
    card = page.locator("#paragraphs > li").nth(2)
    before = pressed_topics(card)
    added = next(label for label in ("human_rights", "security", "trade") if label not in before)
    card.locator(f'.editor .chip.edit[data-set="topic"][data-label="{added}"]').click()
    return page, card, before, added


def test_a_role_passed_over_keeps_the_chips_and_unsent_corrections_are_said(open_page: Any, service: Service) -> None:
    """Arrow keys on the role list (a change per step) passing over "byline" wiped the paragraph's chips; a
    "Saved" line stayed after the chips changed again; a reload lost unsent corrections without a word."""
    page, card, before, added = a_draft_in_correct_mode(open_page)
    expect(card.locator(".editor .unsent")).to_have_text("Not sent yet.")
    role = card.locator(".editor select")
    role.focus()
    for key in ("ArrowDown", "ArrowDown", "ArrowUp", "ArrowUp"):  # body -> ... -> body again, by keyboard
        page.keyboard.press(key)
    expect(role).to_have_value("body")
    assert pressed_topics(card) == before | {added}
    role.select_option("caption")
    assert pressed_topics(card) == set() and card.locator(".editor .chip.edit").first.is_disabled()
    role.select_option("body")
    assert pressed_topics(card) == before | {added}

    card.locator('.editor [data-action="send"]').click()
    expect(card.locator(".editor .saved")).to_contain_text("Saved as #")
    assert re.search(r"at \d", card.locator(".editor .saved").inner_text())  # a local time, not an ISO stamp
    text = api_result(service, ARTICLE)["paragraphs"][2]["text"]
    assert set(feedback_for(service, text)[-1]["labels"]["topic"]) == before | {added}
    card.locator(f'.editor .chip.edit[data-set="topic"][data-label="{added}"]').click()
    expect(card.locator(".editor .unsent")).to_contain_text("Changed since it was saved as #")
    expect(card.locator(".editor .saved")).to_have_count(0)

    # A caption's correction sends no topic or frame, whatever chips were on before.
    role.select_option("caption")
    card.locator('.editor [data-action="send"]').click()
    expect(card.locator(".editor .saved")).to_contain_text("role caption; topic: none; frame: none")
    stored = feedback_for(service, text)[-1]
    assert stored["role"] == "caption" and not any(stored["labels"].values()), stored

    # Unsent: the browser asks before the page goes (dismissed: the page and its drafts stay).
    card.locator(".editor select").select_option("body")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.dismiss()))
    page.close(run_before_unload=True)
    expect(page.locator("#paragraphs > li")).not_to_have_count(0)
    assert dialogs == ["beforeunload"]


def test_an_undone_edit_or_an_unchanged_paragraph_keeps_its_draft(open_page: Any) -> None:
    """Typing a space and deleting it left the results stale and their drafts gone; classifying the same text
    again, or the text with a typo fixed in another paragraph, reset every draft; opening a file replaced the
    "out of date" warning with "Opened …"."""
    page, card, before, added = a_draft_in_correct_mode(open_page)

    page.locator("#article-text").press("End")
    page.keyboard.type(" ")
    expect(page.locator("#panel-results")).to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator("#correct-mode")).to_be_disabled()
    expect(page.locator("#status")).to_contain_text("1 unsent correction is kept for the paragraphs whose text")
    page.keyboard.press("Backspace")
    expect(page.locator("#panel-results")).not_to_have_class(re.compile(r"\bstale\b"))
    expect(page.locator("#status")).to_contain_text("again the text that was classified")
    expect(page.locator("#correct-mode")).to_have_attribute("aria-pressed", "true")  # back where it was
    assert pressed_topics(card) == before | {added}

    page.click("#correct-mode")
    classify_in_page(page, ARTICLE)  # the same text, the same model: the draft stays
    page.click("#correct-mode")
    assert pressed_topics(page.locator("#paragraphs > li").nth(2)) == before | {added}

    # A typo fixed in the caption: the other paragraphs' texts are unchanged, and so are their drafts.
    page.click("#correct-mode")
    classify_in_page(page, ARTICLE.replace("Photograph: Kim Lee", "Photograph: Kim Lee."))
    expect(page.locator("#status")).not_to_contain_text("dropped")
    page.click("#correct-mode")
    assert pressed_topics(page.locator("#paragraphs > li").nth(2)) == before | {added}
    # Its own paragraph's text changed: that draft goes, and the page says so.
    page.click("#correct-mode")
    classify_in_page(page, ARTICLE.replace("another ninety days", "another 90 days"))
    expect(page.locator("#status")).to_contain_text("1 unsent correction of paragraphs whose text changed")

    other = {"name": "other.txt", "mimeType": "text/plain", "buffer": b"Another article\n\nOn tariffs."}
    page.set_input_files("#file-input", files=[other])
    expect(page.locator("#status")).to_contain_text("Opened other.txt")
    expect(page.locator("#status")).to_contain_text("the results below are for the earlier reading")
    # A .txt file is read as plain text, whatever tag it holds (one <img> merged a tester's paragraphs as HTML).
    assert page.locator("#text-format").input_value() == "plain"


def test_a_classify_refused_while_the_model_loads_is_sent_again_when_it_is_ready(open_page: Any) -> None:
    """After a 503 the page said "not ready" and never asked again (the README said it retries)."""
    page: Page = open_page().page
    page.fill("#article-text", ARTICLE)
    loading = {"detail": [{"loc": [], "msg": "the model is still loading", "type": "not_ready", "reason": "loading"}]}
    refused = {"classify": 0, "readyz": 0}

    def classify_once_refused(route: Route) -> None:
        refused["classify"] += 1
        if refused["classify"] == 1:
            route.fulfill(status=503, json=loading)
        else:
            route.continue_()

    def ready_on_the_second_ask(route: Route) -> None:
        refused["readyz"] += 1
        if refused["readyz"] <= 2:  # the 503's own look, and the first poll
            route.fulfill(status=503, json=loading)
        else:
            route.continue_()

    page.route("**/v1/classify", classify_once_refused)
    page.route("**/readyz", ready_on_the_second_ask)
    renders = int(page.locator("body").get_attribute("data-rendered") or 0)
    page.click("#classify")
    expect(page.locator("#status")).to_contain_text("Classifying again when it is")
    expect(page.locator("body")).to_have_attribute("data-rendered", str(renders + 1), timeout=20_000)
    assert refused["classify"] == 2 and refused["readyz"] >= 3
    expect(page.locator("#status")).to_contain_text("classified by")
    shot(page, "08-retried-after-503")

    # A 503 while /readyz already says ready (a model just loaded, another worker): said, and retried.
    page.unroute("**/readyz")
    refused["classify"] = 0
    page.click("#classify")
    expect(page.locator("#status")).to_contain_text("The service answered 503")
    expect(page.locator("body")).to_have_attribute("data-rendered", str(renders + 2), timeout=20_000)
    assert "undefined" not in (page.locator("#status").text_content() or "")


def test_a_classify_clicked_while_the_page_knows_the_model_is_loading_is_sent_when_ready(
    browser: Browser, service: Service
) -> None:
    """The click was dropped: no request, "The model is ready." and nothing classified."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        asked = {"readyz": 0, "classify": 0}
        loading = {"detail": [{"loc": [], "msg": "the model is still loading", "reason": "loading"}]}

        def loading_at_first(route: Route) -> None:
            asked["readyz"] += 1
            if asked["readyz"] <= 3:
                route.fulfill(status=503, json=loading)
            else:
                route.continue_()

        page.route("**/readyz", loading_at_first)
        page.on("request", lambda r: asked.__setitem__("classify", asked["classify"] + r.url.endswith("/v1/classify")))
        page.goto(service.base + "/")
        expect(page.locator("#model-badge")).to_contain_text("not ready")
        page.fill("#article-text", ARTICLE)
        page.click("#classify")
        expect(page.locator("#status")).to_contain_text("classifying when it is")
        expect(page.locator("body")).to_have_attribute("data-rendered", "1", timeout=30_000)
        assert asked["classify"] == 1
    finally:
        context.close()
