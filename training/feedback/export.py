"""Corrections -> a labelled CSV in the training format, written atomically.

Columns: ``id, article_id, text``, one column per content label set (labels joined
with ``;``, as in the corpus; training/dataset.py reads them back), ``role`` and
``sent_article_id``. ``article_id`` is left empty: each correction is its own group. Ids
are ``feedback-<n>`` (`training.dataset.FEEDBACK_ID_PREFIX`), which is how
``topicframe train --prefer-feedback`` recognises them. So that the file passes
training's validation as it is:

- of several corrections of the same text, only the newest is written (the others
  would be "the same text with different labels");
- a correction sent without a role is written as ``body``: it was sent for labels
  that only content paragraphs carry (send ``role`` to say headline or caption).
"""

from __future__ import annotations

import contextlib
import csv
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from training.cli_options import refuse_existing
from training.dataset import FEEDBACK_ID_PREFIX
from training.errors import TopicframeError
from training.feedback.store import FeedbackStore, StoredCorrection

ROLE_COLUMN = "role"
SENT_ARTICLE_COLUMN = "sent_article_id"  # the article id sent with the correction; training reads no such column
DEFAULT_ROLE = "body"
SEPARATOR = ";"  # the corpus's (DataConfig.separator)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: int
    superseded: int
    label_sets: list[str]
    excluded: int = 0  # corrections of a paragraph in an --exclude file (the test set's, say)


def texts_in(paths: list[Path]) -> set[str]:
    """The paragraphs of labelled CSVs (their ``text`` column), read as training reads them: what ``--exclude``
    leaves out (a correction of a test paragraph is a leak that stops every retraining)."""
    from training.labelled_csv import MAX_FIELD_CHARS
    from training.markup import paragraph_text

    csv.field_size_limit(max(csv.field_size_limit(), MAX_FIELD_CHARS))  # as training reads its CSVs
    texts: set[str] = set()
    for path in paths:
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if "text" not in (reader.fieldnames or []):
                    raise TopicframeError(f"--exclude {path}: no 'text' column")
                texts.update(paragraph_text(row["text"] or "") for row in reader)
        except (OSError, UnicodeDecodeError, csv.Error) as err:
            raise TopicframeError(f"--exclude {path}: cannot read it ({err})") from None
    return texts


def label_set_columns(corrections: list[StoredCorrection], labels_dir: Path | None) -> list[str]:
    """The content label sets: every codebook in ``labels_dir`` (training needs a column for each), then
    any other set found in the corrections; the role set has its own column."""
    names: list[str] = []
    if labels_dir is not None and labels_dir.is_dir():
        names += sorted(path.stem for path in labels_dir.glob("*.yaml"))
    for item in corrections:
        names += [name for name in item.correction.labels if name not in names]
    return [name for name in dict.fromkeys(names) if name != ROLE_COLUMN]


def newest_per_text(corrections: list[StoredCorrection]) -> list[StoredCorrection]:
    """The correction of each text the user sent last (one sent again after another counts as the latest), in
    the order they were last sent. Texts are compared as training reads them, their markup read as text: two
    corrections of `<p>Talks <b>resumed</b></p>` and `Talks resumed` are of one paragraph."""
    from training.markup import paragraph_text

    newest: dict[str, StoredCorrection] = {}
    for item in sorted(corrections, key=lambda c: (c.sent_at, c.id)):  # a later one replaces an earlier one
        key = paragraph_text(item.correction.text)
        newest.pop(key, None)
        newest[key] = item
    return list(newest.values())


def write_atomically(path: Path, rows: list[dict[str, str]], header: list[str], overwrite: bool) -> None:
    """Write the CSV to a temporary file beside ``path``, then move it into place in one step.

    Without ``overwrite`` the move is a hard link, which fails if ``path`` appeared meanwhile.
    """
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise TopicframeError(f"{path}: directory {directory} does not exist")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise TopicframeError(f"{path}: already exists (pass --overwrite to replace it)") from None
            os.unlink(temporary)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def export_corrections(
    store: FeedbackStore,
    out: Path,
    labels_dir: Path | None = Path("labels"),
    since: datetime | None = None,
    overwrite: bool = False,
    exclude: set[str] | None = None,
) -> ExportResult:
    """Write the corrections stored since ``since`` (all by default) to ``out`` as a training CSV, leaving out
    those of a paragraph in ``exclude`` (texts as `texts_in` reads them)."""
    from training.markup import paragraph_text

    refuse_existing(out, overwrite)
    if labels_dir is not None and not labels_dir.is_dir():  # its CSV would lack columns training then asks for
        raise TopicframeError(
            f"{labels_dir}: labels directory not found (--labels DIR: its codebooks give the CSV one column per "
            "label set, as training needs)"
        )
    stored = list(store.iter_all(since))
    newest = newest_per_text(stored)
    kept = [item for item in newest if paragraph_text(item.correction.text) not in (exclude or set())]
    sets = label_set_columns(kept, labels_dir)
    rows = [
        {
            "id": f"{FEEDBACK_ID_PREFIX}{item.id}",
            # Each correction is its own group in training: corrections of some paragraphs of one article, in the
            # order they were sent, are not that article (wrong neighbours and positions), and an id the corpus
            # uses would have joined them to its article. The id sent stays beside it, for the reader.
            "article_id": "",
            "text": item.correction.text,
            **{name: SEPARATOR.join(item.correction.labels.get(name, [])) for name in sets},
            ROLE_COLUMN: item.correction.role or DEFAULT_ROLE,
            SENT_ARTICLE_COLUMN: item.correction.article_id or "",
        }
        for item in kept
    ]
    write_atomically(out, rows, ["id", "article_id", "text", *sets, ROLE_COLUMN, SENT_ARTICLE_COLUMN], overwrite)
    return ExportResult(out, len(rows), len(stored) - len(newest), sets, len(newest) - len(kept))
