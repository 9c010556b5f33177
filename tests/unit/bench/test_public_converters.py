"""The public-benchmark converters produce CSVs and codebooks the product accepts.

Each test writes a tiny synthetic file in the raw format of one dataset (never the
real public data) and loads the converted output with the product's own
validator.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bench.public.converters import (
    Converted,
    convert_bbc,
    convert_gvfc,
    convert_nyt,
    convert_reuters,
    label_mapping,
    snake_case,
)
from training.codebook import SNAKE_CASE, load_codebooks
from training.dataset import LabelledData, load_labelled_data


def write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load_converted(conv: Converted, k: int = 0) -> tuple[LabelledData, LabelledData]:
    """Validate one converted split exactly as `topicframe train` would."""
    codebooks = load_codebooks(conv.labels_dir, [conv.label_set])
    assert all(SNAKE_CASE.match(name) for name in codebooks[conv.label_set].label_names)
    assert codebooks[conv.label_set].multi_label is conv.multi_label
    train_csv, test_csv = conv.splits[k]
    train = load_labelled_data([train_csv], codebooks, min_positives=0)
    test = load_labelled_data([test_csv], codebooks, min_positives=0)
    assert not set(train.texts) & set(test.texts), "the CLI refuses a test text that is also in training"
    return train, test


def test_snake_case_and_unique_mapping() -> None:
    assert snake_case("State & Local Govt Admin") == "state_local_govt_admin"
    assert snake_case("money-fx") == "money_fx"
    assert snake_case("Gun/2nd Amendment rights") == "gun_2nd_amendment_rights"
    assert snake_case("99 Other") == "l_99_other"
    mapping = label_mapping(["a-b", "a b", "A_B"])
    assert sorted(mapping.values()) == ["a_b", "a_b_2", "a_b_3"]


def test_reuters_keeps_test_whole_and_merges_training_duplicates(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    train_rows = [[str(i), f"Grain story number {i}\nwheat prices", "grain;wheat"] for i in range(6)]
    train_rows += [["10", "Same text", "money-fx"], ["11", "Same text", "interest"]]  # conflicting copies
    train_rows += [["12", "Shared with test", "earn"]]
    write(raw / "train.csv", ["id", "text", "labels"], train_rows)
    test_rows = [["20", "Shared with test", "earn"], ["21", "Exported crude oil", "crude"], ["22", "Money", "money-fx"]]
    write(raw / "test.csv", ["id", "text", "labels"], test_rows)

    conv = convert_reuters(raw, tmp_path / "out")
    train, test = load_converted(conv)
    assert conv.multi_label and len(test) == 3
    assert "Shared with test" not in train.texts
    merged = train.labels["topic"][train.texts.index("Same text")]
    assert set(merged) == {"money_fx", "interest"}
    assert conv.label_map["money_fx"] == "money-fx"
    assert any("merged" in note for note in conv.notes)


@pytest.mark.parametrize("dataset", ["nyt", "bbc"])
def test_fixed_stratified_split_is_single_label_and_reproducible(tmp_path: Path, dataset: str) -> None:
    raw = tmp_path / "raw"
    classes = ["Law and Crime", "State & Local Govt Admin", "Health"]
    if dataset == "nyt":
        rows = [
            [str(i), "1996", str(j), c, "0", f"Title {i}", f"summary {i}"]
            for i, (j, c) in enumerate([(j, c) for j, c in enumerate(classes) for _ in range(10)])
        ]
        rows.append(["98", "1996", "3", "Health", "0", "Title 0", "summary 0"])  # duplicate, other label: dropped
        rows.append(["99", "1996", "1", "Law and Crime", "0", "", ""])  # no text
        write(
            raw / "nyt_cap.csv", ["id", "year", "majortopic", "majortopic_name", "subtopic", "title", "summary"], rows
        )
        convert = convert_nyt
    else:
        rows = [[f"{c}/{i}", f"Article {c} {i}\n\nbody", c] for c in ("sport", "tech", "business") for i in range(10)]
        rows.append(["sport/99", "Article sport 0\n\nbody", "sport"])  # exact duplicate: dropped
        write(raw / "bbc_news.csv", ["id", "text", "category"], rows)
        convert = convert_bbc

    conv = convert(raw, tmp_path / "out")
    train, test = load_converted(conv)
    assert not conv.multi_label
    assert all(len(labels) == 1 for labels in train.labels["topic"] + test.labels["topic"])
    assert len(test) == round(0.2 * (len(train) + len(test)))
    assert len({labels[0] for labels in test.labels["topic"]}) == 3  # stratified: every class in test
    again = convert(raw, tmp_path / "again")
    assert again.splits[0][1].read_text() == conv.splits[0][1].read_text()  # seed 0, same split


def test_gvfc_keeps_framed_relevant_headlines_in_five_folds(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    frames = {"1": "Gun/2nd Amendment rights", "3": "Politics", "7": "Public opinion"}
    rows = [
        [str(i), f"Headline {i}", "1", "1", code, "99", name, ""]
        for i, (code, name) in enumerate([(code, name) for code, name in frames.items() for _ in range(6)])
    ]
    rows.append(["50", "No frame here", "1", "1", "99", "99", "", ""])
    rows.append(["51", "Not relevant", "2", "99", "3", "99", "Politics", ""])
    header = ["id", "text", "relevant", "focus", "frame1", "frame2", "frame1_name", "frame2_name"]
    write(raw / "gvfc_headlines.csv", header, rows)

    conv = convert_gvfc(raw, tmp_path / "out")
    assert len(conv.splits) == 5 and conv.label_set == "frame"
    assert set(conv.label_map) == {"gun_2nd_amendment_rights", "politics", "public_opinion"}
    tested: list[str] = []
    for k in range(5):
        train, test = load_converted(conv, k)
        assert len(train) + len(test) == 18
        tested += test.texts
    assert sorted(tested) == sorted(f"Headline {i}" for i in range(18))  # the folds partition the data
