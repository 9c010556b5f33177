"""CLI contract: bad input -> one line per problem with file:line, exit 1, no MLflow run."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.conftest import LABELS, write_csv
from training.cli import app
from training.codebook import load_codebook
from training.console import console, progress_bar, set_quiet
from training.dataset import MAX_FIELD_CHARS, load_labelled_data
from training.registry import tracking_client

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    return uri


def assert_no_runs(uri: str, tmp_path: Path) -> None:
    if not (tmp_path / "mlflow.db").exists():
        return  # nothing touched the store at all
    client = tracking_client(uri)
    experiments = client.search_experiments()
    assert not client.search_runs([e.experiment_id for e in experiments])


BAD_ROWS = [
    {"id": "1", "text": "Steel tariffs were doubled overnight.", "topic": "trade", "frame": "conflict"},
    {"id": "2", "text": "", "topic": "trade", "frame": ""},
    {"id": "3", "text": "Envoys met in Doha.", "topic": "diplomacy", "frame": "cooperaton"},
]


def test_train_reports_every_bad_row_and_logs_nothing(tmp_path: Path, store: str) -> None:
    data = write_csv(tmp_path / "mine.csv", BAD_ROWS)
    result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS)])
    assert result.exit_code == 1
    out = result.output
    assert f"{data}:3: error: empty text" in out
    assert f"{data}:4: error: unknown frame label 'cooperaton' (did you mean 'cooperation'?)" in out
    assert "nothing was trained or logged" in out
    assert "Traceback" not in out
    assert_no_runs(store, tmp_path)


ONE_ARTICLE = [
    {"id": "1", "article_id": "a1", "text": "Steel tariffs were doubled overnight.", "topic": "trade", "frame": ""},
    {"id": "2", "article_id": "a1", "text": "Envoys met in Doha.", "topic": "diplomacy", "frame": "cooperation"},
]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (ONE_ARTICLE, "2 row(s) in one article: the test part is held out by article_id, so at least 2 articles"),
        (
            [{**row, "split": "train"} for row in ONE_ARTICLE],
            "the split column marks no row 'test': nothing to score the model on (or give --test-data)",
        ),
        (
            [{**row, "article_id": f"a{i}", "split": "train" if i else "test"} for i, row in enumerate(ONE_ARTICLE)],
            "the training part has 1 row(s); cross-validation needs at least cv.folds (5)",
        ),
        (
            # Six training rows in two articles and one without an id: 3 groups, and the folds keep articles whole.
            [
                {
                    **ONE_ARTICLE[i % 2],
                    **{"id": str(i), "text": f"Day {i}: {ONE_ARTICLE[i % 2]['text']}"},
                    **{"article_id": ["a1", "a2", ""][i % 3], "split": "train"},
                }
                for i in range(6)
            ]
            + [{**ONE_ARTICLE[0], "id": "t", "article_id": "t1", "text": "Tariffs fell.", "split": "test"}],
            "the training part has 4 article(s) (a row without an article_id counts as one); the folds keep "
            "articles whole, so cv.folds (5) can be at most that: lower cv.folds",
        ),
    ],
    ids=["one-article", "no-test-rows", "fewer-rows-than-folds", "fewer-articles-than-folds"],
)
def test_data_too_small_to_split_is_refused_by_name_not_by_a_traceback(
    tmp_path: Path, store: str, rows: list[dict[str, str]], message: str
) -> None:
    """scikit-learn's splitters stopped these with a ValueError traceback naming their own parameters."""
    header = ["id", "article_id", "text", "topic", "frame", "role"] + (["split"] if "split" in rows[0] else [])
    data = write_csv(tmp_path / "small.csv", rows, header=header)
    labels = ["--set", "data.label_sets=[topic,frame]", "--set", "data.min_positives=0"]
    result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS), *labels])
    assert result.exit_code == 1, result.output
    assert f"{data}: error: {message}" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert_no_runs(store, tmp_path)


def test_data_too_small_to_split_is_said_with_the_warnings_that_explain_it(tmp_path: Path, store: str) -> None:
    """A tester's second article was a copy of the first row: the duplicate was dropped, and only "in one
    article" was said, not why."""
    copy = {**ONE_ARTICLE[0], "id": "3", "article_id": "a1"}
    data = write_csv(
        tmp_path / "small.csv", [*ONE_ARTICLE, copy], header=["id", "article_id", "text", "topic", "frame"]
    )
    labels = ["--set", "data.label_sets=[topic,frame]", "--set", "data.min_positives=0"]
    result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS), *labels])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f"{data}: warning: dropped 1 exact duplicate row(s)" in said
    assert f"{data}: error: 2 row(s) in one article" in said


def test_a_single_label_set_with_one_label_in_its_rows_is_refused_by_name(tmp_path: Path, store: str) -> None:
    """A user who fills the role column with 'body' everywhere got scikit-learn's "This solver needs samples of
    at least 2 classes" traceback from the role model's fit."""
    rows = [  # write_csv gives every row the role 'body'; articles of two paragraphs, the last one for the test
        {"id": str(i), "article_id": f"a{i // 2}", "text": f"Envoys met in Doha on day {i}.", "topic": "diplomacy"}
        for i in range(8)
    ]
    for row in rows:
        row["split"] = "test" if row["article_id"] == "a3" else "train"
    header = ["id", "article_id", "text", "topic", "frame", "role", "split"]
    data = write_csv(tmp_path / "all_body.csv", rows, header=header)
    options = ["--set", "data.min_positives=0", "--set", "cv.folds=2"]
    result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS), *options])
    assert result.exit_code == 1, result.output
    assert "error: label set 'role': every row it is fitted on has the label 'body'" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    assert_no_runs(store, tmp_path)


@pytest.mark.parametrize("command", ["ui", "serve"])
def test_a_port_outside_1_to_65535_is_refused_before_any_server_starts(command: str) -> None:
    """Read from the command's declaration: invoking it with a port it wrongly took would start a server (serve
    even replaces the process), so a regression would hang this test instead of failing it."""
    port = next(p for p in typer.main.get_command(app).commands[command].params if p.name == "port")
    assert (port.min, port.max) == (1, 65535)


def test_ui_on_a_port_another_server_holds_is_refused_before_any_server_starts(tmp_path: Path) -> None:
    """It printed "MLflow UI ready" with the URL of whatever already listened there (another store's runs)."""
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = runner.invoke(
            app, ["ui", "--port", str(port)], env={"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/x.db"}
        )
    assert result.exit_code == 1 and f"error: --port {port}: in use" in result.output, result.output
    assert not (tmp_path / "x.db").exists()  # refused before the store was touched


def test_strict_turns_label_floors_into_errors(tmp_path: Path, store: str) -> None:
    data = write_csv(tmp_path / "mine.csv", BAD_ROWS[:1])
    result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS), "--strict"])
    assert result.exit_code == 1
    assert "topic label 'climate' has 0 positive row(s), fewer than the floor of 5" in result.output
    assert_no_runs(store, tmp_path)


def test_bad_config_key_and_missing_files(tmp_path: Path, store: str) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("classifer:\n  C: 1\n")
    result = runner.invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 1 and "classifer: unknown key" in result.output
    result = runner.invoke(app, ["train", "--data", str(tmp_path / "missing.csv"), "--labels", str(LABELS)])
    assert result.exit_code == 1 and "missing.csv: error: file not found" in result.output
    result = runner.invoke(app, ["train", "--labels", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "labels directory not found" in result.output
    result = runner.invoke(app, ["train", "--jobs", "0"])
    assert result.exit_code == 2 and "--jobs" in result.output and "Traceback" not in result.output
    assert_no_runs(store, tmp_path)


def test_classify_and_evaluate_refuse_bad_input_cleanly(tmp_path: Path, store: str) -> None:
    bad = tmp_path / "article.jsonl"
    bad.write_text('{"text": "fine"}\n{"txt": "no"}\n')
    result = runner.invoke(app, ["classify", str(bad), "--model", str(tmp_path)])
    assert result.exit_code == 1 and f"{bad}:2: expected an object with a string field 'text'" in result.output
    bad.write_text('{"text": "fine"}\n\n{"text": "  "}\n')
    result = runner.invoke(app, ["classify", str(bad), "--model", str(tmp_path)])
    assert result.exit_code == 1 and f"{bad}:3: empty text" in result.output
    result = runner.invoke(app, ["evaluate", "--data", str(bad)])
    assert result.exit_code == 1 and "models:/topicframe@champion" in result.output and "Traceback" not in result.output
    assert "no MLflow store there" in result.output  # the store file does not exist: said, not created empty


def test_train_refuses_labels_on_a_non_content_row(tmp_path: Path, store: str) -> None:
    rows = [
        {"id": "1", "text": "Photo: tanks roll past. AFP", "topic": "security", "frame": "", "role": "caption"},
        {"id": "2", "text": "Tanks rolled past the border post.", "topic": "securty", "frame": "", "role": "body"},
    ]
    data = write_csv(tmp_path / "mine.csv", rows)
    result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS)])
    assert result.exit_code == 1
    # Said together with the file's other problems (it was said only once every other one was fixed).
    assert f"{data}:2: error: role 'caption' gets no topic label (only body, headline paragraphs do)" in result.output
    assert f"{data}:3: error: unknown topic label 'securty'" in result.output
    assert "Traceback" not in result.output
    assert_no_runs(store, tmp_path)


def test_csv_fields_over_pythons_default_limit_are_read_and_huge_ones_refused_at_their_line(
    tmp_path: Path, store: str
) -> None:
    long_text = "Steel tariffs were doubled overnight. " * 6_000  # 228,000 characters: over csv's 131,072
    rows = [{"id": "1", "text": long_text, "topic": "trade", "frame": "conflict"}]
    data = load_labelled_data(
        [str(write_csv(tmp_path / "long.csv", rows))], {"topic": load_codebook(LABELS / "topic.yaml")}
    )
    assert data.texts == [long_text.strip()]

    huge = [*BAD_ROWS[:1], {"id": "2", "text": "x" * (MAX_FIELD_CHARS + 1), "topic": "trade", "frame": ""}]
    path = write_csv(tmp_path / "huge.csv", huge)
    result = runner.invoke(app, ["train", "--data", str(path), "--labels", str(LABELS)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert f"{path}:3: error: unreadable CSV record: field larger than field limit ({MAX_FIELD_CHARS})" in result.output
    assert_no_runs(store, tmp_path)


def test_progress_shows_only_on_a_terminal_and_not_with_quiet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "_force_terminal", False)
    assert progress_bar().disable  # piped output, logs, CI: no bars
    monkeypatch.setattr(console, "_force_terminal", True)
    assert not progress_bar().disable
    set_quiet(True)
    try:
        assert progress_bar().disable
    finally:
        set_quiet(False)


def test_every_option_and_argument_of_every_command_is_described() -> None:
    import click
    import typer.main

    def undescribed(command: click.Command, path: str) -> list[str]:
        missing = [f"{path} {p.name}" for p in command.params if not getattr(p, "help", None) and p.name != "help"]
        missing += [f"{path}: no description"] if not command.help else []
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                missing += undescribed(sub, f"{path} {name}")
        return missing

    group = typer.main.get_command(app)
    assert undescribed(group, "topicframe") == []
    on_off = [
        f"{name} {p.name}"
        for name, command in group.commands.items()
        for p in command.params
        if isinstance(p, click.Option) and p.type is click.BOOL and not p.is_flag
    ]
    assert on_off == []  # on/off options are flags (--quiet), never "--quiet true"


def test_training_on_paragraphs_without_articles_says_context_is_off_and_logs_it(tmp_path: Path, store: str) -> None:
    # One paragraph per row, no article_id column: the default config's context blocks would be all zeros.
    with (LABELS / "paragraphs.csv").open(newline="", encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["role"] == "body"][:120]
    data = write_csv(tmp_path / "alone.csv", rows, header=["id", "text", "topic", "frame"])
    options = ["--set", "data.label_sets=[topic, frame]", "--set", "cv.folds=2", "--no-register"]
    result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS), *options])
    assert result.exit_code == 0, result.output
    assert f"{data}: warning: no article has two paragraphs" in " ".join(result.output.split())
    # The config's test file was dropped by --data: said, with how to keep it.
    said = " ".join(result.output.split())
    assert "--data replaces the config's data.test too, labels/paragraphs_test.csv: pass --test-data" in said
    client = tracking_client(store)
    (run,) = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert {run.data.params[f"context.{block}"] for block in ("neighbours", "headline", "article")} == {"0.0"}
    # Not the default's topic weight (no block to weigh): logged empty, as every unset option.
    assert run.data.params["context.headline_article"] == "" and "context.headline_article.topic" not in run.data.params
    # Context switched off by the config (as the public benchmarks' configs do): nothing to warn about.
    off = [f"context.{block}=0" for block in ("neighbours", "headline", "article")]
    quiet = runner.invoke(
        app,
        ["train", "--data", str(data), "--labels", str(LABELS), *options, *(x for o in off for x in ("--set", o))],
    )
    assert quiet.exit_code == 0, quiet.output
    assert "no article has two paragraphs" not in " ".join(quiet.output.split())


def test_evaluate_scores_the_label_sets_the_data_has(
    tmp_path: Path, store: str, bundle_dir: Path, bundle_sha256: str
) -> None:
    with (LABELS / "paragraphs_test.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    first_articles = sorted({r["article_id"] for r in rows})[:4]
    rows = [r for r in rows if r["article_id"] in first_articles]
    model = ["--model", str(bundle_dir), "--model-sha256", bundle_sha256]

    def topic_summary(output: str) -> str:
        (line,) = [line for line in output.splitlines() if line.startswith("evaluation — topic:")]
        return line

    full = runner.invoke(app, ["evaluate", "--data", str(write_csv(tmp_path / "full.csv", rows)), *model])
    assert full.exit_code == 0, full.output
    assert "evaluation — role:" in full.output
    # A directory's model is named by the directory (was "model <dir name> version -").
    said = " ".join(full.output.split())
    assert f"model in {bundle_dir} (a directory, not a registered version);" in said, said[:300]
    without_roles = [{k: v for k, v in r.items() if k != "role"} for r in rows]
    topics_only = write_csv(tmp_path / "topics.csv", without_roles, ["id", "article_id", "text", "topic", "frame"])
    partial = runner.invoke(app, ["evaluate", "--data", str(topics_only), *model])
    assert partial.exit_code == 0, partial.output  # refused before: "missing column(s) role"
    assert "no role column in the data: not evaluated" in " ".join(partial.output.split())
    assert "evaluation — role:" not in partial.output
    # The same rows, the model's own roles; cardinality per content paragraph, by the roles the model read when
    # the data has none (it was per row: 1.161 against 1.336 on a tester's file), here the gold ones.
    assert topic_summary(partial.output) == topic_summary(full.output)

    text_only = write_csv(tmp_path / "text.csv", rows, ["id", "text"])
    refused = runner.invoke(app, ["evaluate", "--data", str(text_only), *model])
    assert refused.exit_code == 1 and "no column for any of the model's label sets" in refused.output
    bad = write_csv(tmp_path / "bad.csv", [{**rows[0], "topic": "trad"}])
    refused = runner.invoke(app, ["evaluate", "--data", str(bad), *model])
    assert refused.exit_code == 1 and "unknown topic label 'trad'" in refused.output
    assert "nothing was scored" in refused.output and "trained" not in refused.output
    # As training's test data: a caption's topics are refused, duplicates and reused ids said (both were silent).
    caption = next(i for i, r in enumerate(rows) if r["role"] == "caption")
    labelled_caption = [dict(r) for r in rows]
    labelled_caption[caption] |= {"topic": "trade", "frame": "conflict"}
    refused = runner.invoke(app, ["evaluate", "--data", str(write_csv(tmp_path / "cap.csv", labelled_caption)), *model])
    assert refused.exit_code == 1, refused.output
    assert f"cap.csv:{caption + 2}: error: role 'caption' gets no" in " ".join(refused.output.split())
    twice = runner.invoke(app, ["evaluate", "--data", str(write_csv(tmp_path / "twice.csv", [*rows, rows[0]])), *model])
    assert twice.exit_code == 0 and "dropped 1 exact duplicate row(s)" in twice.output
    # A column present but left blank scored every paragraph as "no frame" without a word.
    blank = write_csv(tmp_path / "blank.csv", [{**r, "frame": ""} for r in rows])
    warned = runner.invoke(app, ["evaluate", "--data", str(blank), *model])
    assert warned.exit_code == 0, warned.output
    said = " ".join(warned.output.split())
    assert "the frame column has no label on any row" in said and "the topic column" not in said


def test_a_label_missing_from_a_folds_training_part_is_not_a_raw_sklearn_warning(tmp_path: Path, store: str) -> None:
    """'Label not 3 is present in all training examples' lines reached the terminal, once per fold and label."""
    import warnings

    rows = [
        {"id": str(i), "article_id": f"a{i}", "text": f"Tariffs on steel, round {i}.", "topic": "trade", "frame": ""}
        for i in range(8)
    ]
    rows[0] |= {"text": "Flood defences and emissions targets were debated.", "topic": "climate"}  # one positive
    rows[1] |= {"split": "test"}
    data = write_csv(
        tmp_path / "rare.csv", rows, header=["id", "article_id", "text", "topic", "frame", "role", "split"]
    )
    options = ["--set", "data.label_sets=[topic]", "--set", "data.min_positives=0", "--set", "cv.folds=2"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = runner.invoke(app, ["train", "--data", str(data), "--labels", str(LABELS), *options, "--no-register"])
    assert result.exit_code == 0, result.output
    assert not [(str(w.message), w.filename) for w in caught if "is present in all training examples" in str(w.message)]


def test_a_model_digest_that_is_not_one_is_said_to_be_none(bundle_dir: Path) -> None:
    """`--model-sha256 abc` read as a mismatch against 'abc…' after the model's files were read."""
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--data",
            str(LABELS / "paragraphs_test.csv"),
            "--model",
            str(bundle_dir),
            "--model-sha256",
            "abc",
        ],
    )
    assert result.exit_code == 2
    said = " ".join(re.sub(r"[│╭╮╰╯─]", " ", result.output).split())  # typer's error box, unwrapped
    assert "'abc' is not a sha256 digest (64 hexadecimal characters)" in said


def test_a_problem_on_line_100_keeps_its_line_number(capsys: pytest.CaptureFixture[str]) -> None:
    """Rich read ":100:" as an emoji code: "bad.csv💯 error: …" (a tester's file, line 100)."""
    from training.console import print_error, print_plain, print_warning

    print_error("bad.csv:100: error: role 'promo' gets no topic label")
    print_warning("bad.csv:100: warning: same text as bad.csv:1234:")
    print_plain("bad.csv:100: error: x", stderr=True)
    said = capsys.readouterr().err
    assert said.count("bad.csv:100:") == 3 and ":1234:" in said and "\N{HUNDRED POINTS SYMBOL}" not in said


def test_classify_role_replaces_the_role_model_in_every_output_format(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str
) -> None:
    """`--role body` for text taken from an article's body: the README's first example, a lone sentence, came back
    read as a caption with no labels and no way to say what it was."""
    import json

    caption = tmp_path / "caption.txt"
    caption.write_text("Customs officers inspect seized solar panels at the port on Tuesday. Photo: AFP/Getty Images\n")
    model = ["--model", str(bundle_dir), "--model-sha256", bundle_sha256]
    read = json.loads(runner.invoke(app, ["classify", str(caption), *model, "--format", "json"]).output)
    given = runner.invoke(app, ["classify", str(caption), *model, "--format", "json", "--role", "body"])
    assert given.exit_code == 0, given.output
    item = json.loads(given.output)["paragraphs"][0]
    assert read["paragraphs"][0]["role"] == "caption" and not read["paragraphs"][0]["labels"]["topic"]
    assert (item["role"], item["role_score"]) == ("body", None) and item["labels"]["topic"]
    for output_format in ("table", "csv", "jsonl"):  # a role without a score was a TypeError in the table
        shown = runner.invoke(app, ["classify", str(caption), *model, "--format", output_format, "--role", "body"])
        assert shown.exit_code == 0 and "Traceback" not in shown.output, shown.output
    wrong = runner.invoke(app, ["classify", str(caption), *model, "--role", "Body"])
    assert wrong.exit_code == 1
    assert wrong.output.strip() == (
        "error: --role Body: unknown role 'Body' (closest: 'body'; valid: body, headline, byline, caption, promo, "
        "footer)"
    )
