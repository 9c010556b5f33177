"""`topicframe ui` in a real browser, and a project folder whose MLflow store survives being moved.

One small model is trained into a fresh project folder's embedded store (``./mlflow.db``, artifacts in
``./mlartifacts``); `topicframe ui` must print the runs table's URL once the server answers, and
Debian's chromium (through Playwright) must find there the runs table with the headline metric
columns, not MLflow 3's GenAI view. Screenshots go to test-output/screenshots/mlflow-*.png (gitignored); the
README's copies in docs/screenshots/ are taken from there by hand.
Then the folder is moved and the champion still loads from the new place.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, keep_mlflow_uris
from tests.unit.training.test_cli_registry import write_data
from training.cli import app
from training.registry import load_model, tracking_client
from training.tracking import ARTIFACTS_DIR, EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, NOTE_TAG

from .conftest import child_env, free_port, running, tail

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
SCREENSHOTS = ROOT / "test-output" / "screenshots"  # never into the tracked tree: a test run leaves it clean
READY = re.compile(r"MLflow UI ready — .*: (?P<url>http://\S+)")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project folder with one registered model in its embedded store, trained from that folder."""
    folder = tmp_path_factory.mktemp("project") / "newsdesk"
    folder.mkdir()
    with pytest.MonkeyPatch.context() as monkeypatch:
        keep_mlflow_uris(monkeypatch)  # `train` in this process sets them to this project's store
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
        monkeypatch.chdir(folder)
        result = CliRunner().invoke(app, ["train", *write_data(folder), "--quiet"])
        assert result.exit_code == 0, result.output
    yield folder


def descendants(pid: int) -> list[list[str]]:
    """The command lines of every process started, directly or not, by process ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:  # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while being listed
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        todo += children.get(child, [])
        try:
            found.append((Path("/proc") / str(child) / "cmdline").read_bytes().decode(errors="replace").split("\0"))
        except OSError:
            continue
    return found


def test_runs_use_relative_artifacts_a_note_headline_metrics_and_the_ml_experiment_kind(project: Path) -> None:
    client = tracking_client(f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("topicframe")
    assert experiment.tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND
    assert experiment.artifact_location == f"{ARTIFACTS_DIR}/{experiment.experiment_id}"  # relative
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.artifact_uri.startswith(f"{ARTIFACTS_DIR}/")
    assert (project / ARTIFACTS_DIR / experiment.experiment_id / run.info.run_id / "artifacts" / "plots").is_dir()
    assert not (project / "mlruns").exists()
    note = run.data.tags[NOTE_TAG]
    score = run.data.metrics["topic.micro_f1"]
    assert "**logreg**" in note and f"topic {score:.3f}" in note
    assert run.data.metrics["score.topic_micro_f1"] == score  # headline names sort together: score.*
    assert {k for k in run.data.metrics if k.startswith("score.")} == {
        "score.topic_micro_f1",
        "score.cv_topic_micro_f1",
    }
    assert {"bundle_sha256", "data_digest", "codebook_sha256"} <= set(run.data.tags)
    assert not {"bundle_sha256", "data_digest", "codebook_sha256"} & set(run.data.params)
    assert run.data.params["data.label_sets"] == "topic"


def test_ui_prints_the_runs_table_url_and_the_browser_shows_metric_columns(project: Path) -> None:
    from playwright.sync_api import sync_playwright

    port = free_port()
    log = project.parent / "ui.log"
    command = [sys.executable, "-m", "training.cli", "ui", "--port", str(port), "--timeout", "170"]
    env = {k: v for k, v in child_env().items() if k != "MLFLOW_TRACKING_URI"}
    with running(command, log, env, cwd=project) as process:
        deadline, url = time.monotonic() + 180, None  # seconds on an idle machine; minutes under load
        while url is None and time.monotonic() < deadline and process.poll() is None:
            found = READY.search(log.read_text(errors="replace")) if log.exists() else None
            url = found["url"] if found else None
            time.sleep(0.2)
        assert url is not None, tail(log)
        # MLflow's job runner (huey consumers for GenAI jobs) is not started: 2 GB and 40 s of CPU for nothing.
        started = [" ".join(command) for command in descendants(process.pid)]
        assert any(" mlflow server " in f" {command} " for command in started), started
        assert not [command for command in started if "huey" in command], started
        assert url.endswith("/runs?workflowType=machine_learning&viewStateShareKey=headline")
        assert f":{port}/#/experiments/" in url
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1500, "height": 600})
            page.goto(url)
            # The runs table of a training experiment ("Model training" selected, not GenAI), with the
            # headline metrics as columns, sorted by the test topic score.
            page.get_by_text("logreg_word1-2_char2-5_C3_nb0.5").first.wait_for(timeout=60_000)
            assert page.get_by_role("columnheader", name="score.topic_micro_f1").first.is_visible()
            assert page.get_by_role("columnheader", name="score.cv_topic_micro_f1").first.is_visible()
            assert page.get_by_text("Sort: score.topic_micro_f1").is_visible()
            page.screenshot(path=str(SCREENSHOTS / "mlflow-runs.png"))
            page.get_by_text("logreg_word1-2_char2-5_C3_nb0.5").first.click()
            page.get_by_text("Test micro-F1").first.wait_for(timeout=60_000)  # the run's description
            page.screenshot(path=str(SCREENSHOTS / "mlflow-run.png"))
            browser.close()


def test_the_project_folder_can_move(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moved = project.parent / "moved" / "newsdesk"
    moved.parent.mkdir()
    shutil.move(project, moved)  # nothing may still point into the old folder
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(moved)
    bundle, ref = load_model("models:/topicframe@champion", cache_dir=moved / "cache")
    # Words of this toy model's vocabulary: text it has no words for would not be read (`decision.min_known_words`).
    assert ref.version == "1" and bundle.predict(["The tariffs and the imports dominated the day."])["topic"] == [
        ["trade"]
    ]
    # From another folder, the store named by an absolute URI: its relative artifact paths are the store's.
    monkeypatch.chdir(moved.parent)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{moved / 'mlflow.db'}")
    _, elsewhere = load_model("models:/topicframe@champion", cache_dir=moved.parent / "cache-elsewhere")
    assert elsewhere.version == "1"
    monkeypatch.chdir(moved)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    listed = subprocess.run(
        [sys.executable, "-m", "training.cli", "classify", "-", "--format", "csv"],
        input="The customs and the exports dominated the day.",
        capture_output=True,
        text=True,
        cwd=moved,
        env={k: v for k, v in child_env().items() if k != "MLFLOW_TRACKING_URI"},
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].endswith(",trade,The customs and the exports dominated the day.")
