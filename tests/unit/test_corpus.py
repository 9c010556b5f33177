"""The shipped corpus (labels/): labels from the codebooks, floors met, no near-duplicates, valid rows."""

from __future__ import annotations

import csv
from collections import Counter

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity

from tests.conftest import LABELS
from training.dataset import load_labelled_data

TRAIN, TEST = LABELS / "paragraphs.csv", LABELS / "paragraphs_test.csv"


def read(path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def labels_of(row: dict[str, str], label_set: str) -> list[str]:
    return [x for x in row[label_set].split(";") if x]


@pytest.mark.parametrize("path", [TRAIN, TEST])
def test_every_label_is_in_the_codebook(path, codebooks) -> None:
    for number, row in enumerate(read(path), start=2):
        for name, codebook in codebooks.items():
            unknown = set(labels_of(row, name)) - set(codebook.label_names)
            assert not unknown, f"{path.name}:{number}: {unknown}"


@pytest.mark.parametrize(
    ("path", "rows", "per_topic", "per_frame", "boilerplate"),
    [(TRAIN, 1200, 120, 80, 100), (TEST, 300, 30, 20, 25)],
)
def test_floors(path, rows, per_topic, per_frame, boilerplate, codebooks) -> None:
    data = read(path)
    assert len(data) >= rows
    topics = Counter(label for row in data for label in labels_of(row, "topic"))
    frames = Counter(label for row in data for label in labels_of(row, "frame"))
    assert {t: topics[t] for t in codebooks["topic"].label_names if topics[t] < per_topic} == {}
    assert {f: frames[f] for f in codebooks["frame"].label_names if frames[f] < per_frame} == {}
    unlabelled = [r for r in data if not labels_of(r, "topic") and not labels_of(r, "frame")]
    assert len(unlabelled) >= boilerplate
    labelled = [r for r in data if labels_of(r, "topic")]
    assert sum(len(labels_of(r, "topic")) >= 2 for r in labelled) / len(labelled) >= 0.30
    assert all(r["article_id"] for r in data)


def test_no_frame_without_a_topic() -> None:
    for path in (TRAIN, TEST):
        for number, row in enumerate(read(path), start=2):
            assert labels_of(row, "topic") or not labels_of(row, "frame"), f"{path.name}:{number}"


def test_no_near_duplicates() -> None:
    train, test = [r["text"] for r in read(TRAIN)], [r["text"] for r in read(TEST)]
    X = TfidfVectorizer().fit_transform(train + test)
    similarity = cosine_similarity(X, dense_output=True)
    np.fill_diagonal(similarity, 0)
    i, j = np.where(np.triu(similarity) >= 0.8)
    pairs = [(a, b) for a, b in zip(i, j, strict=True)]
    assert not pairs, [((train + test)[a][:60], (train + test)[b][:60]) for a, b in pairs[:5]]
    cross = similarity[len(train) :, : len(train)]
    t, r = np.where(cross >= 0.6)
    assert not len(t), [
        (test[a][:60], train[b][:60], round(float(cross[a, b]), 2)) for a, b in zip(t[:5], r[:5], strict=True)
    ]


def test_every_row_passes_training_validation(codebooks) -> None:
    train = load_labelled_data([TRAIN], codebooks, min_positives=120, strict=True)
    test = load_labelled_data([TEST], codebooks, min_positives=0, strict=True)
    assert len(train) == len(read(TRAIN)) and len(test) == len(read(TEST))  # no duplicate dropped
    assert not set(train.texts) & set(test.texts)
