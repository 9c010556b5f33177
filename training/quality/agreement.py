"""Inter-annotator agreement between two annotations (labelled CSVs) of the same paragraphs.

Rows are matched by ``id`` (when both files give every row one), else by exact text. Unmatched and
bad rows are reported, never dropped silently; an undefined statistic (e.g. for a label nobody
used) is ``None`` with a note, never NaN.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from training.codebook import Codebook, did_you_mean, load_codebooks
from training.config import RolesConfig
from training.errors import TopicframeError
from training.paragraph_input import read_utf8
from training.problems import Problem

SEPARATOR = ";"
# The role column and the roles that carry topics and frames: training's defaults (no config is read here).
ROLE_SET, CONTENT_ROLES = RolesConfig().label_set, tuple(RolesConfig().content)


@dataclass(frozen=True)
class Row:
    line: int
    id: str
    text: str
    cells: dict[str, str]


@dataclass
class Annotation:
    path: str
    header: list[str]
    rows: list[Row]


def read_annotation(path: str | Path, problems: list[Problem]) -> Annotation:
    """Read one labelled CSV; rows with the wrong number of fields are reported in ``problems``."""
    path = Path(path)
    content = read_utf8(path)  # "file not found" and "FILE:LINE: not valid UTF-8" as every reader says them
    reader = csv.reader(io.StringIO(content, newline=""))
    rows: list[Row] = []
    try:
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        if not header:
            raise TopicframeError(f"{path}: file is empty (expected a header row)")
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1  # first physical line of the record
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                problems.append(
                    Problem(str(path), line, f"expected {len(header)} fields, found {len(record)}; row not compared")
                )
                continue
            cells = dict(zip(header, record, strict=True))
            rows.append(Row(line, cells.get("id", "").strip(), cells.get("text", "").strip(), cells))
    except csv.Error as exc:
        raise TopicframeError(f"{path}:{reader.line_num}: not a readable CSV ({exc})") from None
    return Annotation(str(path), header, rows)


def _index(annotation: Annotation, by: str, problems: list[Problem]) -> dict[str, Row]:
    index: dict[str, Row] = {}
    for row in annotation.rows:
        key = row.id if by == "id" else row.text
        if not key:
            problems.append(Problem(annotation.path, row.line, f"empty {by}; row not compared"))
        elif key in index:
            problems.append(
                Problem(annotation.path, row.line, f"duplicate {by} {_show(key)} (first at line {index[key].line})")
            )
        else:
            index[key] = row
    return index


def _show(key: str) -> str:
    return repr(key if len(key) <= 60 else key[:57] + "...")


def match_rows(
    a: Annotation, b: Annotation, problems: list[Problem]
) -> tuple[str, list[tuple[Row, Row]], list[dict[str, Any]]]:
    """Pair the rows of A and B: ``(matched_by, pairs, unmatched)``; conflicts go to ``problems``."""
    both_id = "id" in a.header and "id" in b.header
    both_text = "text" in a.header and "text" in b.header
    if both_id and (not both_text or all(row.id for row in a.rows + b.rows)):
        by = "id"
    elif both_text:
        by = "text"
        if both_id:
            problems.append(Problem(f"{a.path}, {b.path}", None, "some rows have no id; matching by text", "warning"))
    else:
        raise TopicframeError(f"cannot match rows: {a.path} and {b.path} need a shared 'id' or 'text' column")
    index_a, index_b = _index(a, by, problems), _index(b, by, problems)
    pairs: list[tuple[Row, Row]] = []
    unmatched: list[dict[str, Any]] = []
    for key, row_a in index_a.items():
        row_b = index_b.get(key)
        if row_b is None:
            unmatched.append({"file": a.path, "line": row_a.line, "key": key})
        elif by == "id" and both_text and row_a.text != row_b.text:
            message = f"id {_show(key)} has different text in {a.path}:{row_a.line}; row not compared"
            problems.append(Problem(b.path, row_b.line, message))
        else:
            pairs.append((row_a, row_b))
    unmatched += [{"file": b.path, "line": r.line, "key": k} for k, r in index_b.items() if k not in index_a]
    return by, pairs, unmatched


def resolve_label_sets(
    labels_dir: str | Path, names: list[str] | None, a: Annotation, b: Annotation, problems: list[Problem]
) -> dict[str, Codebook]:
    """The codebooks to compare: ``names``, or every label-set column of both files that has a codebook."""
    if names is not None:
        codebooks = load_codebooks(labels_dir, names)
        for name in names:
            for annotation in (a, b):
                if name not in annotation.header:
                    header = ", ".join(annotation.header)
                    raise TopicframeError(f"{annotation.path}: missing column '{name}'; header has: {header}")
        return codebooks
    available = load_codebooks(labels_dir)
    found = [name for name in a.header if name in available and name in b.header]
    for annotation, other in ((a, b), (b, a)):
        for name in annotation.header:
            if name in available and name not in other.header:
                message = f"column '{name}' is not in {other.path}; not compared"
                problems.append(Problem(annotation.path, 1, message, "warning"))
    if not found:
        raise TopicframeError(f"{a.path}, {b.path}: no label-set column with a codebook in {labels_dir} in both files")
    return {name: available[name] for name in found}


def parse_labels(cell: str, codebook: Codebook) -> tuple[list[str], list[str]]:
    """``(labels, errors)`` of one cell; any error means the row is left out of this label set."""
    labels: list[str] = []
    errors: list[str] = []
    for part in cell.split(SEPARATOR):
        label = part.strip()
        if label and label not in codebook.label_names:
            hint = did_you_mean(label, codebook.label_names)
            errors.append(f"unknown {codebook.name} label '{label}'{hint}; row left out of '{codebook.name}'")
        elif label and label not in labels:
            labels.append(label)
    if not codebook.multi_label and not errors and len(labels) != 1:
        errors.append(f"'{codebook.name}' is single-label: needs exactly one label, got {len(labels)}; row left out")
    return labels, errors


def _undefined_why(a: np.ndarray, b: np.ndarray, category: str) -> str | None:
    """Why alpha/kappa cannot be computed (a single value throughout), or None when they can."""
    values = set(a.tolist()) | set(b.tolist())
    if not values:
        return "no rows"
    if len(values) > 1:
        return None
    if category == "set":
        return "no annotator used any label" if values == {0} else "every label was given to every row"
    if category == "binary":
        return "no annotator used this label" if values == {0} else "both annotators gave every row this label"
    return f"both annotators gave every row the same {category}"


def _alpha_kappa(a: np.ndarray, b: np.ndarray, labels: list[Any]) -> tuple[float | None, float | None]:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    if _undefined_why(a, b, "") is not None:
        return None, None
    alpha = krippendorff.alpha(reliability_data=np.vstack([a, b]).astype(float), level_of_measurement="nominal")
    return float(alpha), float(cohen_kappa_score(a, b, labels=labels))


def label_agreement(a: Sequence[int], b: Sequence[int]) -> dict[str, Any]:
    """Agreement on one label from the two annotators' binary decisions (1 = label given), B as reference."""
    from sklearn.metrics import f1_score

    x, y = np.asarray(a, dtype=int), np.asarray(b, dtype=int)
    n11, n10, n01 = int(np.sum((x == 1) & (y == 1))), int(np.sum((x == 1) & (y == 0))), int(np.sum((x == 0) & (y == 1)))
    alpha, kappa = _alpha_kappa(x, y, [0, 1])
    why = _undefined_why(x, y, "binary")
    if why == "no annotator used this label":
        why += ": α, κ, positive agreement and F1 are undefined"
    elif why:
        why = f"α and κ are undefined: {why}"
    used = n11 + n10 + n01 > 0
    return {
        "alpha": alpha,
        "kappa": kappa,
        "positive_agreement": 2 * n11 / (2 * n11 + n10 + n01) if used else None,
        "f1": float(f1_score(y, x)) if used else None,  # A against B; equals positive agreement for one label
        "n_a": n11 + n10,
        "n_b": n11 + n01,
        "n_both": n11,
        "notes": [why] if why else [],
    }


def set_agreement(a: list[list[str]], b: list[list[str]], codebook: Codebook) -> dict[str, Any]:
    """Agreement on one label set over paired rows (labels already checked against the codebook)."""
    from sklearn.metrics import f1_score

    names = codebook.label_names
    x = np.array([[int(name in row) for name in names] for row in a], dtype=int).reshape(len(a), len(names))
    y = np.array([[int(name in row) for name in names] for row in b], dtype=int).reshape(len(b), len(names))
    per_label = {name: label_agreement(x[:, j].tolist(), y[:, j].tolist()) for j, name in enumerate(names)}
    pooled, _ = _alpha_kappa(x.ravel(), y.ravel(), [0, 1])
    why = _undefined_why(x.ravel(), y.ravel(), "set")
    notes = [f"pooled α is undefined: {why}"] if why else []
    micro_f1 = float(f1_score(y, x, average="micro")) if x.any() or y.any() else None
    nominal = None
    if not codebook.multi_label:
        codes_a, codes_b = x.argmax(axis=1), y.argmax(axis=1)
        alpha, kappa = _alpha_kappa(codes_a, codes_b, list(range(len(names))))
        why = _undefined_why(codes_a, codes_b, "label")
        notes += [f"nominal α and κ are undefined: {why}"] if why else []
        agreement = 100.0 * float(np.mean(codes_a == codes_b)) if len(a) else None
        nominal = {"alpha": alpha, "kappa": kappa, "percent_agreement": agreement}
    return {
        "multi_label": codebook.multi_label,
        "n_rows": len(a),
        "alpha_pooled": pooled,
        "micro_f1": micro_f1,
        "nominal": nominal,
        "notes": notes,
        "labels": per_label,
    }


def compute_agreement(
    path_a: str | Path, path_b: str | Path, labels_dir: str | Path = "labels", label_sets: list[str] | None = None
) -> dict[str, Any]:
    """Read, match and compare two annotations; a JSON-serialisable dict (see `render_agreement`)."""
    problems: list[Problem] = []
    a, b = read_annotation(path_a, problems), read_annotation(path_b, problems)
    codebooks = resolve_label_sets(labels_dir, label_sets, a, b, problems)
    by, pairs, unmatched = match_rows(a, b, problems)
    if not pairs:
        raise TopicframeError(f"{a.path}, {b.path}: no paragraph is in both files (matched by {by})")
    results: dict[str, Any] = {}
    for name, codebook in codebooks.items():
        parsed: dict[tuple[int, int], list[str] | None] = {}  # (file, line) -> labels, None if invalid
        for side, annotation in enumerate((a, b)):
            for row in annotation.rows:  # every row is checked, matched or not
                labels, errors = parse_labels(row.cells[name], codebook)
                problems += [Problem(annotation.path, row.line, e) for e in errors]
                parsed[side, row.line] = None if errors else labels
        if name != ROLE_SET and ROLE_SET in a.header:
            problems += _labels_on_non_content_rows(name, (a, b), parsed)
        kept = [(parsed[0, ra.line], parsed[1, rb.line]) for ra, rb in pairs]
        kept_a = [x for x, y in kept if x is not None and y is not None]
        kept_b = [y for x, y in kept if x is not None and y is not None]
        results[name] = {**set_agreement(kept_a, kept_b, codebook), "n_left_out": len(pairs) - len(kept_a)}
    return {
        "a": a.path,
        "b": b.path,
        "matched_by": by,
        "n_rows": {"a": len(a.rows), "b": len(b.rows), "matched": len(pairs)},
        "label_sets": results,
        "unmatched": unmatched,
        "problems": [asdict(p) for p in problems],
    }


def _labels_on_non_content_rows(
    name: str, annotations: tuple[Annotation, Annotation], parsed: dict[tuple[int, int], list[str] | None]
) -> list[Problem]:
    """The codebook's rule, as training checks it: a byline, caption, promo or footer carries no topic or frame.
    Said as a warning (the labels are still compared as given): an annotator who labels a caption breaks the
    rule, and the agreement on it is the agreement of the labels written."""
    found = []
    for side, annotation in enumerate(annotations):
        for row in annotation.rows:
            role = row.cells.get(ROLE_SET, "").strip()
            if role and role not in CONTENT_ROLES and parsed[side, row.line]:
                message = f"role '{role}' gets no {name} label (only {', '.join(CONTENT_ROLES)} paragraphs do)"
                found.append(Problem(annotation.path, row.line, message, "warning"))
    return found


def _fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_agreement(result: dict[str, Any], console: Console, warnings: Console | None = None) -> None:
    """One rich table per label set, notes, the unmatched rows and problems as file:line, a summary line."""
    warnings = warnings or console
    for name, stats in result["label_sets"].items():
        kind = "multi-label" if stats["multi_label"] else "single-label"
        title = f"{name} ({kind}, {stats['n_rows']} rows): pooled α={_fmt(stats['alpha_pooled'])}"
        title += f"  micro-F1={_fmt(stats['micro_f1'])}"
        if stats["nominal"]:
            nominal = stats["nominal"]
            title += f"  nominal α={_fmt(nominal['alpha'])} κ={_fmt(nominal['kappa'])}"
            title += f"  agreement={_fmt(nominal['percent_agreement'], 1)}%"
        table = Table(title=title, title_justify="left")
        for column in ("label", "α", "κ", "pos. agr.", "F1", "n A+", "n B+"):
            table.add_column(column, justify="left" if column == "label" else "right")
        for label, row in stats["labels"].items():
            values = (row["alpha"], row["kappa"], row["positive_agreement"], row["f1"])
            table.add_row(label, *map(_fmt, values), str(row["n_a"]), str(row["n_b"]))
        console.print(table)
        notes: dict[str, list[str]] = {note: [] for note in stats["notes"]}
        for label, row in stats["labels"].items():
            for note in row["notes"]:
                notes.setdefault(note, []).append(label)
        for note, labels in notes.items():
            where = f"{', '.join(labels)}: " if labels else ""
            console.print(f"  note: {where}{note}", style="dim", markup=False, highlight=False)
    lines = [f"{u['file']}:{u['line']}: warning: only in this file ({_show(u['key'])})" for u in result["unmatched"]]
    lines += [str(Problem(**p)) for p in result["problems"]]
    for line in lines:
        warnings.print(line, style="yellow", markup=False, highlight=False)
    sets = ", ".join(
        f"{name} nominal α={_fmt(s['nominal']['alpha'])}" if s["nominal"] else f"{name} α={_fmt(s['alpha_pooled'])}"
        for name, s in result["label_sets"].items()
    )
    console.print(
        f"{result['n_rows']['matched']} paragraphs matched by {result['matched_by']}: {sets}; "
        f"{len(result['unmatched'])} unmatched, {_count(result['problems'], 'error')}, "
        f"{_count(result['problems'], 'warning')}",
        markup=False,
        highlight=False,
    )


def _count(problems: list[dict[str, Any]], severity: str) -> str:
    # Errors leave rows out (and fail the command); warnings do not: counted apart, as the exit code reads them.
    return f"{sum(p['severity'] == severity for p in problems)} {severity}(s)"


def write_json(result: dict[str, Any], path: str | Path) -> None:
    """Write ``result`` as JSON atomically (temp file in the same directory, then rename)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise TopicframeError(f"{path}: directory {path.parent} not found")
    text = json.dumps(result, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
