"""The registry side of the CLI: the first model becomes champion, `--no-register`, the config's
`model_name`, "no champion" errors that name the fix, and promotion when the alias moves meanwhile.

Everything trains on a few dozen paragraphs written to tmp_path (one label set, 2 CV folds).
Creating an MLflow SQLite store costs seconds (its schema migrations), so one empty store is
created per module and copied into each test's `store`.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

import training.promotion as promotion
from tests.conftest import LABELS, write_csv
from tests.unit.training.test_cli import store  # noqa: F401  (the fixture, used through `registry`)
from training.cli import app
from training.config import RunConfig, load_config
from training.promotion import HISTORY_TAG, PROMOTION_TAG, PromotionResult, promote, verdict
from training.registry import hide_passwords, tracking_client
from training.tracking import log_training_run
from training.train import prepare_data, train_model

pytestmark = pytest.mark.filterwarnings("ignore:Label not .* is present in all training examples")
runner = CliRunner()
NO_CHAMPION = (
    "no model has the alias 'champion' yet: run `topicframe train` (the first model becomes champion) "
    "or `topicframe promote VERSION`"
)
TOPICS = {
    "trade": ["tariffs", "exports", "imports", "customs", "quotas", "dumping"],
    "diplomacy": ["envoys", "ambassador", "summit", "consulate", "talks", "minister"],
    "security": ["drones", "troops", "missile", "artillery", "shelling", "militia"],
}
# Trained labels per true topic: right, one topic wrong, all wrong. Test labels are always right.
QUALITY = {
    "good": {"trade": "trade", "diplomacy": "diplomacy", "security": "security"},
    "medium": {"trade": "trade", "diplomacy": "diplomacy", "security": "trade"},
    "bad": {"trade": "diplomacy", "diplomacy": "security", "security": "trade"},
}


def paragraphs(prefix: str, per_topic: int, labels: dict[str, str]) -> list[dict[str, str]]:
    rows = []
    for topic, words in TOPICS.items():
        for i in range(per_topic):
            a, b, c = (words[(i + k) % len(words)] for k in (0, 2, 3))
            text = f"Report {prefix}{i}: the {a} and the {b} dominated the day, and {c} followed."
            rows.append({"id": f"{prefix}-{topic}-{i}", "article_id": f"{prefix}-{topic}-{i}", "text": text})
            rows[-1]["topic"] = labels[topic]
    return rows


def write_data(directory: Path, quality: str = "good") -> list[str]:
    """CLI arguments training on small CSVs in ``directory`` (the topic label set only)."""
    train = write_csv(directory / f"train_{quality}.csv", paragraphs("a", 8, QUALITY[quality]))
    test = write_csv(directory / "test.csv", paragraphs("b", 4, QUALITY["good"]))
    return [
        "--data", str(train), "--test-data", str(test), "--labels", str(LABELS),
        "--set", "data.label_sets=[topic]", "--set", "cv.folds=2", "--set", "data.min_positives=0",
    ]  # fmt: skip


def small_config(directory: Path, quality: str, model_name: str = "topicframe") -> RunConfig:
    args = write_data(directory, quality)
    return load_config(
        None,
        {
            "data.train": [args[1]],
            "data.test": [args[3]],
            "data.labels_dir": str(LABELS),
            "data.label_sets": ["topic"],
            "data.min_positives": 0,
            "cv.folds": 2,
            "model_name": model_name,
        },
    )


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite store with its schema created, to copy (creating one takes seconds)."""
    path = tmp_path_factory.mktemp("empty-store") / "mlflow.db"
    tracking_client(f"sqlite:///{path}").search_experiments()
    return path


def use_store(path: Path, empty_store: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """Point MLflow at a copy of the empty store at ``path``; models are cached next to it."""
    shutil.copyfile(empty_store, path)
    uri = f"sqlite:///{path}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(path.parent)  # ./mlruns: the artifacts
    monkeypatch.setattr(tempfile, "tempdir", str(path.parent))  # the model cache, not the shared one in /tmp
    return MlflowClient(uri, registry_uri=uri)  # not the registry URI an earlier test set globally


@pytest.fixture
def registry(request: pytest.FixtureRequest, tmp_path: Path, empty_store: Path) -> MlflowClient:
    """The `store` fixture's temporary store, created (empty) by copying."""
    request.getfixturevalue("store")
    return use_store(tmp_path / "mlflow.db", empty_store, request.getfixturevalue("monkeypatch"))


def champion(client: MlflowClient, name: str = "topicframe") -> str:
    return str(client.get_model_version_by_alias(name, "champion").version)


# --- first run, --no-register, model_name ---------------------------------------------------------


def test_first_trained_model_becomes_champion_without_promote(tmp_path: Path, registry: MlflowClient) -> None:
    data = write_data(tmp_path)
    first = runner.invoke(app, ["train", *data])
    assert first.exit_code == 0, first.output
    assert "registered topicframe version 1" in first.output
    assert "no champion yet: version 1 is now champion" in first.output
    assert champion(registry) == "1"
    # The digest --model-sha256 checks a downloaded model against is printed, the registry's own.
    sha = registry.get_model_version("topicframe", "1").tags["bundle_sha256"]
    assert f"bundle_sha256 {sha}" in first.output
    assert "no champion yet" in registry.get_model_version("topicframe", "1").tags[PROMOTION_TAG]

    second = runner.invoke(app, ["train", *data])
    assert second.exit_code == 0, second.output
    assert "registered topicframe version 2" in second.output and "now champion" not in second.output
    assert "champion is unchanged: `topicframe promote 2`" in " ".join(second.output.split())
    assert champion(registry) == "1"  # only the first; later ones need --promote and must beat it

    article = tmp_path / "article.txt"
    article.write_text("Customs officers seized the dumping shipment.\n\nEnvoys met the minister.\n")
    classified = runner.invoke(app, ["classify", str(article)])  # the default: the champion
    assert classified.exit_code == 0, classified.output
    assert '"version": "1"' in classified.output and '"alias": "champion"' in classified.output


def test_no_register_logs_the_run_and_registers_nothing(tmp_path: Path, registry: MlflowClient) -> None:
    data = write_data(tmp_path)
    refused = runner.invoke(app, ["train", *data, "--no-register", "--promote"])
    assert refused.exit_code == 1 and "--promote needs a registered version" in refused.output

    result = runner.invoke(app, ["train", *data, "--no-register"])
    assert result.exit_code == 0, result.output
    assert "not registered (--no-register)" in result.output and "now champion" not in result.output
    (run,) = registry.search_runs([registry.get_experiment_by_name("topicframe").experiment_id])
    assert run.info.status == "FINISHED" and "registered_version" not in run.data.tags
    assert registry.search_registered_models() == []


def test_registered_name_comes_from_the_config(tmp_path: Path, registry: MlflowClient) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("model_name: desk-model\n")
    result = runner.invoke(app, ["train", *write_data(tmp_path), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "registered desk-model version 1" in result.output and "version 1 is now champion" in result.output
    assert [m.name for m in registry.search_registered_models()] == ["desk-model"]
    assert champion(registry, "desk-model") == "1"

    article = tmp_path / "article.txt"
    article.write_text("Drones and artillery hit the militia.\n")
    classified = runner.invoke(app, ["classify", str(article), "--config", str(config)])
    assert classified.exit_code == 0, classified.output
    assert '"name": "desk-model"' in classified.output
    promoted = runner.invoke(app, ["promote", "1", "--config", str(config)])
    assert promoted.exit_code == 0 and "version 1 is already the champion" in promoted.output

    other = runner.invoke(app, ["classify", str(article)])  # the default config's name: nothing registered
    assert other.exit_code == 1 and NO_CHAMPION in other.output


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("http://mluser:S3cret@mlflow.internal:5000/", "http://mluser:***@mlflow.internal:5000/"),
        ("https://token:x%40y@host/path?x=1", "https://token:***@host/path?x=1"),
        ("http://mlflow.internal:5000", "http://mlflow.internal:5000"),
        ("sqlite:////srv/topicframe/mlflow.db", "sqlite:////srv/topicframe/mlflow.db"),
    ],
)
def test_registry_addresses_in_messages_hide_their_password(uri: str, shown: str) -> None:
    assert hide_passwords(uri) == shown


def test_no_champion_errors_name_the_fix(tmp_path: Path, registry: MlflowClient) -> None:
    article = tmp_path / "article.txt"
    article.write_text("Envoys met in Doha.\n")
    data = write_csv(tmp_path / "gold.csv", [{"id": "1", "text": "Envoys met in Doha.", "topic": "diplomacy"}])
    for model_exists in (False, True):  # no registered model at all; a registered model without the alias
        if model_exists:
            registry.create_registered_model("topicframe")
        for args in (["classify", str(article)], ["evaluate", "--data", str(data)]):
            result = runner.invoke(app, args)
            assert result.exit_code == 1, result.output
            (line,) = result.output.strip().splitlines()
            assert line.startswith("error: models:/topicframe@champion: ") and NO_CHAMPION in line
    other = runner.invoke(app, ["classify", str(article), "--model", "models:/desk@champion"])
    assert "`topicframe train --set model_name=desk`" in other.output
    assert "`topicframe promote VERSION --name desk`" in other.output


def test_commands_that_read_a_store_refuse_a_missing_sqlite_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistyped store path is named, not created empty (it read as "no champion yet", hiding the typo)."""
    missing = tmp_path / "mlfow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{missing}")
    article = tmp_path / "article.txt"
    article.write_text("Envoys met in Doha.\n")
    data = write_csv(tmp_path / "gold.csv", [{"id": "1", "text": "Envoys met in Doha.", "topic": "diplomacy"}])
    for args in (
        ["classify", str(article)],
        ["evaluate", "--data", str(data)],
        ["promote", "1"],
        ["promote", "--rollback"],
        ["compare"],
        ["model", "verify", "models:/topicframe@champion"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 1, (args, result.output)
        assert f"no MLflow store there ({missing} does not exist)" in " ".join(result.output.split()), args
        assert not missing.exists(), args


def test_a_candidate_trained_without_roles_is_compared_with_a_champion_that_has_them(
    tmp_path: Path, registry: MlflowClient
) -> None:
    """The candidate's logged test data has no role column: the champion is judged on the sets it has there
    (it crashed with an IndexError, after `train --promote` had registered the version)."""
    rows = paragraphs("a", 8, QUALITY["good"])
    for row in rows:
        row["role"] = "body"
    captions = [
        {"id": f"cap-{i}", "article_id": row["article_id"], "text": f"Photograph: Reporter {i} for the Ledger",
         "topic": "", "role": "caption"}
        for i, row in enumerate(rows)
    ]  # fmt: skip
    with_roles = write_csv(tmp_path / "with_roles.csv", rows + captions)
    first = runner.invoke(
        app,
        ["train", "--data", str(with_roles), "--labels", str(LABELS), "--set", "data.label_sets=[role,topic]",
         "--set", "cv.folds=2", "--set", "data.min_positives=0"],
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert champion(registry) == "1"
    second = runner.invoke(app, ["train", *write_data(tmp_path), "--promote"])
    assert "Traceback" not in second.output and second.exit_code in (0, 2), second.output
    assert "registered topicframe version 2" in second.output and "topic.micro_f1" in second.output


# --- promotion while the alias moves ----------------------------------------------------------------


@dataclass
class Versions:
    client: MlflowClient
    good: str
    medium: str
    bad: str
    cache: Path

    def set_champion(self, version: str | None) -> None:
        if version is None:
            self.client.delete_registered_model_alias("topicframe", "champion")
        else:
            self.client.set_registered_model_alias("topicframe", "champion", version)


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory, empty_store: Path) -> Iterator[Versions]:
    """Three registered versions of clearly different quality on the same test data (no alias set)."""
    directory = tmp_path_factory.mktemp("three-models")
    with pytest.MonkeyPatch.context() as monkeypatch:
        client = use_store(directory / "mlflow.db", empty_store, monkeypatch)
        registered, scores = {}, {}
        for quality in ("bad", "medium", "good"):
            config = small_config(directory, quality)
            result = train_model(config, prepare_data(config))
            registered[quality] = log_training_run(config, result).model_version
            scores[quality] = result.test.reports["topic"]["micro_f1"]
        assert scores["bad"] < scores["medium"] < scores["good"], scores
        yield Versions(client, registered["good"], registered["medium"], registered["bad"], directory / "cache")


@pytest.fixture
def race(versions: Versions, monkeypatch: pytest.MonkeyPatch) -> Versions:
    """The three versions, MLflow pointed at their store; each test sets the alias it starts from."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", versions.client.tracking_uri)
    return versions


def move_alias_during(monkeypatch: pytest.MonkeyPatch, name: str, race: Versions, moves: list[str | None]) -> list[str]:
    """Wrap ``training.promotion.<name>``: after each of its first calls, another process moves the alias."""
    real: Callable[..., object] = getattr(promotion, name)
    pending = list(moves)
    calls: list[str] = []

    def racing(*args: object, **kwargs: object) -> object:
        out = real(*args, **kwargs)
        calls.append(name)
        if pending:
            race.set_champion(pending.pop(0))
        return out

    monkeypatch.setattr(promotion, name, racing)
    return calls


def test_a_better_champion_set_during_the_comparison_is_not_replaced(
    race: Versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    race.set_champion(race.bad)
    # medium is compared with bad (and beats it); meanwhile someone promotes good.
    calls = move_alias_during(monkeypatch, "compare_models", race, [race.good])
    result = promote(race.medium, cache_dir=race.cache)
    assert calls == ["compare_models", "compare_models"]  # compared again, with the new champion
    assert not result.promoted and result.champion_version == race.good
    assert f"moved from v{race.bad} to v{race.good}" in result.reason
    assert "does not beat the new champion" in result.reason
    assert champion(race.client) == race.good


def test_a_champion_set_after_an_empty_registry_was_seen_is_compared(
    race: Versions, monkeypatch: pytest.MonkeyPatch
) -> None:
    race.set_champion(None)
    # medium sees no champion (first model) and is about to claim it; meanwhile someone promotes good.
    move_alias_during(monkeypatch, "current_champion", race, [race.good])
    result = promote(race.medium, cache_dir=race.cache)
    assert not result.promoted and result.champion_version == race.good
    assert champion(race.client) == race.good


def test_a_champion_that_keeps_moving_is_left_alone(race: Versions, monkeypatch: pytest.MonkeyPatch) -> None:
    race.set_champion(race.bad)
    move_alias_during(monkeypatch, "compare_models", race, [race.medium, race.bad])
    result = promote(race.good, cache_dir=race.cache)
    assert not result.promoted and "moved twice" in result.reason
    assert champion(race.client) == race.bad  # where the other process left it


def test_promotion_without_a_race_moves_the_alias_only_for_a_better_model(race: Versions) -> None:
    race.set_champion(race.medium)
    worse = runner.invoke(app, ["promote", race.bad])
    assert worse.exit_code == 2 and "not promoted: candidate does not beat the champion" in worse.output
    assert champion(race.client) == race.medium

    better: PromotionResult = promote(race.good, cache_dir=race.cache)
    assert better.promoted and better.champion_version == race.medium
    assert champion(race.client) == race.good
    assert race.client.get_model_version("topicframe", race.good).tags[PROMOTION_TAG] == better.reason

    same = runner.invoke(app, ["promote", race.good])
    assert same.exit_code == 0 and f"version {race.good} is already the champion" in same.output


def test_a_candidate_tested_on_part_of_its_own_training_files_is_promoted_with_a_caveat(race: Versions) -> None:
    """Trained with --data and no --test-data, a version is tested on rows held out from its own files, which the
    champion may have been trained on: promotion compared the two on them without a word (a tester's loop)."""
    run_id = race.client.get_model_version("topicframe", race.good).run_id
    assert race.client.get_run(run_id).data.tags["split_method"] == "test files"
    race.set_champion(race.medium)
    on_a_test_file = runner.invoke(app, ["promote", race.good])
    assert on_a_test_file.exit_code == 0 and "not on a separate test file" not in on_a_test_file.output
    race.set_champion(race.medium)
    race.client.set_tag(run_id, "split_method", "grouped by article_id")
    try:
        on_own_rows = runner.invoke(app, ["promote", race.good])
    finally:
        race.client.set_tag(run_id, "split_method", "test files")
    assert on_own_rows.exit_code == 0, on_own_rows.output
    said = " ".join(on_own_rows.output.split())
    assert f"version {race.good} was tested on a part of its own training files (grouped by article_id)" in said
    assert "Train with --test-data" in said and champion(race.client) == race.good


# --- promotion rules, --force, --rollback -------------------------------------------------------------


def test_verdict_needs_more_than_min_gain_and_no_regression_beyond_tolerance() -> None:
    per_set = {"topic": (0.700, 0.705), "frame": (0.650, 0.630), "role": (0.90, 0.95)}
    won, why = verdict("topic", per_set, min_gain=0.0, max_regression=0.01)
    assert not won and "regresses on frame.micro_f1 0.6500 -> 0.6300 (-0.0200" in why
    assert verdict("topic", per_set, min_gain=0.0, max_regression=0.03)[0]  # within tolerance
    won, why = verdict("topic", per_set, min_gain=0.01, max_regression=0.03)
    assert not won and "topic.micro_f1 +0.0050, more than 0.01 needed" in why
    assert verdict("topic", {"topic": (None, 0.1)}, 0.0, 0.0)[0]  # a champion without the set: any score wins


def test_min_gain_force_and_rollback_through_the_cli(race: Versions) -> None:
    race.set_champion(race.medium)
    race.client.delete_registered_model_tag("topicframe", HISTORY_TAG)
    too_small = runner.invoke(app, ["promote", race.good, "--min-gain", "1"])
    assert too_small.exit_code == 2, too_small.output
    assert "more than 1 needed" in too_small.output and champion(race.client) == race.medium

    forced = runner.invoke(app, ["promote", race.bad, "--force"])
    assert forced.exit_code == 0 and "promoted: forced (--force) although candidate does not beat" in forced.output
    assert champion(race.client) == race.bad

    fair = runner.invoke(app, ["promote", race.good])
    assert fair.exit_code == 0 and champion(race.client) == race.good
    assert race.client.get_registered_model("topicframe").tags[HISTORY_TAG] == f"{race.medium},{race.bad}"

    for back_to in (race.bad, race.medium):  # each rollback goes one champion further back
        rolled = runner.invoke(app, ["promote", "--rollback"])
        assert rolled.exit_code == 0 and f"to v{back_to}" in rolled.output
        assert champion(race.client) == back_to
    not_a_number = runner.invoke(app, ["promote", "abc"])
    assert (
        not_a_number.exit_code == 1
        and "VERSION is a registered version's number (e.g. 3), not 'abc'" in not_a_number.output
    )
    nothing = runner.invoke(app, ["promote", "--rollback"])
    assert nothing.exit_code == 1 and "no earlier champion recorded" in nothing.output
    assert champion(race.client) == race.medium


def test_classify_reads_stdin_and_csv_echoes_ids_and_writes_every_format(race: Versions, tmp_path: Path) -> None:
    race.set_champion(race.good)
    lines = (
        '{"id": "a1", "text": "The tariffs and the customs dominated the day."}\n'
        '{"id": "b2", "text": "The troops and the missile dominated the day."}\n'
    )
    jsonl = runner.invoke(app, ["classify", "-", "--format", "jsonl"], input=lines)
    assert jsonl.exit_code == 0, jsonl.output
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [(r["id"], r["labels"]["topic"]) for r in rows] == [("a1", ["trade"]), ("b2", ["security"])]

    table = tmp_path / "paragraphs.csv"
    table.write_text('id,text\nx9,"The exports and the quotas dominated the day."\n', encoding="utf-8")
    as_csv = runner.invoke(app, ["classify", str(table), "--format", "csv"])
    assert as_csv.exit_code == 0, as_csv.output
    assert list(csv.reader(io.StringIO(as_csv.stdout))) == [
        ["id", "index", "read", "known_words", "topic", "text"],
        ["x9", "0", "true", "1.0", "trade", "The exports and the quotas dominated the day."],
    ]
    piped = runner.invoke(app, ["classify", "-"], input="The envoys and the summit dominated the day.")
    assert json.loads(piped.stdout)["paragraphs"][0]["labels"]["topic"] == ["diplomacy"]  # not a terminal: JSON
    shown = runner.invoke(app, ["classify", str(table), "--format", "table"])
    assert shown.exit_code == 0 and "x9" in shown.stdout and "Decision rule:" in shown.stdout


def test_the_cli_caches_registry_downloads_where_the_service_does(race: Versions, tmp_path: Path) -> None:
    """TOPICFRAME_MODEL_CACHE_DIR was the service's alone: the CLI (and batch) downloaded to the temp dir."""
    race.set_champion(race.good)
    cache = tmp_path / "model-cache"
    result = runner.invoke(
        app, ["classify", "-"], input="The tariffs dominated the day.", env={"TOPICFRAME_MODEL_CACHE_DIR": str(cache)}
    )
    assert result.exit_code == 0, result.output
    assert len(list(cache.rglob("manifest.json"))) == 1


def test_classify_reads_html_and_markdown_files_as_their_paragraphs(race: Versions, tmp_path: Path) -> None:
    race.set_champion(race.good)
    texts = ["The tariffs and the customs dominated the day.", "The troops and the missile dominated the day."]
    page = tmp_path / "story.html"
    page.write_text(
        "<html><head><title>Story</title></head><body>" + "".join(f"<p>{t}</p>" for t in texts) + "</body></html>",
        encoding="utf-8",
    )
    clipped = tmp_path / "story.md"
    clipped.write_text("\n\n".join(f"**{t}**" for t in texts), encoding="utf-8")
    for path, read_as in ((page, "html"), (clipped, "markdown")):
        result = runner.invoke(app, ["classify", str(path), "--format", "json"])
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        assert body["text_format"] == read_as
        assert [(p["text"], p["labels"]["topic"]) for p in body["paragraphs"]] == [
            (texts[0], ["trade"]),
            (texts[1], ["security"]),
        ]
    # Detected in a .txt file too; --input-format txt reads it as plain text.
    saved = tmp_path / "story.txt"
    saved.write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
    detected = json.loads(runner.invoke(app, ["classify", str(saved), "--format", "json"]).stdout)
    assert detected["text_format"] == "html" and len(detected["paragraphs"]) == 2
    plain = json.loads(runner.invoke(app, ["classify", str(saved), "--input-format", "txt", "--format", "json"]).stdout)
    assert plain["text_format"] == "plain" and len(plain["paragraphs"]) == 1
    empty = tmp_path / "empty.html"
    empty.write_text("<nav><a href='/'>Home</a></nav>", encoding="utf-8")
    nothing = runner.invoke(app, ["classify", str(empty)])
    assert nothing.exit_code == 1 and "no paragraphs found (read as html" in nothing.output
    unknown = runner.invoke(app, ["classify", str(saved), "--input-format", "rtf"])
    assert unknown.exit_code == 1 and "expected one of txt, md, html, jsonl, csv" in unknown.output


# --- model verify: the logged MLflow model's files against the registry's pyfunc_sha256 --------------------


def test_model_verify_checks_every_logged_file_before_mlflow_imports_them(
    tmp_path: Path, registry: MlflowClient
) -> None:
    """MLflow's loaders import the Python files logged with the model; `model verify` checks them first."""
    import mlflow.pyfunc

    assert runner.invoke(app, ["train", *write_data(tmp_path)]).exit_code == 0
    version = registry.get_model_version("topicframe", "1")
    assert len(version.tags["pyfunc_sha256"]) == 64
    assert registry.get_run(version.run_id).data.tags["pyfunc_sha256"] == version.tags["pyfunc_sha256"]

    # MLflow's own loader writes `registered_model_meta` into a local store's copy: not a change to refuse.
    mlflow.pyfunc.load_model("models:/topicframe@champion")
    assert list((tmp_path / "mlartifacts").rglob("registered_model_meta"))
    checked = tmp_path / "checked"
    result = runner.invoke(app, ["model", "verify", "models:/topicframe@champion", "--to", str(checked)])
    assert result.exit_code == 0, result.output
    assert f"every file matches the registry's pyfunc_sha256 {version.tags['pyfunc_sha256']}" in result.output
    pyfunc = mlflow.pyfunc.load_model(str(checked))
    # Words of this toy model's vocabulary: text it has no words for would not be read (`decision.min_known_words`).
    paragraphs = ["The customs and the dumping dominated the day.", "Envoys met the minister."]
    assert pyfunc.predict(pd.DataFrame({"text": paragraphs}))["topic_labels"].tolist() == ["trade", "diplomacy"]
    # A dict of lists reaches the model as ONE row holding a list (MLflow's reading): refused, not classified.
    with pytest.raises(MlflowException, match=r"text: row 0 holds 2 values, not one paragraph"):
        pyfunc.predict({"text": paragraphs})

    # Someone with write access to the artifact store edits a logged Python file: refused, nothing written.
    (logged_code,) = (tmp_path / "mlartifacts").rglob("code/training/pyfunc.py")
    logged_code.write_text(logged_code.read_text() + "\nimport os  # anything at all\n")
    refused_copy = tmp_path / "refused"
    refused = runner.invoke(app, ["model", "verify", "models:/topicframe/1", "--to", str(refused_copy)])
    assert refused.exit_code == 1
    assert "files do not match the registry's pyfunc_sha256" in refused.output and "Traceback" not in refused.output
    assert not refused_copy.exists() and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []

    existing = runner.invoke(app, ["model", "verify", "models:/topicframe/1", "--to", str(checked)])
    assert existing.exit_code == 1 and "already exists" in existing.output
    local = runner.invoke(app, ["model", "verify", str(checked)])
    assert local.exit_code == 1 and "not a models:/NAME@ALIAS" in local.output
    (tmp_path / "a-file").write_text("")
    nowhere = runner.invoke(app, ["model", "verify", "models:/topicframe/1", "--to", str(tmp_path / "a-file" / "x")])
    assert nowhere.exit_code == 1 and f"{tmp_path / 'a-file' / 'x'}: cannot write there" in nowhere.output
