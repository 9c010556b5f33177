"""`topicframe agreement`: hand-computed agreement statistics, row matching, reporting, the CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.conftest import LABELS, ROOT, write_csv
from training.cli import app
from training.console import cli_errors
from training.errors import TopicframeError
from training.quality.agreement import compute_agreement, label_agreement

runner = CliRunner()

# Six paragraphs annotated twice. topic "trade": A = [1,1,0,0,1,0], B = [1,0,0,0,1,1]; no other topic is used.
# role (single-label): A = body, body, headline, caption, body, body;
#                      B = body, headline, headline, caption, body, byline.
# frame: nobody gives any frame.
TEXTS = ["One.", "Two.", "Three.", "Four.", "Five.", "Six."]
TRADE_A = ["trade", "trade", "", "", "trade", ""]
TRADE_B = ["trade", "", "", "", "trade", "trade"]
ROLE_A = ["body", "body", "headline", "caption", "body", "body"]
ROLE_B = ["body", "headline", "headline", "caption", "body", "byline"]


def rows(topics: list[str], roles: list[str]) -> list[dict[str, str]]:
    return [
        {"id": str(i + 1), "article_id": "a1", "text": text, "topic": topic, "frame": "", "role": role}
        for i, (text, topic, role) in enumerate(zip(TEXTS, topics, roles, strict=True))
    ]


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    a = write_csv(tmp_path / "a.csv", rows(TRADE_A, ROLE_A))
    b = write_csv(tmp_path / "b.csv", rows(TRADE_B, ROLE_B))
    return a, b


def test_binary_label_hand_computed() -> None:
    result = label_agreement([1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 1])
    # 2x2 table: n11 = 2 (rows 1, 5), n10 = 1 (row 2), n01 = 1 (row 6), n00 = 2 (rows 3, 4); N = 6.
    # Cohen's kappa: p_o = (2 + 2) / 6 = 2/3; P_A(1) = 3/6, P_B(1) = 3/6, so p_e = .5·.5 + .5·.5 = 1/2;
    #   kappa = (2/3 - 1/2) / (1 - 1/2) = (1/6) / (1/2) = 1/3.
    # Krippendorff's alpha (nominal): 12 pairable values, coincidences from ordered pairs within each unit
    #   (m_u = 2, weight 1/(m_u - 1) = 1): o00 = 2·2 = 4, o11 = 2·2 = 4, o01 = o10 = 2 (rows 2 and 6);
    #   n0 = 6, n1 = 6, n = 12. D_o = (o01 + o10) / n = 4/12 = 1/3;
    #   D_e = (n0·n1 + n1·n0) / (n·(n - 1)) = 72/132 = 6/11; alpha = 1 - (1/3) / (6/11) = 1 - 11/18 = 7/18.
    # Positive agreement = 2·2 / (2·2 + 1 + 1) = 2/3; F1 of A against B: TP 2, FP 1, FN 1 -> 4/6 = 2/3.
    assert result["kappa"] == pytest.approx(1 / 3, abs=1e-9)
    assert result["alpha"] == pytest.approx(7 / 18, abs=1e-9)
    assert result["positive_agreement"] == pytest.approx(2 / 3, abs=1e-9)
    assert result["f1"] == pytest.approx(2 / 3, abs=1e-9)
    assert (result["n_a"], result["n_b"], result["n_both"], result["notes"]) == (3, 3, 2, [])


def test_perfect_agreement_is_one() -> None:
    # p_o = 1 -> kappa = (1 - p_e) / (1 - p_e) = 1; no disagreeing pairs -> D_o = 0 -> alpha = 1.
    result = label_agreement([1, 0, 1, 0], [1, 0, 1, 0])
    assert result["alpha"] == pytest.approx(1.0, abs=1e-9)
    assert result["kappa"] == pytest.approx(1.0, abs=1e-9)
    assert result["positive_agreement"] == result["f1"] == 1.0


def test_degenerate_labels_are_none_with_a_note() -> None:
    unused = label_agreement([0, 0, 0], [0, 0, 0])  # one value only: D_e = 0 and p_e = 1, so 0/0
    assert unused["alpha"] is unused["kappa"] is unused["positive_agreement"] is unused["f1"] is None
    assert "no annotator used this label" in unused["notes"][0]
    everywhere = label_agreement([1, 1], [1, 1])
    assert everywhere["alpha"] is everywhere["kappa"] is None
    assert everywhere["positive_agreement"] == 1.0
    assert "every row" in everywhere["notes"][0]


def test_files_matched_by_id_hand_computed(pair: tuple[Path, Path]) -> None:
    a, b = pair
    result = compute_agreement(a, b, LABELS)
    json.dumps(result, allow_nan=False)  # plain data, no NaN
    assert result["matched_by"] == "id"
    assert result["n_rows"] == {"a": 6, "b": 6, "matched": 6}
    assert list(result["label_sets"]) == ["topic", "frame", "role"]  # header order, every set with a codebook
    assert result["unmatched"] == []
    # B's sixth row is a byline with a topic: compared as written, and said (the codebook gives bylines none).
    assert [(p["line"], p["severity"], p["message"]) for p in result["problems"]] == [
        (7, "warning", "role 'byline' gets no topic label (only body, headline paragraphs do)")
    ]

    topic = result["label_sets"]["topic"]
    assert topic["labels"]["trade"]["kappa"] == pytest.approx(1 / 3, abs=1e-9)
    assert topic["labels"]["trade"]["alpha"] == pytest.approx(7 / 18, abs=1e-9)
    assert topic["labels"]["climate"]["alpha"] is None
    # Pooled over 6 rows x 9 topic labels = 54 units: the 6 trade units above plus 48 units (0, 0).
    #   o00 = 4 + 2·48 = 100, o11 = 4, o01 = o10 = 2; n0 = 102, n1 = 6, n = 108.
    #   D_o = 4/108; D_e = 2·102·6 / (108·107) = 1224/11556; alpha = 1 - (4/108)·(11556/1224) = 1 - 428/1224 = 199/306.
    assert topic["alpha_pooled"] == pytest.approx(199 / 306, abs=1e-9)
    assert topic["micro_f1"] == pytest.approx(2 / 3, abs=1e-9)  # TP 2, FP 1, FN 1 over all topic labels
    assert topic["nominal"] is None

    frame = result["label_sets"]["frame"]
    assert frame["alpha_pooled"] is None and frame["micro_f1"] is None and frame["notes"]

    role = result["label_sets"]["role"]["nominal"]
    # Nominal role: agreements on rows 1, 3, 4, 5 -> p_o = 4/6 (percent agreement 66.67%).
    #   Marginals A: body 4, headline 1, caption 1; B: body 2, headline 2, caption 1, byline 1.
    #   p_e = (4·2 + 1·2 + 1·1 + 0·1) / 36 = 11/36; kappa = (24/36 - 11/36) / (1 - 11/36) = 13/25.
    #   alpha: n = 12 values, n_c: body 6, headline 3, caption 2, byline 1; disagreeing ordered pairs:
    #   row 2 (body, headline) and row 6 (body, byline), 2 each -> D_o = 4/12 = 1/3;
    #   D_e = (n² - Σ n_c²) / (n·(n - 1)) = (144 - 36 - 9 - 4 - 1) / 132 = 94/132 = 47/66;
    #   alpha = 1 - (1/3)·(66/47) = 1 - 22/47 = 25/47.
    assert role["kappa"] == pytest.approx(13 / 25, abs=1e-9)
    assert role["alpha"] == pytest.approx(25 / 47, abs=1e-9)
    assert role["percent_agreement"] == pytest.approx(200 / 3, abs=1e-9)


def test_identical_annotations_agree_perfectly(pair: tuple[Path, Path]) -> None:
    a, _ = pair
    result = compute_agreement(a, a, LABELS, ["topic", "role"])
    assert result["label_sets"]["topic"]["alpha_pooled"] == pytest.approx(1.0, abs=1e-9)
    assert result["label_sets"]["role"]["nominal"]["alpha"] == pytest.approx(1.0, abs=1e-9)
    assert result["label_sets"]["role"]["nominal"]["kappa"] == pytest.approx(1.0, abs=1e-9)


def test_matched_by_text_with_unmatched_rows_and_unknown_label_reported(tmp_path: Path) -> None:
    header = ["text", "topic", "frame", "role"]
    a = write_csv(
        tmp_path / "a.csv",
        [
            {"text": "Alpha.", "topic": "trade"},
            {"text": "Beta.", "topic": ""},
            {"text": "Gamma.", "topic": "diplomacy"},
            {"text": "Only in A.", "topic": ""},
        ],
        header,
    )
    b = write_csv(
        tmp_path / "b.csv",
        [
            {"text": "Gamma.", "topic": "diplomacy"},
            {"text": "Alpha.", "topic": "trade"},
            {"text": "Beta.", "topic": "tarde"},
            {"text": "Only in B.", "topic": ""},
        ],
        header,
    )
    result = compute_agreement(a, b, LABELS, ["topic"])
    assert result["matched_by"] == "text"
    assert result["n_rows"]["matched"] == 3
    assert result["unmatched"] == [
        {"file": str(a), "line": 5, "key": "Only in A."},
        {"file": str(b), "line": 5, "key": "Only in B."},
    ]
    assert [(p["source"], p["line"]) for p in result["problems"]] == [(str(b), 4)]
    assert "unknown topic label 'tarde' (did you mean 'trade'?)" in result["problems"][0]["message"]
    topic = result["label_sets"]["topic"]
    assert (topic["n_rows"], topic["n_left_out"]) == (2, 1)  # Beta. is left out, Alpha. and Gamma. agree
    assert topic["alpha_pooled"] == pytest.approx(1.0, abs=1e-9)
    # Through the CLI: the figures and the error are printed, and the exit status says the data was not clean.
    cli = runner.invoke(app, ["agreement", str(a), str(b), "--labels", str(LABELS), "--label-sets", "topic"])
    assert cli.exit_code == 1, cli.output
    assert "unknown topic label 'tarde'" in cli.output and "3 paragraphs matched by text" in cli.output
    assert cli.output.strip().splitlines()[-1] == "error: 1 error(s) above: agreement was computed without those rows"
    assert "2 unmatched, 1 error(s), 0 warning(s)" in cli.output  # it said "1 problem(s)" for warnings too


def test_a_topic_on_a_caption_is_said_and_warnings_are_counted_apart(tmp_path: Path) -> None:
    """Training refuses a caption's topic; agreement compared it in silence, and its summary counted a warning
    (a column in one file only) as a problem while the command exited 0."""
    rows = [
        {"id": "1", "text": "Alpha.", "topic": "trade", "role": "body"},
        {"id": "2", "text": "Photo: AFP", "topic": "", "role": "caption"},
    ]
    a = write_csv(tmp_path / "a.csv", rows, ["id", "text", "topic", "frame", "role"])
    b = write_csv(tmp_path / "b.csv", [rows[0], {**rows[1], "topic": "trade"}], ["id", "text", "topic", "role"])
    result = compute_agreement(a, b, LABELS)
    said = [(p["source"], p["line"], p["severity"], p["message"]) for p in result["problems"]]
    assert said == [
        (str(a), 1, "warning", f"column 'frame' is not in {b}; not compared"),
        (str(b), 3, "warning", "role 'caption' gets no topic label (only body, headline paragraphs do)"),
    ]
    cli = runner.invoke(app, ["agreement", str(a), str(b), "--labels", str(LABELS)])
    assert cli.exit_code == 0, cli.output
    assert "0 unmatched, 0 error(s), 2 warning(s)" in cli.output


def test_duplicate_ids_and_changed_text_are_reported(tmp_path: Path) -> None:
    a = write_csv(
        tmp_path / "a.csv",
        [
            {"id": "1", "text": "One.", "topic": "trade"},
            {"id": "1", "text": "Again.", "topic": ""},
            {"id": "2", "text": "Two.", "topic": ""},
        ],
    )
    b = write_csv(
        tmp_path / "b.csv", [{"id": "1", "text": "One.", "topic": "trade"}, {"id": "2", "text": "Two!", "topic": ""}]
    )
    result = compute_agreement(a, b, LABELS, ["topic"])
    assert result["n_rows"]["matched"] == 1
    messages = {(p["source"], p["line"]): p["message"] for p in result["problems"]}
    assert "duplicate id '1' (first at line 2)" in messages[str(a), 3]
    assert f"id '2' has different text in {a}:4" in messages[str(b), 3]


def test_missing_label_set_column_names_file_and_column(tmp_path: Path) -> None:
    a = write_csv(tmp_path / "a.csv", rows(TRADE_A, ROLE_A))
    b = write_csv(tmp_path / "b.csv", rows(TRADE_B, ROLE_B), ["id", "text", "topic", "role"])
    with pytest.raises(TopicframeError, match=rf"{b}: missing column 'frame'"):
        compute_agreement(a, b, LABELS, ["topic", "frame"])


def test_cli_writes_json(pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = pair
    out = tmp_path / "agreement.json"
    result = runner.invoke(app, ["agreement", str(a), str(b), "--labels", str(LABELS), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "6 paragraphs matched by id" in result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert set(data) == {"a", "b", "matched_by", "n_rows", "label_sets", "unmatched", "problems"}
    assert set(data["label_sets"]) == {"topic", "frame", "role"}
    assert set(data["label_sets"]["role"]) >= {"alpha_pooled", "micro_f1", "nominal", "labels", "n_rows", "notes"}
    assert set(data["label_sets"]["role"]["labels"]["body"]) >= {"alpha", "kappa", "positive_agreement", "f1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "agreement.json", "b.csv"]  # no temp file left
    again = runner.invoke(app, ["agreement", str(a), str(b), "--labels", str(LABELS), "--json", str(out)])
    assert again.exit_code == 1 and "agreement.json: already exists (pass --overwrite" in again.output
    replaced = runner.invoke(
        app, ["agreement", str(a), str(b), "--labels", str(LABELS), "--json", str(out), "--overwrite"]
    )
    assert replaced.exit_code == 0, replaced.output


@pytest.mark.parametrize("case", ["missing file", "no common rows", "the same file"])
def test_cli_unusable_input_is_one_line(case: str, pair: tuple[Path, Path], tmp_path: Path) -> None:
    a, b = pair
    if case == "missing file":
        b, expected = tmp_path / "nope.csv", "nope.csv: file not found"
    elif case == "the same file":  # it agreed with itself (α 1.0), and printed its duplicate ids twice
        b, expected = a.parent / "." / a.name, "are the same file: give two annotations of the same paragraphs"
    else:
        b = write_csv(tmp_path / "other.csv", [{"id": "99", "text": "Elsewhere.", "topic": ""}])
        expected = "no paragraph is in both files"
    result = runner.invoke(app, ["agreement", str(a), str(b), "--labels", str(LABELS)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert expected in result.output


def test_a_reader_that_goes_away_ends_the_command_quietly(
    pair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """`topicframe ... | head`: the reader closes the pipe; the command stops, status 1, without a word (plain
    output printed "error: [Errno 32] Broken pipe")."""

    def writes_to_a_closed_pipe() -> None:
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.raises(typer.Exit) as stopped:
        cli_errors(writes_to_a_closed_pipe)()
    assert stopped.value.exit_code == 1 and capsys.readouterr() == ("", "")
    # A whole command whose output goes through rich, in a process of its own:
    a, b = pair
    command = [sys.executable, "-m", "training.cli", "agreement", str(a), str(b), "--labels", str(LABELS)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # gone before the first line is written
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1 and stderr == "", stderr
