"""Sweep files: schema, grid/random expansion, up-front validation, worker sizing, one trial."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import LABELS, ROOT
from training.cli import app
from training.config import flatten_params
from training.errors import ConfigError, TopicframeError
from training.sweep import SweepSpec, _check_metric, expand, load_sweep, worker_count
from training.trial import data_key, run_trial

BASE = {"data": {"train": [str(LABELS / "paragraphs.csv")], "test": [str(LABELS / "paragraphs_test.csv")]}}


def write_sweep(tmp_path: Path, **spec) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"base": BASE, **spec}))
    return path


def test_grid_expands_every_combination_in_order(tmp_path: Path) -> None:
    sweep = load_sweep(
        write_sweep(
            tmp_path,
            parameters={"classifier.C": [1, 10], "vectorizer.word_ngram_range": [[1, 1], [1, 2]]},
        )
    )
    assert [t.values for t in sweep.trials] == [
        {"classifier.C": 1, "vectorizer.word_ngram_range": [1, 1]},
        {"classifier.C": 1, "vectorizer.word_ngram_range": [1, 2]},
        {"classifier.C": 10, "vectorizer.word_ngram_range": [1, 1]},
        {"classifier.C": 10, "vectorizer.word_ngram_range": [1, 2]},
    ]
    last = sweep.trials[-1]
    assert last.index == 4 and last.name == "t04_C=10_word_ngram_range=1,2"
    params = flatten_params(last.config)
    assert params["classifier.C"] == "10.0" and params["vectorizer.word_ngram_range"] == "1,2"
    assert params["data.train"] == str(LABELS / "paragraphs.csv")  # the base is kept
    assert sweep.name == "sweep"


def test_base_config_file_and_set_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"base_config": "experiments/linear_svm.yaml", "parameters": {"classifier.C": [1]}}))
    sweep = load_sweep(path, {"cv.folds": 2})
    assert sweep.base.classifier.type == "linear_svm" and sweep.base.cv.folds == 2
    assert sweep.trials[0].config.cv.folds == 2 and sweep.trials[0].config.classifier.C == 1.0
    # A bad --set value is named as --set's, not the (valid) base config file's.
    with pytest.raises(ConfigError, match=r"^--set: cv.folds: Input should be a valid integer"):
        load_sweep(path, {"cv.folds": "abc"})


def test_random_is_seeded_distinct_and_within_ranges() -> None:
    lists = SweepSpec.model_validate(
        {"method": "random", "trials": 5, "seed": 3, "parameters": {"classifier.C": [1, 2, 3], "cv.folds": [2, 3, 4]}}
    )
    first, again = expand(lists), expand(lists)
    assert first == again and len(first) == 5
    assert len({tuple(v.values()) for v in first}) == 5  # distinct combinations
    other = expand(lists.model_copy(update={"seed": 4}))
    assert other != first

    ranges = SweepSpec.model_validate(
        {
            "method": "random",
            "trials": 20,
            "parameters": {
                "classifier.C": {"low": 0.01, "high": 100, "log": True},
                "vectorizer.min_df": {"low": 1, "high": 5, "integer": True},
            },
        }
    )
    trials = expand(ranges)
    assert all(0.01 <= t["classifier.C"] <= 100 for t in trials)
    assert all(isinstance(t["vectorizer.min_df"], int) and 1 <= t["vectorizer.min_df"] <= 5 for t in trials)
    assert min(t["classifier.C"] for t in trials) < 1 < max(t["classifier.C"] for t in trials)  # log-spread


RANDOM = {"method": "random", "trials": 2}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"parameters": {"classifier.C": [1]}, "trails": 3}, "trails: unknown key"),
        (
            {"parameters": {"classifier.Cee": [1]}},
            "parameters.classifier.Cee: unknown config key (did you mean 'classifier.C'?)",
        ),
        ({"parameters": {"experiment": ["a", "b"]}}, "parameters.experiment: cannot be swept"),
        ({"parameters": {"classifier.C": 3}}, "parameters.classifier.C: Input should be a valid list"),
        # A range written wrongly is said as a range's problem (each read "Input should be a valid list").
        (RANDOM | {"parameters": {"classifier.C": {"low": 10, "high": 1}}}, "classifier.C: low must be below high"),
        (RANDOM | {"parameters": {"classifier.C": {"low": 0, "high": 1, "log": True}}}, "a log range needs low > 0"),
        (
            RANDOM | {"parameters": {"classifier.C": {"low": 1, "high": 2, "lg": True}}},
            "parameters.classifier.C.lg: unknown key (did you mean 'log'?)",
        ),
        (  # every key's problem at once, not the first alone (in the file's order: safe_dump sorts the keys)
            {"parameters": {"classifier.C": [1]}, "metrc": "x", "max_paralel": 2},
            "max_paralel: unknown key (did you mean 'max_parallel'?); metrc: unknown key (did you mean 'metric'?)",
        ),
        ({"parameters": {"classifier.C": []}}, "parameters.classifier.C: needs at least one value"),
        ({"parameters": {}}, "parameters: Dictionary should have at least 1 item"),
        (  # ran and logged the same trial twice
            {"parameters": {"classifier.C": [1, 3, 1.0]}},
            "parameters.classifier.C: 1.0 is listed twice",
        ),
        (
            {"parameters": {"vectorizer.word_ngram_range": [[1, 2], [1, 1], [1, 2]]}},
            "parameters.vectorizer.word_ngram_range: [1, 2] is listed twice",
        ),
        ({"method": "random", "parameters": {"classifier.C": [1]}}, "trials: required for method: random"),
        ({"trials": 3, "parameters": {"classifier.C": [1]}}, "trials: only for method: random"),
        ({"parameters": {"classifier.C": {"low": 1, "high": 2}}}, "a range needs method: random"),
        ({"method": "random", "trials": 3, "parameters": {"classifier.C": [1, 2]}}, "exceeds the 2 distinct"),
        ({"base_config": "x.yaml", "parameters": {"classifier.C": [1]}}, "either base or base_config"),
        ({"metric": "cv.topics.micro_f1", "parameters": {"classifier.C": [1]}}, "metric: 'cv.topics.micro_f1'"),
        (  # was a KeyError traceback after the first trial, with its run left behind
            {"metric": "cv.topic.micro_fl", "parameters": {"classifier.C": [1]}},
            "metric: 'cv.topic.micro_fl': unknown statistic 'micro_fl' (did you mean 'micro_f1'?)",
        ),
        (
            {"metric": "topic.f1.trad", "parameters": {"classifier.C": [1]}},
            "a label's metric is topic.<statistic>.<label> with the statistic one of precision, recall, f1, support",
        ),
        ({"method": "gird", "parameters": {"classifier.C": [1]}}, "method: Input should be 'grid' or 'random'"),
        (  # was "metric: 'cv.topic.micro_f1' is not a metric of label sets []"
            {"base": {"data": {**BASE["data"], "labels_dir": "no/such/dir"}}, "parameters": {"classifier.C": [1]}},
            "data.labels_dir: no/such/dir: labels directory not found",
        ),
    ],
)
def test_bad_sweep_files_name_the_key(tmp_path: Path, spec: dict, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_sweep(write_sweep(tmp_path, **spec))
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"{tmp_path / 'sweep.yaml'}: ")


def test_a_bad_value_fails_before_any_trial_with_the_trial_named(tmp_path: Path) -> None:
    path = write_sweep(tmp_path, parameters={"classifier.C": [1, 0], "vectorizer.word_ngram_range": [[1, 2]]})
    with pytest.raises(ConfigError) as raised:
        load_sweep(path)
    trial = "trial 2 (classifier.C=0, vectorizer.word_ngram_range=1,2)"
    assert str(raised.value) == f"{path}: {trial}: classifier.C: Input should be greater than 0"
    bad_range = write_sweep(tmp_path, parameters={"vectorizer.word_ngram_range": [[2, 1]]})
    with pytest.raises(ConfigError, match=r"trial 1 .*word_ngram_range must be \[min, max\]"):
        load_sweep(bad_range)


def test_set_cannot_override_a_swept_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--set classifier\.C: this key is swept"):
        load_sweep(write_sweep(tmp_path, parameters={"classifier.C": [1, 2]}), {"classifier.C": 3})


def test_worker_count_is_bounded_by_cores_parallelism_memory_and_trials() -> None:
    assert worker_count(16, None, 1024, cores=2, available_mb=24_000) == 2
    assert worker_count(16, 1, 1024, cores=8, available_mb=24_000) == 1
    assert worker_count(16, None, 1024, cores=8, available_mb=3_000) == 2
    assert worker_count(3, None, 1024, cores=8, available_mb=24_000) == 3
    assert worker_count(16, None, 4096, cores=8, available_mb=1_000) == 1  # never zero


def test_shipped_sweep_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    sweep = load_sweep("experiments/sweep.yaml")
    assert len(sweep.trials) == 16 and sweep.spec.metric == "cv.topic.micro_f1"
    assert set(sweep.spec.parameters) == {"classifier.C", "vectorizer.word_ngram_range", "vectorizer.min_df"}


def test_trials_are_deterministic_and_record_what_train_records(tmp_path: Path, tiny_corpus: tuple[Path, Path]) -> None:
    from training.train import prepare_data

    # The suite's tiny corpus, word n-grams and 3-character role n-grams only: the property is the same, at a
    # fraction of the time.
    train, test = tiny_corpus
    small = {
        "cv.folds": 2,
        "data.train": [str(train)],
        "data.test": [str(test)],
        "vectorizer.char_ngram_range": None,
        "roles.char_ngram_range": [3, 3],
    }
    sweep = load_sweep(write_sweep(tmp_path, parameters={"classifier.C": [3]}), small)
    trial = sweep.trials[0]
    prepared = prepare_data(trial.config)
    first, second = run_trial(trial, prepared), run_trial(trial, prepared)
    assert not first.error
    timing = {"fit_seconds"}
    assert {k: v for k, v in first.metrics.items() if k not in timing} == {
        k: v for k, v in second.metrics.items() if k not in timing
    }
    assert {"topic.micro_f1", "cv.topic.micro_f1", "frame.f1.conflict", "fit_seconds", "model_size_bytes"} <= set(
        first.metrics
    )
    assert first.params["classifier.C"] == "3.0" and first.params["data.n_train"] == str(len(prepared.train))
    # The sets trained, as `topicframe train` logs them (it was the config's empty "unset" for every trial).
    assert first.params["data.label_sets"] == ",".join(prepared.codebooks) and prepared.codebooks
    # Every metric a trial records is one a sweep may rank by: the checked names cannot drift from the reports.
    for metric in first.metrics:
        _check_metric(metric, sweep.base, "sweep.yaml")
    assert len(first.tags["data_digest"]) == 64
    assert data_key(trial.config) == data_key(sweep.base)


def test_a_trial_that_cannot_be_fitted_fails_alone(tmp_path: Path, tiny_corpus: tuple[Path, Path]) -> None:
    from training.train import prepare_data

    # A min_df above the corpus size leaves no terms: scikit-learn refuses at fit time, not at validation.
    data = {"data.train": [str(tiny_corpus[0])], "data.test": [str(tiny_corpus[1])], "cv.folds": 2}
    sweep = load_sweep(write_sweep(tmp_path, parameters={"vectorizer.min_df": [100_000]}), data)
    outcome = run_trial(sweep.trials[0], prepare_data(sweep.base))
    assert outcome.error and not outcome.metrics and outcome.params["vectorizer.min_df"] == "100000"


def test_a_swept_cv_folds_is_checked_for_every_trial_before_any_runs(
    tmp_path: Path, tiny_corpus: tuple[Path, Path]
) -> None:
    """The data is read once, with the first trial's folds: a second trial's folds over the article count failed
    as a logged run after the first had run (exit 0)."""
    from training.sweep_run import prepare_all

    data = {"data.train": [str(tiny_corpus[0])], "data.test": [str(tiny_corpus[1])]}
    sweep = load_sweep(write_sweep(tmp_path, parameters={"cv.folds": [2, 1000]}), data)
    with pytest.raises(TopicframeError) as raised:
        prepare_all(sweep)
    said = str(raised.value)
    assert said.startswith(f"{sweep.path}: trial 2 (cv.folds=1000): the training part has ") and "at most" in said


def test_cli_sweep_with_a_bad_file_is_one_line_and_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    path = write_sweep(tmp_path, parameters={"classifier.C": [1]}, trails=2)
    result = CliRunner().invoke(app, ["sweep", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: {path}: trails: unknown key (did you mean 'trials'?)"
    assert not (tmp_path / "mlflow.db").exists()  # nothing was logged


def test_train_points_a_sweep_file_to_the_sweep_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["train", "--config", "experiments/sweep.yaml"])
    assert result.exit_code == 1
    assert "experiments/sweep.yaml: a sweep file (it has 'parameters'); run `topicframe sweep" in result.output
