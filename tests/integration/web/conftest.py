"""The analyst web page in a real browser (Debian's chromium through Playwright) against a real service.

Two versions of the session's test model are registered on the suite's `mlflow server`
(the second with stricter topic/frame thresholds, so the two disagree on some paragraphs);
one `python -m service` process serves the champion and one browser is shared by the
package's modules (test_page: results, downloads, compare, errors; test_corrections: correct
mode). Every test records each URL the page requests and aborts any that leaves 127.0.0.1;
none may. Screenshots of each state go to test-output/screenshots/, and the measured figures
(cold-load bytes, click-to-rendered time for 40 paragraphs, layout shift) to
test-output/web-measurements.json: reported, not asserted, except that the layout must not
shift when results arrive.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect, sync_playwright

from training.config import RunConfig
from training.registry import tracking_client
from training.train import TrainingResult, evaluate

from ..conftest import ROOT, child_env, free_port, running, tail, wait_for_http

MODEL = "topicframe-web"  # its own registered model: the MLflow server is shared with other test modules
ADMIN_KEY = "web-admin-key"
MAX_PARAGRAPH_CHARS = 5_000  # lowered so the "over the limit" message is quick to provoke
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
MEASUREMENTS = ROOT / "test-output" / "web-measurements.json"

ARTICLE = "\n\n".join(
    [
        "Beijing and Washington extend tariff truce as soybean purchases resume",
        "By Mei Zhang and Tom Hollis",
        "Washington and Beijing agreed on Tuesday to extend their tariff truce by another ninety days, with China "
        "pledging to buy more soybeans and liquefied natural gas from American exporters.",
        "Customs officers detained three shipments of solar panels at the port of Los Angeles under the forced "
        "labour law, saying the polysilicon inside was traced to camps in Xinjiang.",
        "Photograph: Kim Lee for the Daily Ledger",
        "The two governments said negotiators would meet again in Geneva next month to discuss export controls on "
        "advanced chips, which Beijing calls a threat to its development.",
    ]
)


def stricter(result: TrainingResult) -> TrainingResult:
    """The same model with every topic and frame threshold raised: a second version that gives fewer labels."""
    bundle = copy.deepcopy(result.bundle)
    for name in bundle.content_label_sets:
        raised = np.minimum(np.asarray(list(bundle.thresholds(name).values())) + 0.2, 0.97)
        bundle.set_thresholds(name, raised)
    test = evaluate(bundle, result.data.test)
    bundle.metrics = {
        f"{name}.{key}": float(value)
        for name, report in test.reports.items()
        for key, value in report.items()
        if key != "per_label"
    }
    return dataclasses.replace(result, bundle=bundle, test=test)


@dataclasses.dataclass
class Service:
    base: str
    tracking_uri: str
    versions: tuple[str, str]


@pytest.fixture(scope="package")
def web_registry(mlflow_server: str, trained: TrainingResult, default_config: RunConfig) -> tuple[str, str]:
    """Versions 1 (champion) and 2 (stricter) of MODEL, logged like `topicframe train` logs them."""
    from training.tracking import log_training_run

    config = default_config.model_copy(update={"model_name": MODEL, "experiment": "it-web"})
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", mlflow_server)
        first = log_training_run(config, trained).model_version
        second = log_training_run(config, stricter(trained)).model_version
    tracking_client(mlflow_server).set_registered_model_alias(MODEL, "champion", first)
    return first, second


@pytest.fixture(scope="package")
def service(
    mlflow_server: str, web_registry: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """`python -m service` on a free loopback port, serving MODEL@champion, with the admin key set."""
    tmp = tmp_path_factory.mktemp("web-service")
    port = free_port()
    log = tmp / "service.log"
    environment = child_env(
        MLFLOW_TRACKING_URI=mlflow_server,
        TOPICFRAME_MODEL_URI=f"models:/{MODEL}@champion",
        TOPICFRAME_ADMIN_KEY=ADMIN_KEY,
        TOPICFRAME_MODEL_CACHE_DIR=str(tmp / "model-cache"),
        TOPICFRAME_MODEL_REFRESH_SECONDS="0",
        TOPICFRAME_MAX_PARAGRAPH_CHARS=str(MAX_PARAGRAPH_CHARS),
        TOPICFRAME_GRACEFUL_SHUTDOWN_SECONDS="1",  # teardown does not wait for the browser's idle connections
        TOPICFRAME_FEEDBACK_URL=f"sqlite:///{tmp / 'feedback.db'}",
    )
    command = [sys.executable, "-m", "service", "--port", str(port)]
    # cwd: anything the service writes by default (a feedback store, say) lands in the temp dir, not the repo.
    with running(command, log, environment, cwd=tmp) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/readyz", timeout=180, process=process, log=log)
        yield Service(base, mlflow_server, web_registry)
    assert "Traceback" not in log.read_text(), tail(log)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclasses.dataclass
class Tab:
    page: Page
    context: BrowserContext
    requested: list[str]


@pytest.fixture
def open_page(browser: Browser, service: Service) -> Iterator[Any]:
    """``open_page(width, height)``: a fresh browser context on the page; every request is recorded, and any
    that does not go to the service is aborted (and fails the test at teardown)."""
    contexts: list[Tab] = []

    def make(width: int = 1280, height: int = 900) -> Tab:
        context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        requested: list[str] = []

        def check(route: Route) -> None:
            url = route.request.url
            requested.append(url)
            if urlsplit(url).hostname == "127.0.0.1":
                route.continue_()
            else:
                route.abort()

        context.route("**/*", check)
        context.add_init_script(LAYOUT_SHIFT_PROBE)
        page = context.new_page()
        tab = Tab(page, context, requested)
        contexts.append(tab)
        page.goto(service.base + "/")
        expect(page.locator("#model-badge")).to_contain_text(f"v{service.versions[0]}")
        return tab

    yield make
    for tab in contexts:
        tab.context.close()
        outside = [url for url in tab.requested if urlsplit(url).hostname != "127.0.0.1"]
        assert not outside, f"the page requested outside 127.0.0.1: {outside}"
        assert tab.requested, "no request was recorded: the interception did not run"


# Sums layout-shift entries (the Layout Instability API) for the whole life of the page.
LAYOUT_SHIFT_PROBE = """
window.__layoutShift = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (!entry.hadRecentInput) window.__layoutShift += entry.value;
}).observe({type: "layout-shift", buffered: true});
"""


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def record(**figures: Any) -> None:
    """Merge measured figures into test-output/web-measurements.json (reported by hand, not asserted)."""
    MEASUREMENTS.parent.mkdir(parents=True, exist_ok=True)
    known = json.loads(MEASUREMENTS.read_text()) if MEASUREMENTS.is_file() else {}
    MEASUREMENTS.write_text(json.dumps(known | figures, indent=2) + "\n")


def classify_in_page(page: Page, text: str) -> float:
    """Paste `text`, click Classify, wait for the results; returns milliseconds from the click to rendered."""
    page.fill("#article-text", text)
    # The page counts its renders in body[data-rendered]. (Not wait_for_function: its predicate is eval'ed,
    # which the page's Content-Security-Policy forbids.)
    renders = int(page.locator("body").get_attribute("data-rendered") or 0)
    started = time.perf_counter()
    page.click("#classify")
    expect(page.locator("body")).to_have_attribute("data-rendered", str(renders + 1), timeout=60_000)
    return (time.perf_counter() - started) * 1000


def api_result(service: Service, text: str) -> dict[str, Any]:
    response = httpx.post(f"{service.base}/v1/classify", json={"text": text, "explain": 5}, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result
