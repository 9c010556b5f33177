"""What runs in the executors' Python workers: the model, loaded once per worker, scoring Arrow batches.

`score_batches` is the function handed to ``mapInPandas``. Spark pickles it with its
`ScoringTask` (a model URI pinned to one registry version, the tracking URI, the unit), and every
Python worker loads the model once through `training.registry.load_model` — the digest is checked
there, as the service checks it — and keeps it for the worker's life (Spark reuses its Python
workers across tasks). Labels come from `ModelBundle.score` and `ModelBundle.decide`, the calls
`training.classify.classify` makes for the service, so a paragraph gets the same labels here as there.

One output row per paragraph, or per rejected input row (``reject_reason`` set): the job writes
both from one scoring pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.bundle import ModelBundle
from training.classify import split_paragraphs
from training.features import ArticleLayout
from training.markup import MarkdownTooDeep, has_text, paragraph_text
from training.pyfunc import frame_from_arrays

# Paragraphs scored per call to the model: large enough that per-call costs vanish, small enough
# that a worker's memory stays flat whatever the Arrow batch size or the articles' lengths.
CHUNK_PARAGRAPHS = 4096
_MODELS: dict[str, ModelBundle] = {}


@dataclass(frozen=True)
class ScoringTask:
    """Everything a worker needs, picklable: which model, where the registry is, how rows become paragraphs."""

    model_uri: str  # pinned: models:/NAME/VERSION (never an alias that may move mid-job) or a directory
    expected_sha256: str | None  # for a model directory: the digest the operator gave (the registry's otherwise)
    tracking_uri: str | None
    unit: str  # "article": split each row's text into paragraphs; "paragraph": each row is one
    grouped: bool  # rows arrive grouped by article (array columns), in page order
    label_sets: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    role_set: str | None
    role: str | None = None  # every paragraph's role as the caller gave it (--role): the role model is not run


def model_for(task: ScoringTask) -> ModelBundle:
    """The worker's model, loaded (and verified) on first use."""
    bundle = _MODELS.get(task.model_uri)
    if bundle is None:
        if task.tracking_uri:
            os.environ["MLFLOW_TRACKING_URI"] = task.tracking_uri
        from training.registry import load_model

        bundle, _ = load_model(task.model_uri, expected_sha256=task.expected_sha256)
        _MODELS[task.model_uri] = bundle
    return bundle


def output_fields(task: ScoringTask) -> list[tuple[str, str]]:
    """(name, Spark SQL type) of every output column, in order."""
    fields = [
        ("input_id", "string"),
        ("article_id", "string"),
        ("paragraph_index", "int"),
        ("text", "string"),
    ]
    if task.role_set is not None:
        fields += [("role", "string"), ("role_score", "double")]
    fields += [("content", "boolean"), ("read", "boolean")]
    fields += [(name, "array<string>") for name in task.label_sets]
    for name, labels in zip(task.label_sets, task.labels, strict=True):
        fields += [(f"{name}_score_{label}", "double") for label in labels]
    fields += [("source_file", "string"), ("source_line", "long"), ("reject_reason", "string"), ("_rows_in", "int")]
    return fields


def output_schema(task: ScoringTask) -> str:
    return ", ".join(f"`{name}` {kind}" for name, kind in output_fields(task))


@dataclass
class _Pending:
    """Paragraphs gathered for one call to the model, and rejected rows, as plain lists."""

    texts: list[str]
    article_keys: list[str | None]  # None: the paragraph stands alone (no neighbours, no position)
    meta: list[tuple[Any, Any, int, Any, Any, int]]  # input id, article id, index, file, line, counts-as-row
    rejected: list[tuple[Any, Any, Any, Any, Any, str]]  # input id, article id, text, file, line, reason

    @classmethod
    def empty(cls) -> _Pending:
        return cls([], [], [], [])


def _missing(value: Any) -> bool:
    """None, NaN or pd.NA: how a null arrives from Arrow depends on the column's pandas dtype."""
    return value is None or (not isinstance(value, str | list | np.ndarray) and bool(pd.isna(value)))


def _text_problem(text: Any) -> str | None:
    if _missing(text):
        return "missing text"
    if not str(text).strip():
        return "empty text"
    return None


NO_TEXT_IN_MARKUP = "no letter or digit once its markup is left out"


def _read_paragraph(text: Any, reason: str | None) -> tuple[str, str | None]:
    """A paragraph row's text, its own HTML or Markdown read as its visible text, and why it is rejected (the
    reason it already has, or markup with no text left)."""
    if reason:
        return "", reason
    try:
        paragraph = paragraph_text(str(text))
    except MarkdownTooDeep as err:  # rejected with the reason, as any row that cannot be read
        return "", str(err)
    return paragraph, None if has_text(paragraph) else NO_TEXT_IN_MARKUP


def _gather_flat(task: ScoringTask, batch: pd.DataFrame, pending: _Pending) -> None:
    """One input row per article (``unit=article``) or per lone paragraph."""
    rows = zip(
        batch["_id"].tolist(),
        batch["_article"].tolist(),
        batch["_text"].tolist(),
        batch["_source_file"].tolist(),
        batch["_source_line"].tolist(),
        batch["_problem"].tolist(),
        batch["_order"].tolist(),
        strict=True,
    )
    for input_id, article, text, file, line, problem, order in rows:
        reason = None if _missing(problem) else str(problem)
        reason = reason or _text_problem(text)
        if task.unit == "article":
            try:
                paragraphs = [] if reason else split_paragraphs(str(text))
            except MarkdownTooDeep as err:
                paragraphs, reason = [], str(err)
            if not reason and not paragraphs:  # HTML or Markdown with no text once its markup is left out
                reason = NO_TEXT_IN_MARKUP
            if reason:
                pending.rejected.append((input_id, input_id, text, file, line, reason))
                continue
            key = f"{order}"
            for index, paragraph in enumerate(paragraphs):
                pending.texts.append(paragraph)
                pending.article_keys.append(key if len(paragraphs) > 1 else None)
                pending.meta.append((input_id, input_id, index, file, line, int(index == 0)))
        else:
            paragraph, reason = _read_paragraph(text, reason)
            if reason:
                pending.rejected.append((input_id, article, text, file, line, reason))
                continue
            pending.texts.append(paragraph)
            pending.article_keys.append(None)
            pending.meta.append((input_id, article, 0, file, line, 1))


def _gather_grouped(batch: pd.DataFrame, pending: _Pending) -> None:
    """One input row per article: arrays of its paragraphs, already in page order."""
    for article, ids, texts, files, lines, problems in zip(
        batch["_article"].tolist(),
        batch["_ids"].tolist(),
        batch["_texts"].tolist(),
        batch["_files"].tolist(),
        batch["_lines"].tolist(),
        batch["_problems"].tolist(),
        strict=True,
    ):
        kept = []
        for input_id, text, file, line, problem in zip(ids, texts, files, lines, problems, strict=True):
            reason = (None if _missing(problem) else str(problem)) or _text_problem(text)
            paragraph, reason = _read_paragraph(text, reason)
            if reason:
                pending.rejected.append((input_id, article, text, file, line, reason))
            else:
                kept.append((input_id, paragraph, file, line))
        # A paragraph with no article id arrives alone under its own key: it has no neighbours.
        article = None if _missing(article) else str(article)
        key = article if article is not None and len(kept) > 1 else None
        for index, (input_id, text, file, line) in enumerate(kept):
            pending.texts.append(text)
            pending.article_keys.append(key)
            pending.meta.append((input_id, article, index if article is not None else 0, file, line, 1))


def _objects(values: list[Any]) -> np.ndarray:
    """A column as a plain object array: strings, lists or None, with no dtype inference by pandas
    (pandas 3 would pick an Arrow-backed string dtype that PySpark's Arrow writer cannot always take)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _nullable(values: list[Any]) -> np.ndarray:
    """Strings or None (a NaN or pd.NA from Arrow becomes None)."""
    return _objects([None if _missing(v) else v for v in values])


def _lines(values: list[Any]) -> np.ndarray:
    """Line numbers as Python ints or None (Arrow reads NaN-free nullable longs from an object array)."""
    return _objects([None if _missing(v) else int(v) for v in values])


def _scored_frame(task: ScoringTask, bundle: ModelBundle, pending: _Pending) -> pd.DataFrame:
    texts = pending.texts
    layout = ArticleLayout.from_article_ids(pending.article_keys)
    roles = [task.role] * len(texts) if task.role is not None else None
    scored = bundle.score(texts, list(task.label_sets), layout, roles)
    input_ids, articles, indexes, files, lines, rows_in = (list(column) for column in zip(*pending.meta, strict=True))
    columns: dict[str, np.ndarray] = {
        "input_id": _nullable(input_ids),
        "article_id": _nullable(articles),
        "paragraph_index": np.asarray(indexes, dtype=np.int32),
        "text": _objects(texts),
    }
    if task.role_set is not None:
        assert scored.roles is not None
        columns["role"] = _objects(scored.roles)
        # A role the caller gave has no score: null, as the service's role_score.
        best = scored.role_scores.max(axis=1).astype(np.float64) if scored.role_scores is not None else None
        columns["role_score"] = _objects([None] * len(texts)) if best is None else best
    columns["content"] = np.asarray(scored.content, dtype=bool)
    columns["read"] = np.asarray(scored.read, dtype=bool)
    for name in task.label_sets:
        columns[name] = _objects(bundle.decide(name, scored.scores[name], scored.labelled))
    for name, labels in zip(task.label_sets, task.labels, strict=True):
        scores = scored.scores[name]
        for j, label in enumerate(labels):
            columns[f"{name}_score_{label}"] = np.ascontiguousarray(scores[:, j], dtype=np.float64)
    columns["source_file"] = _nullable(files)
    columns["source_line"] = _lines(lines)
    columns["reject_reason"] = _objects([None] * len(texts))
    columns["_rows_in"] = np.asarray(rows_in, dtype=np.int32)
    return frame_from_arrays(list(columns), list(columns.values()), len(texts))


def _rejected_frame(task: ScoringTask, pending: _Pending) -> pd.DataFrame:
    input_ids, articles, texts, files, lines, reasons = (list(c) for c in zip(*pending.rejected, strict=True))
    n = len(input_ids)
    columns = {name: _objects([None] * n) for name, _ in output_fields(task)}
    columns["input_id"], columns["article_id"] = _nullable(input_ids), _nullable(articles)
    columns["text"] = _objects([None if _missing(t) else str(t) for t in texts])
    columns["source_file"], columns["source_line"] = _objects(files), _lines(lines)
    columns["reject_reason"], columns["_rows_in"] = _objects(reasons), np.ones(n, dtype=np.int32)
    return frame_from_arrays(list(columns), list(columns.values()), n)


def score_batches(task: ScoringTask, batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: input rows in, one row per scored paragraph or rejected row out."""
    from training.scoring import sklearn_checks_off

    bundle = model_for(task)
    with sklearn_checks_off():
        pending = _Pending.empty()
        for batch in batches:
            if task.grouped:
                _gather_grouped(batch, pending)
            else:
                _gather_flat(task, batch, pending)
            if len(pending.texts) >= CHUNK_PARAGRAPHS:
                yield from _flush(task, bundle, pending)
                pending = _Pending.empty()
        yield from _flush(task, bundle, pending)


def _flush(task: ScoringTask, bundle: ModelBundle, pending: _Pending) -> Iterator[pd.DataFrame]:
    if pending.texts:
        yield _scored_frame(task, bundle, pending)
    if pending.rejected:
        yield _rejected_frame(task, pending)
