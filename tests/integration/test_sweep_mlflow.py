"""`topicframe sweep`, `compare` and `diff` through the real CLI against a real `mlflow server`.

The sweep runs as a real process (it starts worker processes of its own); `compare`, `diff` and the
second training run call the same CLI in-process, which saves an interpreter start per command.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from tests.conftest import LABELS
from tests.integration.conftest import FAST_ROLES
from tests.integration.test_training_mlflow import topicframe
from training.cli import app

pytestmark = pytest.mark.integration

EXPERIMENT = "it-sweep"
MODEL = "it-sweep"  # not `topicframe`: the training tests own that registered model and its champion
# Every run of this module (the sweep's and diff's) with FAST_ROLES: their machinery is under test.
COMMON = ["--set", "cv.folds=2", *FAST_ROLES, "--set", f"model_name={MODEL}", "--experiment", EXPERIMENT]


@pytest.fixture(scope="module")
def sweep(mlflow_server: str, tmp_path_factory: pytest.TempPathFactory, tiny_corpus: tuple[Path, Path]):
    path = tmp_path_factory.mktemp("sweep") / "small.yaml"
    train, test = tiny_corpus
    spec = {
        "name": "small",
        # The tiny corpus, word n-grams (and COMMON's role n-grams): this tests the sweep machinery, not the
        # model, in seconds a trial.
        "base": {
            "data": {"train": [str(train)], "test": [str(test)], "labels_dir": str(LABELS)},
            "vectorizer": {"char_ngram_range": None},
        },
        # min_df 100,000 leaves no terms: those two trials fail at fit time, as a real sweep's trials can.
        "parameters": {"classifier.C": [0.3, 10], "vectorizer.min_df": [1, 100_000]},
        "max_parallel": 2,
    }
    path.write_text(yaml.safe_dump(spec))
    result = topicframe(mlflow_server, "sweep", str(path), "--register-best", *COMMON)
    # Exit 1 after ranking and registering the rest (it was 0: a script never learnt of the failed trials).
    assert result.returncode == 1, result.stderr
    said = result.stderr.strip().splitlines()[-1]
    assert said.startswith("error: 2 of 4 trials failed (trial 2, ") and "the ranking is of the other 2" in said
    # Both URIs: without registry_uri the client would use the process-wide registry URI that earlier tests set.
    client = MlflowClient(tracking_uri=mlflow_server, registry_uri=mlflow_server)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if r.data.tags.get("sweep.role") == "parent"]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    failed = [r for r in trials if r.info.status == "FAILED"]
    assert len(failed) == 2 and all(r.data.params["vectorizer.min_df"] == "100000" for r in failed)
    assert all(r.data.tags["sweep.error"] for r in failed) and parent.data.tags["sweep.failed_trials"] == "2"
    children = [r for r in trials if r not in failed]  # the two that were fitted
    return client, parent, children, result.stdout


def test_parent_and_one_child_per_trial_with_params_and_metrics(sweep) -> None:
    _, parent, children, stdout = sweep
    assert parent.info.run_name == "sweep-small" and parent.info.status == "FINISHED"
    assert parent.data.params["sweep.parameters"] == "classifier.C,vectorizer.min_df"
    assert parent.data.params["sweep.workers"] == "2"
    assert len(children) == 2
    assert sorted(c.data.tags["sweep.trial"] for c in children) == ["1", "3"]
    combos = {(c.data.params["classifier.C"], c.data.params["vectorizer.min_df"]) for c in children}
    assert combos == {("0.3", "1"), ("10.0", "1")}
    for child in children:
        assert child.info.status == "FINISHED"
        params, metrics = child.data.params, child.data.metrics
        assert params["cv.folds"] == "2" and params["classifier.type"] == "logreg" and int(params["data.n_test"]) > 300
        for key in ("cv.topic.micro_f1", "cv.frame.macro_f1", "topic.micro_f1", "frame.f1.conflict"):
            assert 0.0 <= metrics[key] <= 1.0, key
        assert metrics["fit_seconds"] > 0 and metrics["model_size_bytes"] > 10_000
        # What `topicframe train` records too (trials had no datasets, description, split or error count).
        assert metrics["test.misclassified_rows"] > 0 and "tuned.topic.threshold.trade" in params
        assert "Test micro-F1" in child.data.tags["mlflow.note.content"] and child.data.tags["split_method"]
        contexts = {t.value for d in child.inputs.dataset_inputs for t in d.tags if t.key == "mlflow.data.context"}
        assert contexts == {"training", "testing"}
    assert "MLflow parent run" in stdout and "| classifier.C | vectorizer.min_df |" in stdout


def test_best_child_is_tagged_and_comparison_artifacts_are_on_the_parent(sweep, tmp_path: Path) -> None:
    client, parent, children, _ = sweep
    scores = {c.info.run_id: c.data.metrics["cv.topic.micro_f1"] for c in children}
    best = parent.data.tags["best_run_id"]
    assert scores[best] == max(scores.values())
    assert [c.info.run_id for c in children if c.data.tags.get("sweep.best") == "true"] == [best]
    assert parent.data.metrics["best_cv.topic.micro_f1"] == scores[best]

    listed = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"comparison.csv", "comparison.md", "cv.topic.micro_f1_vs_params.png", "sweep.yaml"} <= listed
    local = client.download_artifacts(parent.info.run_id, "comparison.csv", str(tmp_path))
    rows = list(csv.DictReader(io.StringIO(Path(local).read_text())))
    assert [float(r["cv.topic.micro_f1"]) for r in rows] == sorted((round(s, 4) for s in scores.values()), reverse=True)
    assert rows[0]["run_id"] == best[:8]
    assert {"classifier.C", "vectorizer.min_df"} <= set(rows[0]) and "classifier.type" not in rows[0]  # varying only
    png = client.download_artifacts(parent.info.run_id, "cv.topic.micro_f1_vs_params.png", str(tmp_path))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_register_best_registers_the_best_child_and_promotes_it(sweep) -> None:
    client, parent, children, stdout = sweep
    best = parent.data.tags["best_run_id"]
    (version,) = client.search_model_versions(f"name = '{MODEL}'")
    assert version.run_id == best
    assert client.get_model_version_by_alias(MODEL, "champion").version == version.version
    assert "promoted: no champion yet" in stdout
    completed = client.get_run(best)
    assert completed.data.tags["registered_version"] == version.version
    assert version.tags["bundle_sha256"] == completed.data.tags["bundle_sha256"]
    assert {"data", "reports", "plots"} <= {f.path for f in client.list_artifacts(best)}
    light = next(c for c in children if c.info.run_id != best)
    assert {f.path for f in client.list_artifacts(light.info.run_id)} == {"config.yaml"}


@pytest.fixture
def cli(mlflow_server: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def test_compare_prints_the_best_runs_without_the_parent(sweep, cli) -> None:
    _, parent, _, _ = sweep
    result = cli("compare", "--experiment", EXPERIMENT, "--top", "1", "--markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2 + 1  # the header, its rule, the best run
    assert parent.info.run_id[:8] not in result.stdout and "sweep-small" not in result.stdout
    best = parent.data.tags["best_run_id"]
    assert f"| {best[:8]} |" in lines[2]

    one_sweep = cli("compare", "--experiment", EXPERIMENT, "--sweep", parent.info.run_id[:8], "--markdown")
    assert one_sweep.exit_code == 0, one_sweep.output
    lines = one_sweep.stdout.strip().splitlines()
    assert len(lines) == 2 + 2
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    # The params that differ between the runs shown, and only those: both fitted trials had min_df 1.
    assert header[:3] == ["run", "run_id", "classifier.C"] and "vectorizer.min_df" not in header
    assert {"cv.topic.micro_f1", "topic.micro_f1", "frame.macro_f1", "cv.frame.micro_f1"} <= set(header)
    ranked_by = parent.data.params["sweep.metric"]  # the sweep's own metric, without --metric
    assert (
        cli("compare", "--experiment", EXPERIMENT, "--sweep", parent.info.run_id[:8]).stdout.count(f"by {ranked_by}")
        == 1
    )
    # A trial (or a training run) is not a sweep: said so, not "no finished run has metric ...".
    not_a_sweep = cli("compare", "--experiment", EXPERIMENT, "--sweep", best[:8])
    assert not_a_sweep.exit_code == 1
    assert f"is a trial of sweep run {parent.info.run_id[:8]}; give the parent run's id" in not_a_sweep.output

    table = cli("compare", "--experiment", EXPERIMENT, "--metric", "topic.macro_f1")
    assert table.exit_code == 0, table.output
    assert "top 2 by topic.macro_f1" in table.stdout and best[:8] in table.stdout


def test_diff_shows_per_label_changes_and_changed_paragraphs(
    sweep, cli, tmp_path: Path, tiny_corpus: tuple[Path, Path]
) -> None:
    _, parent, children, _ = sweep
    best = parent.data.tags["best_run_id"]
    data = [
        "--data",
        str(tiny_corpus[0]),
        "--test-data",
        str(tiny_corpus[1]),
        "--set",
        "vectorizer.char_ngram_range=null",
    ]
    trained = cli("train", *data, *COMMON, "--set", "classifier.type=complement_nb", "--set", "classifier.alpha=0.3")
    assert trained.exit_code == 0, trained.output
    other = next(line.split()[2] for line in trained.stdout.splitlines() if line.startswith("MLflow run "))

    out = tmp_path / "changes.csv"
    result = cli("diff", best[:8], other, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "test metrics: A = t0" in result.stdout and "complement_nb" in result.stdout
    assert "human_rights" in result.stdout and "micro_f1" in result.stdout
    assert "test paragraphs changed labels" in result.stdout
    assert "tested on different data" not in result.output and "its own training files" not in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and set(rows[0]) == {"id", "label_set", "gold", "run_a", "run_b", "text"}
    assert all(set(r["run_a"].split(";")) != set(r["run_b"].split(";")) for r in rows)
    again = cli("diff", best[:8], other, "--output", str(out))  # refused before anything is scored
    assert again.exit_code == 1 and "changes.csv: already exists (pass --overwrite to replace it)" in again.output
    assert cli("diff", best[:8], other, "--output", str(out), "--overwrite").exit_code == 0
    nowhere = cli("diff", best[:8], other, "--output", str(tmp_path / "no" / "x.csv"))
    assert nowhere.exit_code == 1 and f"directory {tmp_path / 'no'} does not exist" in nowhere.output

    light = next(c.info.run_id for c in children if c.info.run_id != best)
    metrics_only = cli("diff", light, best)
    assert metrics_only.exit_code == 0, metrics_only.output
    assert "metric changes only" in metrics_only.stdout and "frame" in metrics_only.stdout

    summary = cli("diff", parent.info.run_id[:8], best, "--output", str(tmp_path / "parent.csv"))
    assert summary.exit_code == 1 and f"is a sweep's parent run; its best trial is {best[:8]}" in summary.output
    assert not (tmp_path / "parent.csv").exists()
    light_out = cli("diff", light, best, "--output", str(tmp_path / "light.csv"))
    assert light_out.exit_code == 0 and "light.csv not written: there are no paragraph changes" in light_out.stdout

    # B tested on rows held out from its own files (no --test-data), some of which A was trained on: said, with
    # the difference in test data (a tester's diff counted "B broke 231" on A's own training rows).
    own_split = cli("train", "--data", str(tiny_corpus[0]), *COMMON, "--set", "vectorizer.char_ngram_range=null")
    assert own_split.exit_code == 0, own_split.output
    split_run = next(line.split()[2] for line in own_split.stdout.splitlines() if line.startswith("MLflow run "))
    unfair = cli("diff", best[:8], split_run)
    assert unfair.exit_code == 0, unfair.output
    said = " ".join(unfair.output.split())
    assert "A and B were tested on different data" in said
    assert "B was tested on a part of its own training files (" in said and "Train both with --test-data" in said

    missing = cli("diff", "ffffffff", best)
    assert missing.exit_code == 1 and "ffffffff: no run has an id starting so" in missing.output
