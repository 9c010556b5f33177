"""Label audit: corrupted labels are found (seeded, on a slice of the corpus), and bad input fails cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.audit_corruption import corrupt, detection_figures
from tests.conftest import LABELS, subset_articles, write_csv
from training.cli import app
from training.config import RunConfig, load_config
from training.quality.audit import (
    LabelSetAudit,
    audit_scores,
    find_issues,
    load_audit_data,
    suggest_no_content_labels_off_content_roles,
)
from training.registry import tracking_client

runner = CliRunner()
FRAMES = {"trade": "economic_consequences", "security": "security_threat"}


@pytest.fixture(scope="module")
def slice_config(tmp_path_factory: pytest.TempPathFactory) -> RunConfig:
    """Every 10th training article (about 900 rows) and a fast word-only model with 3 folds."""
    path = subset_articles(LABELS / "paragraphs.csv", tmp_path_factory.mktemp("audit") / "slice.csv", 10)
    overrides = {
        "data.train": [str(path)],
        "data.labels_dir": str(LABELS),
        "vectorizer.char_ngram_range": None,
        "context.neighbours": 0.0,
        "context.headline": 0.0,
        "context.article": 0.0,
        "cv.folds": 3,
    }
    return load_config(None, overrides)


def test_corrupted_labels_are_flagged_and_ranked_first(slice_config: RunConfig) -> None:
    codebooks, data = load_audit_data(slice_config)
    names = {name: cb.label_names for name, cb in codebooks.items()}
    corrupted, changes = corrupt(data, slice_config, names, rate=0.1, seed=3)
    assert {c.kind for c in changes} == {"drop", "add", "swap"}
    assert all(corrupted.labels[c.label_set][c.row] != data.labels[c.label_set][c.row] for c in changes)

    result = find_issues(slice_config, codebooks, corrupted, audit_scores(slice_config, codebooks, corrupted))
    figures = detection_figures(result, [c.row for c in changes])
    base_rate = figures["corrupted"] / int(result.sets["topic"].audited.sum())
    # Loose floors (a small slice and a weak model): most corruptions flagged, and the top of the
    # ranking far richer in them than chance.
    assert figures["flagged_recall"] >= 0.6, figures
    assert figures["precision_at_k"] >= 1.5 * base_rate, figures
    # Non-content rows are never audited for topic or frame, and the ranking puts flagged rows first.
    role = np.array([row[0] for row in corrupted.labels["role"]])
    assert not result.sets["topic"].audited[~np.isin(role, ["body", "headline"])].any()
    flagged = result.flagged[result.order]
    assert not (np.diff(flagged.astype(int)) > 0).any()


def test_row_quality_is_its_least_believed_label_decision(slice_config: RunConfig) -> None:
    """In a multi-label set a row's quality is the out-of-fold probability of its least believed yes/no
    decision, not an average that the labels the model agrees with would raise (seeded scores, no fit)."""
    codebooks, data = load_audit_data(slice_config)
    rng = np.random.default_rng(0)
    oof = {name: rng.uniform(0.01, 0.99, (len(data), len(cb.label_names))) for name, cb in codebooks.items()}
    result = find_issues(slice_config, codebooks, data, oof)
    for name in ("topic", "frame"):
        audited = result.sets[name].audited
        given = data.label_matrix(name, codebooks[name].label_names).astype(bool)
        believed = np.where(given, oof[name], 1 - oof[name])[audited]
        np.testing.assert_allclose(result.sets[name].quality[audited], believed.min(axis=1), rtol=1e-6)
        assert (result.sets[name].quality[~audited] == 1.0).all()


def test_audit_command_writes_ranking_and_logs_a_run(
    slice_config: RunConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the project folder: its embedded store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    rows = [
        {"id": f"r{i}", "article_id": f"A{i // 4}", "text": text, "topic": topic, "frame": FRAMES[topic]}
        for i, (text, topic) in enumerate(
            [(f"Tariffs on steel imports number {i} raised by the trade ministry.", "trade") for i in range(12)]
            + [(f"Soldiers and missiles deployed near the border, report {i}.", "security") for i in range(11)]
            + [("Tariffs on steel imports were raised again by the trade ministry.", "security")]
        )
    ]
    data = write_csv(tmp_path / "tiny.csv", rows)
    out = tmp_path / "ranking.csv"
    args = [
        "audit",
        "--data",
        str(data),
        "--labels",  # as `train --labels` (it took `--set data.labels_dir=...`)
        str(LABELS),
        "--set",
        "data.label_sets=[topic,frame]",
    ]
    args += ["--set", "cv.folds=3", "--set", "vectorizer.char_ngram_range=null", "--out", str(out), "--top", "3"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    header, *lines = out.read_text(encoding="utf-8").splitlines()
    assert header.startswith("rank,id,article_id,source,flagged,flagged_sets,quality,text,")
    assert len(lines) == len(rows)
    assert lines[0].split(",")[1] == "r23"  # the trade paragraph labelled security is the most suspect
    client = tracking_client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("topicframe-audit")
    assert experiment is not None
    # As training's experiments: relative to the store, so the project folder can move (was <cwd>/mlruns/<id>).
    assert experiment.artifact_location == f"mlartifacts/{experiment.experiment_id}"
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.metrics["rows"] == len(rows)
    assert [a.path for a in client.list_artifacts(run.info.run_id, "audit")] == ["audit/label_audit.csv"]

    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert "already exists (pass --overwrite" in again.output
    folder = tmp_path / "a-folder"
    folder.mkdir()  # refused before any work (it logged the run, then failed to write, leaving a .partial)
    into_folder = runner.invoke(app, [*args[: args.index("--out")], "--out", str(folder), "--overwrite"])
    assert into_folder.exit_code == 1 and "a-folder: is a directory; give a file name" in into_folder.output
    assert len(client.search_runs([experiment.experiment_id])) == 1 and not (tmp_path / "a-folder.partial").exists()


def test_audit_bad_input_is_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    no_text = tmp_path / "no_text.csv"
    no_text.write_text("id,body,topic,frame,role\np1,Envoys met.,diplomacy,cooperation,body\n", encoding="utf-8")
    empty = tmp_path / "empty.csv"
    empty.write_text("id,article_id,text,topic,frame,role\n", encoding="utf-8")
    cases = ((no_text, "missing column(s) text"), (empty, "no labelled rows (a header only, or blank lines)"))
    for path, message in cases:
        result = runner.invoke(app, ["audit", "--data", str(path), "--set", f"data.labels_dir={LABELS}"])
        assert result.exit_code == 1
        assert message in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "mlflow.db").exists()


def test_a_row_suggested_a_non_content_role_is_suggested_no_topics_or_frames() -> None:
    """As the model decides: "headline → promo" came with "trade → economy;trade", which validation refuses."""

    def audit(name: str, suggested: list[list[str]]) -> LabelSetAudit:
        n = len(suggested)
        return LabelSetAudit(name, np.ones(n, bool), np.zeros(n, bool), np.ones(n), suggested, np.zeros((n, 1)))

    sets = {
        "role": audit("role", [["promo"], ["headline"], ["body"]]),
        "topic": audit("topic", [["economy", "trade"], ["trade"], ["diplomacy"]]),
        "frame": audit("frame", [["conflict"], [], ["cooperation"]]),
    }
    suggest_no_content_labels_off_content_roles(sets, "role", ["body", "headline"])
    assert sets["topic"].suggested == [[], ["trade"], ["diplomacy"]]
    assert sets["frame"].suggested == [[], [], ["cooperation"]] and sets["role"].suggested[0] == ["promo"]
