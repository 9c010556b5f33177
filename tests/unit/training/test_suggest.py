"""What to label next: pool reading, the four strategies on known scores, and the command end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from typer.testing import CliRunner

from tests.conftest import LABELS, write_csv
from training.cli import app
from training.errors import TopicframeError
from training.quality.suggest import choose, new_texts, read_pool, total_uncertainty

runner = CliRunner()
TOPIC_LABELS = {"topic": ["trade", "security"]}


def test_pool_from_csv_jsonl_and_text(tmp_path: Path) -> None:
    (tmp_path / "pool.csv").write_text(
        'id,article_id,text\nx1,A,"First, with a <a href=""/x"">comma</a>"\nx2,A,<p><img src=a.jpg></p>\n'
        'x3,B,"Line one\nline two"\n',
        encoding="utf-8",
    )
    (tmp_path / "pool.jsonl").write_text(
        json.dumps({"text": "Headline\n\nBody one.\n\nBody two."})
        + "\n\n"
        + json.dumps({"id": "j7", "text": "A lone paragraph."})
        + "\n"
        + json.dumps({"id": 8, "text": "Two.\n\nParagraphs."})
        + "\n",
        encoding="utf-8",
    )
    (tmp_path / "story.txt").write_text("Alpha.\n\n\nBeta.\n", encoding="utf-8")
    pool = read_pool([tmp_path / "pool.csv", tmp_path / "pool.jsonl", tmp_path / "story.txt"])
    texts = ["First, with a comma", "Line one\nline two", "Headline", "Body one.", "Body two."]
    texts += ["A lone paragraph.", "Two.", "Paragraphs.", "Alpha.", "Beta."]
    assert pool.texts == texts
    # A JSONL record's own id is echoed, as classify echoes it (it was replaced by the file's line).
    assert pool.ids[:2] == ["x1", "x3"] and pool.ids[5:8] == ["j7", "8-p1", "8-p2"]
    # pool.csv and pool.jsonl share a stem: made-up names use the whole file name, so they cannot collide.
    # A record with its own id is its own article (a made-up one repeated across pools of the same file name).
    jsonl = ["pool.jsonl-1"] * 3 + ["j7"] + ["8"] * 2
    assert pool.article_ids == ["A", "B", *jsonl, "story", "story"]
    assert pool.sources[1] == f"{tmp_path / 'pool.csv'}:4"


def test_a_pool_directory_or_glob_is_read_as_its_files(tmp_path: Path) -> None:
    """The README's own `--pool new_articles/` said "file not found"."""
    folder = tmp_path / "new_articles"
    (folder / "more").mkdir(parents=True)
    (folder / "b.txt").write_text("Beta one.\n\nBeta two.\n", encoding="utf-8")
    (folder / "more" / "a.md").write_text("# Alpha\n\nAlpha body.\n", encoding="utf-8")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")  # not a pool format: left out
    assert read_pool([folder]).texts == ["Beta one.", "Beta two.", "Alpha", "Alpha body."]
    assert read_pool([Path(f"{folder}/*.txt")]).texts == ["Beta one.", "Beta two."]
    (tmp_path / "empty").mkdir()
    with pytest.raises(TopicframeError, match=r"empty: no \.csv, \.jsonl, .* file in this directory"):
        read_pool([tmp_path / "empty"])
    with pytest.raises(TopicframeError, match=r"\*\.csv: no file matches this pattern"):
        read_pool([Path(f"{folder}/*.csv")])


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("id,body\n1,Envoys met.\n", "pool.csv", "pool.csv:1: no 'text' column (columns: id, body)"),
        ("", "empty.csv", "empty.csv: file is empty (expected a header row)"),  # as `audit` and `train` say it
        ("id,text\n1,\n", "pool.csv", "no paragraphs in the pool"),
        ("\n\n", "empty.txt", "no paragraphs in the pool"),
        ('{"body": "x"}\n', "pool.jsonl", "pool.jsonl:1: expected an object with a string field 'text'"),
        ('{"text": "x"}\n{"text": \n', "pool.jsonl", "pool.jsonl:2: not valid JSON (Expecting value)"),
    ],
)
def test_bad_pools_are_refused(tmp_path: Path, content: str, name: str, message: str) -> None:
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(TopicframeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_pool([tmp_path / name])


def strategy_inputs() -> dict:
    # Rows 0-5 form cluster 0 (trade words), rows 6-11 cluster 1 (security words). Row 8 has the one score
    # nearest a threshold (security 0.49); row 3 is in doubt on both labels (trade 0.52, security 0.2).
    trade = np.array([0.9, 0.8, 0.95, 0.52, 0.7, 0.85, 0.1, 0.2, 0.05, 0.15, 0.3, 0.1])
    security = np.array([0.1, 0.2, 0.1, 0.2, 0.1, 0.3, 0.9, 0.8, 0.49, 0.9, 0.85, 0.95])
    X = sp.csr_matrix(np.repeat([[1.0, 0.0], [0.0, 1.0]], 6, axis=0) + np.linspace(0, 0.1, 12)[:, None])
    return {
        "scores": {"topic": np.column_stack([trade, security])},
        "thresholds": {"topic": np.array([0.5, 0.5])},
        "label_names": TOPIC_LABELS,
        "X": X,
        "candidates": np.ones(12, dtype=bool),
        "clusters": np.repeat([0, 1], 6),
    }


def test_pool_files_sharing_a_name_get_ids_unique_across_the_pool(tmp_path: Path) -> None:
    """p1/x.csv and p2/x.csv both made ids x-2, x-3...: the same id for different paragraphs."""
    for folder, text in (("p1", "Envoys met in Doha."), ("p2", "Navy ships sailed through the strait.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x.csv").write_text(f"text\n{text}\n", encoding="utf-8")
    pool = read_pool([tmp_path / "p1" / "x.csv", tmp_path / "p2" / "x.csv"])
    assert len(set(pool.ids)) == 2 and pool.ids[0] == f"{(tmp_path / 'p1' / 'x.csv').as_posix()}-2"


def test_labelled_and_repeated_texts_are_not_proposed() -> None:
    """A pool overlapping the corpus proposed labelled rows; boilerplate in two articles was proposed twice."""
    keep = new_texts(["Read more.", "Tariffs rose.", "Read more.", "Envoys met."], labelled=["Envoys met."])
    assert keep.tolist() == [True, True, False, False]


def test_total_uncertainty_is_one_at_each_threshold_and_zero_at_the_ends() -> None:
    scores = {"topic": np.array([[0.2, 0.5], [1.0, 0.0], [0.6, 0.75]])}
    thresholds = {"topic": np.array([0.2, 0.5])}
    # Label 1 (threshold 0.2): 1 - |s - 0.2| / 0.8; label 2 (threshold 0.5): 1 - |s - 0.5| / 0.5.
    assert total_uncertainty(scores, thresholds) == pytest.approx([2.0, 0.0, 0.5 + 0.5])


def test_uncertainty_picks_the_most_doubt_over_all_labels_and_names_the_nearest() -> None:
    picked = choose("uncertainty", 2, **strategy_inputs())
    # Row 3: (1 - 0.04) + (1 - 0.6) = 1.36; row 8: (1 - 0.9) + (1 - 0.02) = 1.08, though its one margin is smaller.
    assert [c.index for c in picked] == [3, 8]
    assert [c.uncertainty for c in picked] == pytest.approx([1.36, 1.08])
    assert (picked[1].label_set, picked[1].label, picked[1].margin) == ("topic", "security", pytest.approx(0.01))
    nearest = "nearest: topic/trade score within 0.020 of its threshold"
    assert picked[0].reason == f"uncertainty 1.36 over all labels; {nearest}"


def test_diversity_and_mixed_visit_the_least_covered_cluster_first() -> None:
    inputs = strategy_inputs()
    # Cluster 0 already has 5 labelled paragraphs, cluster 1 none: cluster 1 is under-covered.
    labelled = np.zeros(5, dtype=np.int64)
    diverse = choose("diversity", 3, labelled_clusters=labelled, **inputs)
    assert [c.cluster for c in diverse] == [1, 1, 1]
    assert diverse[0].reason == "under-covered cluster 1: 0 of 6 paragraphs labelled or chosen"
    mixed = choose("mixed", 2, **inputs)
    assert [c.index for c in mixed] == [3, 8]  # the most uncertain of each cluster, clusters alternating
    assert mixed[1].cluster == 1 and mixed[1].label == "security"


def test_random_is_seeded_and_respects_candidates() -> None:
    inputs = strategy_inputs()
    inputs["candidates"] = np.arange(12) % 2 == 0
    first = [c.index for c in choose("random", 4, seed=1, **inputs)]
    assert first == [c.index for c in choose("random", 4, seed=1, **inputs)]
    assert all(i % 2 == 0 for i in first) and len(set(first)) == 4
    assert len(choose("uncertainty", 50, **inputs)) == 6  # never more than the candidates


def test_suggest_command_writes_a_csv_ready_to_label(bundle_dir: Path, bundle_sha256: str, tmp_path: Path) -> None:
    # Two whole articles of the held-out test set, labels ignored: headline, byline, captions, body, promos.
    with (LABELS / "paragraphs_test.csv").open(newline="", encoding="utf-8") as f:
        corpus = list(csv.DictReader(f))
    first_two = list(dict.fromkeys(row["article_id"] for row in corpus))[:2]
    rows = [row for row in corpus if row["article_id"] in first_two]
    roles = {row["id"]: row["role"] for row in rows}
    assert {"body", "headline"} < set(roles.values()) and len(set(roles.values())) > 2
    pool = write_csv(tmp_path / "pool.csv", rows, header=["id", "article_id", "text", "role"])
    out = tmp_path / "next.csv"
    model = ["--model", str(bundle_dir), "--model-sha256", bundle_sha256]
    args = ["suggest", "--pool", str(pool), "-n", "5", *model, "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as f:
        suggested = list(csv.DictReader(f))
    assert len(suggested) == 5
    assert list(suggested[0])[:7] == ["id", "article_id", "position", "text", "role", "topic", "frame"]
    # Rows come in ranking order: each says where it stands in its article, as the pool has it.
    page = {
        row["id"]: k
        for article in first_two
        for k, row in enumerate((r for r in rows if r["article_id"] == article), 1)
    }
    assert all(int(row["position"]) == page[row["id"]] for row in suggested)
    assert all(row["topic"] == row["frame"] == row["role"] == "" for row in suggested)
    assert all(row["uncertain_set"] in ("topic", "frame") and float(row["margin"]) >= 0 for row in suggested)
    # Only what the model reads as content is proposed: a caption or promo teaches topic and frame nothing.
    assert {roles[row["id"]] for row in suggested} <= {"body", "headline"}
    unsure = [float(r["uncertainty"]) for r in suggested]
    assert unsure == sorted(unsure, reverse=True) and all(float(r["margin"]) >= 0 for r in suggested)

    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "already exists (pass --overwrite" in again.output
    folder = tmp_path / "a-folder"
    folder.mkdir()  # refused before any work, --overwrite or not (it left `a-folder.partial` and a raw OSError)
    into_folder = runner.invoke(app, [*args[: args.index("--out")], "--out", str(folder), "--overwrite"])
    assert into_folder.exit_code == 1 and "a-folder: is a directory; give a file name" in into_folder.output
    assert not (tmp_path / "a-folder.partial").exists()
    bad = runner.invoke(app, ["suggest", "--pool", str(tmp_path / "missing.csv"), *model])
    assert bad.exit_code == 1 and "missing.csv: file not found" in bad.output
    wrong = runner.invoke(app, ["suggest", "--pool", str(pool), "--strategy", "best", *model])
    assert wrong.exit_code == 1 and "--strategy best: expected one of uncertainty, diversity" in wrong.output
    # A pool the labelled corpus holds whole: said in one line (it was an IndexError traceback after a warning).
    covered = runner.invoke(app, ["suggest", "--pool", str(pool), "--labelled", str(pool), *model])
    assert covered.exit_code == 1, covered.output
    assert covered.output.startswith("error: nothing to propose: every one of the pool's ")
    assert "that the model reads as content is already in --labelled" in covered.output


def test_a_pool_csv_with_a_quote_left_open_is_an_error_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "badq.csv").write_text('id,text\n1,Fine.\n2,"unterminated\n3,ok\n')
    with pytest.raises(TopicframeError, match=r"badq.csv:3: unreadable CSV record \(a quoted field is not closed"):
        read_pool([tmp_path / "badq.csv"])
