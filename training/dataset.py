"""Labelled CSVs -> a validated `LabelledData`, or every problem at once.

CSV format: a text column and one column per label set (``topic``, ``frame``),
labels separated by ``;``, empty meaning "no label of this set". Optional
``id``, ``article_id`` and ``split`` (train/test). Column names are configurable.

Nothing is fitted or logged until `load_labelled_data` returns: it either hands
back clean data or raises `DataValidationError` listing each problem as
``file:line: message``. Each file is read by `training.labelled_csv`; its rows are
validated together here.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.codebook import Codebook
from training.labelled_csv import MAX_FIELD_CHARS as MAX_FIELD_CHARS  # re-exported: part of this module's API
from training.labelled_csv import ColumnMap, read_header, read_rows
from training.problems import DataValidationError, Problem, first_row_of_each_text

# Rows exported from the feedback store (`topicframe feedback export`) have ids "feedback-<n>"; with
# ``prefer_feedback`` their labels win over a corpus row with the same text.
FEEDBACK_ID_PREFIX = "feedback-"


@dataclass
class LabelledData:
    """Validated rows. ``labels[set][i]`` is the tuple of labels of row ``i``."""

    texts: list[str]
    labels: dict[str, list[tuple[str, ...]]]
    ids: list[str]
    article_ids: list[str | None]
    splits: list[str | None]
    sources: list[str]
    warnings: list[Problem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def label_matrix(self, label_set: str, label_names: list[str]) -> np.ndarray:
        """Binary indicator matrix (rows x labels) in codebook order."""
        index = {name: j for j, name in enumerate(label_names)}
        y = np.zeros((len(self), len(label_names)), dtype=np.int8)
        for i, row_labels in enumerate(self.labels[label_set]):
            for label in row_labels:
                y[i, index[label]] = 1
        return y

    def subset(self, rows: np.ndarray | list[int]) -> LabelledData:
        rows = list(map(int, rows))
        return LabelledData(
            texts=[self.texts[i] for i in rows],
            labels={k: [v[i] for i in rows] for k, v in self.labels.items()},
            ids=[self.ids[i] for i in rows],
            article_ids=[self.article_ids[i] for i in rows],
            splits=[self.splits[i] for i in rows],
            sources=[self.sources[i] for i in rows],
        )

    def digest(self) -> str:
        """sha256 over texts and labels in order: the identity of a training set."""
        h = hashlib.sha256()
        for i, text in enumerate(self.texts):
            row = [text] + [";".join(self.labels[k][i]) for k in sorted(self.labels)]
            h.update(json.dumps(row, ensure_ascii=False).encode())
            h.update(b"\n")
        return h.hexdigest()

    def to_records(self) -> list[dict[str, str]]:
        """Rows in the CSV format (labels joined with ';'), e.g. for artifacts."""
        return [
            {
                "id": self.ids[i],
                "article_id": self.article_ids[i] or "",
                "text": self.texts[i],
                **{k: ";".join(v[i]) for k, v in self.labels.items()},
            }
            for i in range(len(self))
        ]


def expand_paths(patterns: list[str]) -> list[Path]:
    """Files and globs -> existing paths, in the order given."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        if not matches:
            raise DataValidationError([Problem(pattern, None, "no file matches this pattern")])
        paths.extend(Path(m) for m in matches)
    return paths


def label_sets_in_headers(patterns: list[str], label_sets: list[str], columns: ColumnMap | None = None) -> list[str]:
    """The label sets whose column every file's header has, e.g. to evaluate a model on data labelled for some
    of its sets. A missing or empty file counts as having them all: `load_labelled_data` reports it."""
    columns = columns or ColumnMap()
    present = list(label_sets)
    for path in expand_paths(patterns):
        header = read_header(path) if path.is_file() else []
        if header:
            present = [name for name in present if columns.label_column(name) in header]
    return present


def _apply_corrections(rows: list[dict]) -> tuple[list[dict], int]:
    """Give every row whose text has a correction the correction's labels: (the rows, how many non-correction
    rows changed). Corrections of one text disagreeing with each other: the later row (the newer one in an
    export) wins. The corpus row keeps its place in its article (its neighbours' context is unchanged) and the
    correction of it is dropped, whatever the order of the files: a correction read first would otherwise be
    the copy kept, at the top of the article or as a second, lone copy of the text."""
    is_correction = [row["id"].startswith(FEEDBACK_ID_PREFIX) for row in rows]
    marked = list(zip(rows, is_correction, strict=True))
    corrected = {row["text"]: row["labels"] for row, correction in marked if correction}
    in_corpus = {row["text"] for row, correction in marked if not correction}
    overridden = 0
    kept = []
    for row, correction in marked:
        if correction and row["text"] in in_corpus:
            continue
        labels = corrected.get(row["text"])
        if labels is not None and row["labels"] != labels:
            overridden += not correction
            row["labels"] = labels
        kept.append(row)
    return kept, overridden


def load_labelled_data(
    paths: list[str] | list[Path],
    codebooks: dict[str, Codebook],
    columns: ColumnMap | None = None,
    separator: str = ";",
    encoding: str = "utf-8",
    min_positives: int = 5,
    strict: bool = False,
    prefer_feedback: bool = False,
    roles: tuple[str, list[str]] | None = None,
) -> LabelledData:
    """Read, validate and merge labelled CSV files.

    Raises `DataValidationError` with every problem found (errors; warnings too
    under ``strict``). Exact duplicate rows are dropped with a warning. With
    ``prefer_feedback``, a row with the same text as a correction (an id starting
    with `FEEDBACK_ID_PREFIX`) takes the correction's labels instead of being a
    conflict, and a warning says how many rows were overridden.
    """
    columns = columns or ColumnMap()
    problems: list[Problem] = []
    rows: list[dict] = []
    files = expand_paths([str(p) for p in paths])
    unread = 0  # files not read at all (missing, empty, wrong columns or encoding): no label floors then
    for path in files:
        found = len(problems)
        read = read_rows(path, codebooks, columns, separator, encoding, problems, roles)
        unread += not read and any(p.severity == "error" for p in problems[found:])
        if not read and len(problems) == found and len(files) > 1:
            # Beside other files, a warning: an export with no corrections yet is a header only, and the
            # README's loop trains on it. Alone, the error below says it.
            problems.append(Problem(str(path), None, "no labelled rows (a header only, or blank lines)", "warning"))
        rows.extend(read)
    if prefer_feedback:
        rows, overridden = _apply_corrections(rows)
        problems.append(
            Problem(
                ", ".join(str(p) for p in paths),
                None,
                f"--prefer-feedback: {overridden} row(s) overridden by a correction's labels "
                f"(rows with an id starting with '{FEEDBACK_ID_PREFIX}')",
                "warning",
            )
        )

    # Same text twice with different labels -> error. Identical labels: a copy inside one article (or of a
    # row with no article) is dropped; the same layout line in two articles ("3-minute read") is kept, since
    # each article's page order, which the role model and the context features read, includes it.
    kept: list[dict] = []
    first_seen: dict[str, dict] = {}
    seen_in: set[tuple[str, str]] = set()
    dropped = 0
    for row in rows:
        if not row["text"]:
            continue
        earlier = first_seen.get(row["text"])
        if earlier is None:
            first_seen[row["text"]] = row
        elif earlier["labels"] != row["labels"]:
            path, line = row["source"].rsplit(":", 1)
            problems.append(Problem(path, int(line), f"same text as {earlier['source']} but with different labels"))
            continue
        in_article = (row["article_id"] or row["source"], row["text"])
        if earlier is not None and (row["article_id"] is None or in_article in seen_in):
            dropped += 1
            continue
        seen_in.add(in_article)
        kept.append(row)
    if dropped:
        problems.append(
            Problem(", ".join(str(p) for p in paths), None, f"dropped {dropped} exact duplicate row(s)", "warning")
        )
    # Training does not read ids, but `agreement`, `diff` and corrections match paragraphs by them.
    first_with_id: dict[str, str] = {}
    reused: list[tuple[dict, str]] = []
    for row in kept:
        path, line = row["source"].rsplit(":", 1)
        if row["id"] == f"{Path(path).stem}:{line}":
            continue  # no id given: this one was made from the file and line
        first = first_with_id.setdefault(row["id"], row["source"])
        if first != row["source"]:
            reused.append((row, first))
    if reused:
        row, first = reused[0]
        message = f"{len(reused)} row(s) reuse an id, e.g. '{row['id']}' at {row['source']} (first at {first})"
        problems.append(Problem(", ".join(str(p) for p in paths), None, message, "warning"))

    if not kept and not any(p.severity == "error" for p in problems):
        where = ", ".join(str(p) for p in paths)
        problems.append(Problem(where, None, "no labelled rows (a header only, or blank lines)"))
    # Label floors are judged on the training part only, and only once every file was read: counted without
    # a file that could not be read, they said "0 positive rows" for labels that file holds.
    train_rows = [r for r in kept if r["split"] != "test"]
    for name, codebook in codebooks.items() if kept and not unread else ():
        counts = Counter(label for r in train_rows for label in r["labels"][name])
        for label in codebook.label_names:
            if counts[label] < min_positives:
                problems.append(
                    Problem(
                        ", ".join(str(p) for p in paths),
                        None,
                        f"{name} label '{label}' has {counts[label]} positive row(s), "
                        f"fewer than the floor of {min_positives}",
                        "error" if strict else "warning",
                    )
                )

    if any(p.severity == "error" for p in problems):
        texts_read = first_row_of_each_text((r["text"] for r in rows), (r["source"] for r in rows))
        raise DataValidationError(problems, texts_read)
    return LabelledData(
        texts=[r["text"] for r in kept],
        labels={name: [r["labels"][name] for r in kept] for name in codebooks},
        ids=[r["id"] for r in kept],
        article_ids=[r["article_id"] for r in kept],
        splits=[r["split"] for r in kept],
        sources=[r["source"] for r in kept],
        warnings=[p for p in problems if p.severity == "warning"],
    )
