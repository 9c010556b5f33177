"""The comparison table: ranking, the params that differ, the key metrics, markdown."""

from __future__ import annotations

from training.compare import RunSummary, comparison_table, key_metrics, markdown_table, rank, varying_params

LABEL_SETS = {"data.label_sets": "topic,frame"}


def run(run_id: str, c: str, score: float | None, **extra: str) -> RunSummary:
    metrics = {"topic.micro_f1": 0.6, "frame.micro_f1": 0.5, "frame.macro_f1": 0.4, "fit_seconds": 1.25}
    if score is not None:
        metrics["cv.topic.micro_f1"] = score
    params = {"classifier.C": c, "classifier.type": "logreg", "bundle_sha256": run_id * 8, **LABEL_SETS, **extra}
    return RunSummary(run_id * 4, f"run-{run_id}", params, metrics)


def test_rank_is_best_first_drops_runs_without_the_metric_and_keeps_ties_in_order() -> None:
    runs = [run("a", "1", 0.5), run("b", "3", 0.7), run("c", "10", None), run("d", "30", 0.7)]
    assert [r.name for r in rank(runs, "cv.topic.micro_f1")] == ["run-b", "run-d", "run-a"]
    assert [r.name for r in rank(runs, "fit_seconds")] == ["run-a", "run-b", "run-c", "run-d"]  # ascending, stable


def test_only_params_that_differ_are_shown_and_digests_never() -> None:
    # What tuning decided differs between almost any two runs: an outcome, not a setting, so not a column.
    tuned = {"tuned.topic.threshold.trade": "0.41"}
    runs = [
        run("a", "1", 0.5, **tuned),
        run("b", "3", 0.7, **{"vectorizer.min_df": "2", "tuned.topic.threshold.trade": "0.38"}),
    ]
    assert varying_params(runs) == ["classifier.C", "vectorizer.min_df"]  # a missing param differs too
    assert varying_params(runs[:1]) == []


def test_key_metrics_follow_the_label_set_order_with_the_sort_metric_first() -> None:
    runs = [run("a", "1", 0.5)]
    assert key_metrics(runs, "cv.topic.micro_f1") == [
        "cv.topic.micro_f1",
        "topic.micro_f1",
        "frame.micro_f1",
        "frame.macro_f1",
        "fit_seconds",
    ]


def test_comparison_table_and_markdown() -> None:
    runs = rank([run("a", "1", 0.5), run("b", "3", 0.71234)], "cv.topic.micro_f1")
    header, rows = comparison_table(runs, "cv.topic.micro_f1", always=["classifier.type"])
    assert header[:4] == ["run", "run_id", "classifier.type", "classifier.C"]
    assert rows[0][:5] == ["run-b", "bbbb", "logreg", "3", "0.7123"]
    assert rows[0][-1] == "1.2"  # seconds with one decimal
    md = markdown_table(header, rows)
    assert md.splitlines()[1] == "|" + "---|" * len(header)
    assert md.splitlines()[2].startswith("| run-b | bbbb | logreg | 3 | 0.7123 |")
