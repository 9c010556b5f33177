"""The test split and the cross-validation folds keep an article's paragraphs on one side."""

from __future__ import annotations

import numpy as np
import pytest

from training.dataset import LabelledData
from training.errors import TopicframeError
from training.evaluation import cv_folds, split_train_test

LABELS = {"topic": ["trade", "security"]}


def data_with(article_ids: list[str | None]) -> LabelledData:
    n = len(article_ids)
    return LabelledData(
        texts=[f"Paragraph {i}." for i in range(n)],
        labels={"topic": [("trade",) if i % 2 else ("security",) for i in range(n)]},
        ids=[str(i) for i in range(n)],
        article_ids=article_ids,
        splits=[None] * n,
        sources=[f"x.csv:{i + 2}" for i in range(n)],
    )


def sides(article_ids: list[str | None], rows: np.ndarray) -> set[str]:
    return {a for a in (article_ids[i] for i in rows) if a is not None}


# 40 articles of 5 paragraphs, and 3 rows without an article_id (corrections exported without one).
ARTICLES: list[str | None] = [f"a{i // 5}" for i in range(200)] + [None, None, None]


def test_one_row_without_an_article_id_does_not_ungroup_the_rest() -> None:
    """It did: every row was then split alone, and an article's paragraphs fell on both sides."""
    data = data_with(ARTICLES)
    train, test, method = split_train_test(data, LABELS, 0.2, seed=0)
    assert not sides(ARTICLES, train) & sides(ARTICLES, test)
    assert method == "grouped by article_id (3 row(s) without one, each alone)"
    for fold_train, held_out in cv_folds(data, LABELS, 5, seed=0):
        assert not sides(ARTICLES, fold_train) & sides(ARTICLES, held_out)


def test_more_folds_than_articles_is_an_error_not_ungrouped_folds() -> None:
    data = data_with(["a", "a", "b", "b", None, "c", "c"])  # 4 groups
    assert len(list(cv_folds(data, LABELS, 4, seed=0))) == 4
    with pytest.raises(TopicframeError, match=r"has 4 article\(s\) .* cv.folds \(5\) can be at most that"):
        list(cv_folds(data, LABELS, 5, seed=0))


def test_data_with_no_article_ids_is_stratified_by_rows() -> None:
    data = data_with([None] * 40)
    _, test, method = split_train_test(data, LABELS, 0.25, seed=0)
    assert method == "iterative multi-label stratification" and len(test) == 10
    assert len(list(cv_folds(data, LABELS, 5, seed=0))) == 5
