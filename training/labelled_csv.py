"""One labelled CSV file -> its rows, each problem recorded at its ``file:line``.

`training.dataset` merges the files' rows and validates them together (conflicts, duplicates, label floors).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from training.codebook import Codebook, did_you_mean
from training.page_order import in_article_order, parse_position
from training.problems import DataValidationError, Problem

SPLIT_VALUES = {"train", "test"}
# Python's csv module refuses a field over 131,072 characters (a long article pasted into one cell).
# Raised deliberately, with a bound: a field past it is one file:line error, not a traceback.
MAX_FIELD_CHARS = 8 * 2**20


@dataclass(frozen=True)
class ColumnMap:
    """Which CSV column holds what; label-set columns default to the set's name."""

    text: str = "text"
    id: str = "id"
    article_id: str = "article_id"
    split: str = "split"
    position: str = "position"
    label_sets: dict[str, str] = field(default_factory=dict)

    def label_column(self, label_set: str) -> str:
        return self.label_sets.get(label_set, label_set)


def column_names(header: list[str]) -> list[str]:
    """A CSV header's column names as written, without surrounding space or a byte-order mark."""
    return [h.strip().lstrip("\ufeff") for h in header]


# A UTF-16 file starts with a byte-order mark: Excel's "Unicode Text" and some "Save as CSV" exports.
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_header(path: Path, encoding: str = "utf-8") -> list[str]:
    """The column names of a CSV file's first row ([] when it is empty). Undecodable bytes are replaced:
    reading the whole file reports them at their line. A file in another encoding than ``encoding`` (UTF-16)
    or separated by another delimiter than a comma is a DataValidationError at ``file:1`` that says so: its
    header, read as it was, named no column the codebooks need, and the message showed NUL bytes."""
    if said := _utf16_not_declared(path, encoding):
        _header_problem(path, said)
    try:
        with path.open(newline="", encoding=encoding, errors="replace") as handle:
            header = column_names(next(csv.reader(handle), []))
    except UnicodeError as err:  # utf-16 without a byte-order mark refuses to start even with errors="replace"
        _header_problem(path, f"cannot be read as {encoding}: {err}")
    if said := _other_delimiter(header):
        _header_problem(path, said)
    return header


def _utf16_not_declared(path: Path, encoding: str) -> str | None:
    """What to say of a UTF-16 file read as another encoding, else None. Read as UTF-8 its only invalid bytes
    are the byte-order mark: its header became column names with NUL bytes in them."""
    with path.open("rb") as raw:
        head = raw.read(2)  # the byte-order mark only: the whole file is read once, later
    if head.startswith(_UTF16_BOMS) and not encoding.lower().replace("-", "").startswith("utf16"):
        return (
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark, as Excel's 'Unicode "
            "Text' does); save it as 'CSV UTF-8', or set data.encoding: utf-16"
        )
    return None


def _other_delimiter(header: list[str]) -> str | None:
    """What to say of a header that is one column holding another delimiter (a semicolon CSV from a European
    Excel, a tab-separated export), else None."""
    if len(header) != 1 or not (delimiter := next((d for d in ";\t|" if d in header[0]), None)):
        return None
    shown = {"\t": "tabs"}.get(delimiter, f"'{delimiter}'")
    return (
        f"the columns are separated by {shown}, not commas ({header[0][:80]!r}); save the file as comma-separated CSV"
    )


def _missing_columns(missing: list[str], header: list[str], sources: dict[str, str]) -> str:
    """Which columns a file lacks; a label set's column names its codebook (``sources``: column -> codebook
    file): with data.label_sets unset, every codebook in the labels directory is trained, and one added there
    needs its column in every file."""
    named = [f"{column} (codebook {sources[column]})" if column in sources else column for column in missing]
    fix = "add the column(s), or list the sets to train in data.label_sets" if set(missing) & set(sources) else ""
    return "; ".join(filter(None, [f"missing column(s) {', '.join(named)}", f"header has: {', '.join(header)}", fix]))


def _header_problem(path: Path, message: str) -> NoReturn:
    raise DataValidationError([Problem(str(path), 1, message)])


def _decode(path: Path, encoding: str, problems: list[Problem]) -> str:
    """Decode the file, reporting each line holding invalid bytes."""
    raw = path.read_bytes()
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        pass
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.start + 1].hex()
            problems.append(
                Problem(str(path), number, f"byte 0x{bad} at column {exc.start + 1} is not valid {encoding}")
            )
    return raw.decode(encoding, errors="replace")


def _parse_labels(
    cell: str,
    codebook: Codebook,
    separator: str,
    where: tuple[str, int],
    problems: list[Problem],
    optional: bool = False,
    other_sets: dict[str, list[str]] | None = None,
) -> tuple[str, ...]:
    """The cell's labels; a problem for each unknown one, and for a single-label set anything but one label (or,
    ``optional``, more than one: a byline carries no label of a content set, single-label or not).
    ``other_sets`` (the other codebooks' names): a label of another set is said to be one."""
    names = codebook.label_names
    found: list[str] = []
    for part in cell.split(separator):
        label = part.strip()
        if not label:
            continue
        if label not in names:
            hint = did_you_mean(label, names) or f" (valid: {', '.join(names)})"
            # "conflict" in the topic column was "did you mean 'climate'?": a spelling hint for a column mix-up.
            if owner := next((name for name, other in (other_sets or {}).items() if label in other), None):
                hint = f" ('{label}' is a {owner} label: is it in the right column?)"
            if len(pieces := re.split(r"\s*[,|/]\s*", label)) > 1 and set(pieces) <= set(names):
                hint = f" (several labels are separated by '{separator}': {separator.join(pieces)})"
            problems.append(Problem(*where, f"unknown {codebook.name} label '{label}'{hint}"))
        elif label not in found:
            found.append(label)
    unknown = any(part.strip() and part.strip() not in names for part in cell.split(separator))
    wrong_count = len(found) > 1 if optional else len(found) != 1
    if not codebook.multi_label and wrong_count and not unknown:  # an unknown label is reported already
        problems.append(
            Problem(*where, f"'{codebook.name}' is single-label: each row needs exactly one label, got {len(found)}")
        )
    return tuple(found)


class _records:
    """A csv reader whose malformed record (a field over `MAX_FIELD_CHARS`, say) ends the file as a
    `Problem` at its line instead of a ``_csv.Error`` traceback."""

    def __init__(self, reader: Any, path: Path, problems: list[Problem]):
        self.reader, self.path, self.problems = reader, path, problems

    @property
    def line_num(self) -> int:
        return int(self.reader.line_num)

    def __iter__(self) -> _records:
        return self

    def __next__(self) -> list[str]:
        line = self.reader.line_num + 1
        try:
            return list(next(self.reader))
        except csv.Error as exc:
            self.problems.append(Problem(str(self.path), line, f"unreadable CSV record: {exc}; rest of file skipped"))
            raise StopIteration from None


def read_rows(
    path: Path,
    codebooks: dict[str, Codebook],
    columns: ColumnMap,
    separator: str,
    encoding: str,
    problems: list[Problem],
    roles: tuple[str, list[str]] | None = None,
) -> list[dict]:
    """The rows of one file in each article's page order, as dicts (text, labels, id, article_id, split,
    position, source ``file:line``); every problem found is appended to ``problems`` at its line.

    ``roles`` (the role set and its content roles): a row of a non-content role may leave a single-label
    content set empty, as it leaves a multi-label one (a custom single-label set could not be trained beside
    roles: an empty cell on a byline was an error, and a label there was one too)."""
    if not path.is_file():
        what = "a directory, not a file (for its CSV files: --data 'DIR/*.csv')" if path.is_dir() else "file not found"
        problems.append(Problem(str(path), None, what))
        return []
    if utf16 := _utf16_not_declared(path, encoding):
        problems.append(Problem(str(path), 1, utf16))
        return []
    decoded_with = len(problems)
    text = _decode(path, encoding, problems)
    # A line with a byte that is not in the encoding is said once, by _decode: its cells read with U+FFFD in them
    # would add a second, bogus problem ("unknown role label 'footer \ufffd'").
    undecodable = {p.line for p in problems[decoded_with:]}
    if csv.field_size_limit() < MAX_FIELD_CHARS:
        csv.field_size_limit(MAX_FIELD_CHARS)
    reader = _records(csv.reader(io.StringIO(text, newline="")), path, problems)
    header = next(reader, None)
    if header is None:
        problems.append(Problem(str(path), 1, "file is empty (expected a header row)"))
        return []
    header = column_names(header)
    required = [columns.text] + [columns.label_column(name) for name in codebooks]
    missing = [c for c in required if c not in header]
    if missing:
        sources = {columns.label_column(name): book.source for name, book in codebooks.items() if book.source}
        problems.append(Problem(str(path), 1, _other_delimiter(header) or _missing_columns(missing, header, sources)))
        return []
    from training.markup import paragraph_text  # imports trafilatura: only when a file is read

    col = {name: header.index(name) for name in header}
    # Per label set, the other sets' names: a label of another set in its column is said to be one.
    other_sets = {
        name: {other: codebooks[other].label_names for other in codebooks if other != name} for name in codebooks
    }
    rows: list[dict] = []
    read_as_markup: list[int] = []  # lines whose text was HTML or Markdown
    start = reader.line_num + 1
    for record in reader:
        line = start  # first physical line of this record (quoted fields may span lines)
        start = reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue  # blank line
        if len(record) != len(header):
            problems.append(Problem(str(path), line, f"expected {len(header)} fields, found {len(record)}"))
            continue

        def cell(name: str, record: list[str] = record) -> str:
            return record[col[name]] if name in col else ""

        sent_text = cell(columns.text).strip()
        # A CMS export's paragraph HTML, or Markdown, is read as its visible text: the text the service
        # classifies when the same paragraph is sent to it (`training.markup.paragraph_text`).
        text_value = paragraph_text(sent_text).strip()
        if not sent_text:
            problems.append(Problem(str(path), line, "empty text"))
        elif not text_value:
            problems.append(
                Problem(str(path), line, "no text once read as HTML or Markdown (only tags, images or scripts)")
            )
        elif text_value != sent_text:
            read_as_markup.append(line)
        position = parse_position(cell(columns.position), (str(path), line), problems)
        split_value = cell(columns.split).strip().lower() or None
        if split_value is not None and split_value not in SPLIT_VALUES:
            problems.append(
                Problem(str(path), line, f"split must be 'train' or 'test', got '{cell(columns.split).strip()}'")
            )
        said = problems if not undecodable.intersection(range(line, reader.line_num + 1)) else []
        labels: dict[str, tuple[str, ...]] = {}
        role_set, content = roles if roles and roles[0] in codebooks else (None, [])
        for name in sorted(codebooks, key=lambda n: n != role_set):  # the role first: it says what is optional
            role = labels[role_set] if role_set is not None and name != role_set else ()
            not_content = bool(role) and role[0] not in content
            where = (str(path), line)
            labels[name] = _parse_labels(
                cell(columns.label_column(name)), codebooks[name], separator, where, said, not_content, other_sets[name]
            )
        labels = {name: labels[name] for name in codebooks}  # the codebooks' order, as before
        # The model's own rule, said here with every other problem of the file (it was said only once the files
        # had no other error: a second round of fixes for whoever labels in a spreadsheet).
        given_role = labels[role_set][0] if role_set is not None and labels[role_set] else None
        labelled = [name for name in codebooks if name != role_set and labels[name]]
        if given_role is not None and given_role not in content and labelled:
            only = ", ".join(sorted(content))
            message = f"role '{given_role}' gets no {' or '.join(labelled)} label (only {only} paragraphs do)"
            said.append(Problem(str(path), line, message))
        rows.append(
            {
                "text": text_value,
                "labels": labels,
                "id": cell(columns.id).strip() or f"{path.stem}:{line}",
                "article_id": cell(columns.article_id).strip() or None,
                "split": split_value,
                "position": position,
                "position_blank": not cell(columns.position).strip(),  # None from a blank cell, not a bad one
                "source": f"{path}:{line}",
            }
        )
    if read_as_markup:
        problems.append(
            Problem(
                str(path),
                read_as_markup[0],
                f"{len(read_as_markup)} row(s) read as HTML or Markdown (tags, link targets and emphasis marks "
                "dropped), the first on this line",
                "warning",
            )
        )
    return in_article_order(rows, problems)
