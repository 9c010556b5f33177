"""`topicframe train` through the real CLI against a real `mlflow server`: run, registry, alias, pyfunc."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import mlflow
import mlflow.artifacts
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, keep_mlflow_uris
from training.features import ArticleLayout
from training.pyfunc_check import verify_logged_model
from training.registry import load_model, tracking_client

from .conftest import FAST_ROLES, VENV_BIN, child_env, free_port, running, wait_for_http

pytestmark = pytest.mark.integration


def topicframe(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    return subprocess.run(
        [sys.executable, "-m", "training.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def tiny_data(tiny_corpus: tuple[Path, Path]) -> list[str]:
    """The suite's tiny corpus (a spread ninth of the training articles, every role and label): what is under test
    here is what a run logs and registers, not the model's figures."""
    return ["--data", str(tiny_corpus[0]), "--test-data", str(tiny_corpus[1])]


@pytest.fixture(scope="module")
def first_run(mlflow_server: str, tiny_corpus: tuple[Path, Path]):
    # No --promote: the first model registered under a name becomes its champion anyway.
    result = topicframe(
        mlflow_server,
        "train",
        *tiny_data(tiny_corpus),
        "--experiment",
        "it-train",
        "--set",
        "cv.folds=2",
        *FAST_ROLES,
        "--jobs",
        "2",
    )
    assert result.returncode == 0, result.stderr
    assert "Successfully registered model" not in result.stderr  # MLflow's line: train says the version itself
    client = tracking_client(mlflow_server)
    experiment = client.get_experiment_by_name("it-train")
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run, result.stdout


def test_run_has_params_metrics_tags_and_datasets(first_run) -> None:
    _, run, stdout = first_run
    assert "test — topic" in stdout
    version = next(line for line in stdout.splitlines() if "registered topicframe version" in line).split()[-1]
    assert f"no champion yet: version {version} is now champion" in stdout
    params = run.data.params
    assert params["classifier.type"] == "logreg"
    assert params["vectorizer.word_ngram_range"] == "1,2"
    assert params["cv.folds"] == "2"
    # What tuning decided is logged too (it was in the model's files only): each threshold and the fallback.
    assert 0 < float(params["tuned.topic.threshold.trade"]) < 1 and params["tuned.topic.at_least_one"] in (
        "true",
        "false",
    )
    assert "tuned.role.threshold.body" not in params  # the role set takes its top role: no threshold
    assert int(params["data.n_train"]) >= 1200 and int(params["data.n_test"]) >= 300
    metrics = run.data.metrics
    for key in (
        "topic.micro_f1",
        "topic.macro_f1",
        "frame.micro_f1",
        "topic.f1.trade",
        "frame.f1.conflict",
        "topic.hamming_loss",
        "topic.subset_accuracy",
        "cv.topic.micro_f1",
        "cv.frame.macro_f1",
    ):
        assert 0.0 <= metrics[key] <= 1.0, key
    tags = run.data.tags
    assert len(tags["codebook_sha256"]) == 64 and len(tags["data_digest"]) == 64 and tags["git_commit"]
    assert tags["fit_threads"] == "2"  # --jobs: how the labels were fitted, a tag (never a param: same model)
    assert "jobs" not in " ".join(params)
    contexts = {
        next(t.value for t in d.tags if t.key == "mlflow.data.context"): d.dataset.name
        for d in run.inputs.dataset_inputs
    }
    assert contexts == {"training": "train", "testing": "test"}
    # The name says the data too: six runs on six data sets had one name.
    assert run.info.run_name.endswith(f"_data{tags['data_digest'][:6]}"), run.info.run_name


def test_run_artifacts(first_run, tmp_path: Path) -> None:
    client, run, _ = first_run
    listed = {f.path for folder in ("reports", "plots", "data") for f in client.list_artifacts(run.info.run_id, folder)}
    assert {
        "reports/classification_report.json",
        "reports/classification_report.md",
        "reports/misclassified_test.csv",
        "plots/topic_confusion.png",
        "plots/topic_pr_curves.png",
        "plots/frame_confusion.png",
        "data/test.csv",
    } <= listed
    # Each plot also as a keyed image, which MLflow's chart view sets side by side across runs.
    images = {f.path for f in client.list_artifacts(run.info.run_id, "images")}
    assert any("topic_confusion" in path for path in images) and any("frame_pr_curves" in path for path in images)
    header = client.download_artifacts(run.info.run_id, "reports/misclassified_test.csv", str(tmp_path))
    assert Path(header).read_text().splitlines()[0].startswith("id,article_id,text,")


def test_registered_version_alias_and_loading(
    first_run, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, run, _ = first_run
    champion = client.get_model_version_by_alias("topicframe", "champion")
    assert champion.run_id == run.info.run_id
    assert champion.tags["bundle_sha256"] == run.data.tags["bundle_sha256"]

    # This server for the whole test, as MLflow's process-wide URIs too (they win over the environment variable);
    # all put back afterwards.
    keep_mlflow_uris(monkeypatch)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_registry_uri(mlflow_server)
    bundle, ref = load_model("models:/topicframe@champion", cache_dir=tmp_path)
    assert ref.version == champion.version and ref.run_id == run.info.run_id
    paragraphs = [
        "The two foreign ministers met in Jakarta and agreed to reopen consulates.",
        "Follow our correspondents on the Daily Ledger app.",
        "Drones struck a fuel depot near the front line overnight.",
    ]
    assert len(bundle.predict(paragraphs)["topic"]) == 3
    # MLflow downloads a models:/ URI to a new temp dir it never removes: give it one of ours.
    (tmp_path / "pyfunc").mkdir()
    pyfunc = mlflow.pyfunc.load_model("models:/topicframe@champion", dst_path=str(tmp_path / "pyfunc"))
    out = pyfunc.predict(pd.DataFrame({"text": paragraphs}))
    assert len(out) == 3
    # One-column rows are unrelated paragraphs to the pyfunc (no article_id column): each is scored alone.
    alone = bundle.predict(paragraphs, layout=ArticleLayout.alone(len(paragraphs)))
    assert out["topic_labels"].tolist() == [";".join(x) for x in alone["topic"]]
    assert out["role"].tolist()[1] == "promo" and out["topic_labels"][1] == ""
    # The logged signature names article_id (MLflow drops columns it does not name): rows of one article
    # are scored together, with positions and neighbours, as the service scores a request.
    # Roles given (the signature's role column), so that two paragraphs are content whatever the suite's small
    # model reads them as: context comes from content paragraphs only (with the corpus grown by W14 it read
    # the drone strike as a caption, which left the article nothing to add).
    roles = ["body", "promo", "body"]
    together = pyfunc.predict(pd.DataFrame({"text": paragraphs, "article_id": ["a"] * 3, "role": roles}))
    lone = pyfunc.predict(pd.DataFrame({"text": paragraphs, "role": roles}))
    grouped, alone_scores = (frame.filter(like="topic_score_").to_numpy() for frame in (together, lone))
    assert np.allclose(grouped, bundle.score(paragraphs, roles=roles).scores["topic"])
    assert not np.allclose(grouped, alone_scores)
    # Through the server's artifact proxy too, the logged files are what the registry's digest says.
    checked = verify_logged_model("models:/topicframe@champion", tmp_path / "checked")
    assert checked.pyfunc_sha256 == champion.tags["pyfunc_sha256"] and (tmp_path / "checked" / "MLmodel").is_file()


def test_loaders_sharing_a_cache_download_once(
    first_run, mlflow_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--workers N` starts N loaders at once on one cache directory: all must load, one must download.

    Each real download is slowed down so that, without coordination, they would overlap (and the
    second rename onto the finished copy failed with "Directory not empty").
    """
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    real_download = mlflow.artifacts.download_artifacts
    downloads: list[float] = []

    def slow_download(*args, **kwargs):
        downloads.append(time.monotonic())
        time.sleep(0.5)
        return real_download(*args, **kwargs)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", slow_download)
    results: list[object] = []

    def load() -> None:
        try:
            results.append(load_model("models:/topicframe@champion", cache_dir=tmp_path)[1].version)
        except Exception as exc:  # collected: the assertion below shows what failed
            results.append(exc)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    champion = first_run[0].get_model_version_by_alias("topicframe", "champion").version
    assert results == [champion] * 4
    assert len(downloads) == 1


def test_mlflow_models_serve_gives_one_prediction_per_row(first_run, mlflow_server: str, tmp_path: Path) -> None:
    """The pyfunc trap over HTTP: a one-column frame of several rows must give as many predictions.

    `first_run` registered the champion this serves.
    """
    port = free_port()
    command = [
        str(VENV_BIN / "mlflow"), "models", "serve", "-m", "models:/topicframe@champion",
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1",
    ]  # fmt: skip
    paragraphs = [
        "Washington and Beijing agreed to extend the tariff truce.",
        "Photograph: Kim Lee for the Daily Ledger",
        "Drones struck a fuel depot near the front line overnight.",
        "The two foreign ministers met in Jakarta and agreed to reopen consulates.",
    ]
    log = tmp_path / "models-serve.log"
    # `mlflow models serve` downloads the model to a temp dir it never removes: point TMPDIR at ours.
    environment = child_env(MLFLOW_TRACKING_URI=mlflow_server, TMPDIR=str(tmp_path))
    with running(command, log, environment) as process:
        wait_for_http(f"http://127.0.0.1:{port}/ping", timeout=300, process=process, log=log)
        body = {"dataframe_split": {"columns": ["text"], "data": [[p] for p in paragraphs]}}
        response = httpx.post(f"http://127.0.0.1:{port}/invocations", json=body, timeout=60)
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(paragraphs)
    os.environ["MLFLOW_TRACKING_URI"] = mlflow_server
    try:
        bundle, _ = load_model("models:/topicframe@champion", cache_dir=tmp_path / "cache")
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]
    expected = bundle.predict(paragraphs, layout=ArticleLayout.alone(len(paragraphs)))  # rows are unrelated
    assert [row["topic_labels"] for row in predictions] == [";".join(x) for x in expected["topic"]]
    assert [row["frame_labels"] for row in predictions] == [";".join(x) for x in expected["frame"]]
    assert predictions[1]["topic_labels"] == "" and predictions[1]["frame_labels"] == ""  # a caption: no labels


def test_promotion_moves_the_alias_only_for_a_better_model(
    first_run, mlflow_server: str, tiny_corpus: tuple[Path, Path]
) -> None:
    client, run, _ = first_run
    result = topicframe(
        mlflow_server,
        "train",
        *tiny_data(tiny_corpus),
        "--experiment",
        "it-train",
        "--promote",
        "--set",
        "cv.folds=2",
        "--set",
        "classifier.type=complement_nb",
        "--set",
        "classifier.alpha=0.3",
        "--set",
        "vectorizer.char_ngram_range=null",  # the promotion rule is under test, not the features: half the time
        *FAST_ROLES,
    )
    assert result.returncode == 0, result.stderr
    assert "already exists" not in result.stderr and "Created version" not in result.stderr, result.stderr
    assert "per-label F1 (same test data)" in result.stdout
    experiment = client.get_experiment_by_name("it-train")
    runs = {r.info.run_id: r for r in client.search_runs([experiment.experiment_id])}
    second = next(r for rid, r in runs.items() if rid != run.info.run_id)
    better = second.data.metrics["topic.micro_f1"] > run.data.metrics["topic.micro_f1"]
    champion = client.get_model_version_by_alias("topicframe", "champion")
    assert champion.run_id == (second.info.run_id if better else run.info.run_id)
    assert ("promoted: candidate beats" in result.stdout) == better


def test_no_champion_errors_name_the_fix(mlflow_server: str, tmp_path: Path) -> None:
    """Over the REST API too: no such registered model, or one whose versions lack the alias."""
    article = tmp_path / "article.txt"
    article.write_text("Envoys met in Doha.\n")
    tracking_client(mlflow_server).create_registered_model("it-no-alias")
    for name in ("it-not-registered", "it-no-alias"):
        result = topicframe(mlflow_server, "classify", str(article), "--model", f"models:/{name}@champion")
        assert result.returncode == 1, result.stdout
        (line,) = result.stderr.strip().splitlines()
        assert f"models:/{name}@champion: no model has the alias 'champion' yet: run " in line
        assert (
            f"`topicframe train --set model_name={name}`" in line
            and f"`topicframe promote VERSION --name {name}`" in line
        )


def test_skips_training_when_a_champion_exists(first_run, mlflow_server: str) -> None:
    result = topicframe(mlflow_server, "train", "--if-no-champion")
    assert result.returncode == 0 and "already has topicframe@champion; not training" in result.stdout


def test_sigterm_while_the_run_is_logged_leaves_no_run_and_no_version(
    tiny_corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    """SIGTERM (a CI timeout, a container stopped) ended Python at once: a tester's run stayed RUNNING for good,
    with its metrics and a pending model. Now it stops as Ctrl-C does: the run is ended and deleted."""
    import signal
    import sqlite3

    database = tmp_path / "mlflow.db"
    command = [sys.executable, "-m", "training.cli", "train", *tiny_data(tiny_corpus), "--labels", str(ROOT / "labels")]
    # A small fast model (word features, 3-character role n-grams: 15 s, not 35): what is under test is the
    # logging. Run in tmp_path: the store's artifacts go there.
    command += ["--set", "cv.folds=2", "--set", "vectorizer.char_ngram_range=null", *FAST_ROLES]
    environment = child_env(MLFLOW_TRACKING_URI=f"sqlite:///{database}")
    log = tmp_path / "train.log"

    def runs(status: str) -> int:
        if not database.is_file():
            return 0
        # Read-only, every row fetched and the connection closed: a statement left open keeps a shared lock, and
        # the training process's next write failed with "database is locked".
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as db:
            try:
                return db.execute("select count(*) from runs where status = ?", (status,)).fetchall()[0][0]
            except sqlite3.OperationalError:  # the tables are not made yet
                return 0

    with running(command, log, environment, cwd=tmp_path) as process:
        deadline = time.monotonic() + 240
        while runs("RUNNING") == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runs("RUNNING") == 1, log.read_text()[-2000:]  # the run is open: it is being logged
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    said = log.read_text()
    assert process.returncode == 130 and "interrupted: nothing was trained or logged" in said, said[-2000:]
    assert "Traceback" not in said
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert db.execute("select status, lifecycle_stage from runs").fetchall() == [("FAILED", "deleted")]
        assert (
            db.execute("select count(*) from model_versions where current_stage != 'Deleted_Internal'").fetchone()[0]
            == 0
        )
