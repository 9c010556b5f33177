"""Public datasets -> the project's CSV format (`id,text,<label_set>`) plus a codebook YAML.

Converted files go to an output directory given by the caller, never into the
repository: the datasets are third-party data. Label names are sanitised to
snake_case (the codebook requires it); the mapping back to the original names
is kept for the report.

The product's validator refuses the same text with different labels and a test
text that also appears in training. Public corpora contain both, so each
converter resolves them explicitly and says how in ``notes``.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml
from sklearn.model_selection import StratifiedKFold, train_test_split


@dataclass
class Row:
    """One document: its id, its text and its labels (original names)."""

    id: str
    text: str
    labels: list[str]


@dataclass
class Converted:
    dataset: str
    label_set: str
    multi_label: bool
    labels_dir: Path
    splits: list[tuple[Path, Path]]  # (train CSV, test CSV): one pair, or one per CV fold
    label_map: dict[str, str]  # project label name -> original name
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    # Every label set scored (``label_set`` first). Paragraphs of articles are scored from the run's own test
    # metrics, which read them as articles (context, roles); the bench's flat list of texts cannot.
    label_sets: list[str] = field(default_factory=list)
    scored_as_articles: bool = False

    def __post_init__(self) -> None:
        self.label_sets = self.label_sets or [self.label_set]

    def save(self, path: Path) -> None:
        data = asdict(self)
        data["labels_dir"] = str(self.labels_dir)
        data["splits"] = [[str(a), str(b)] for a, b in self.splits]
        path.write_text(json.dumps(data, indent=2))


def snake_case(name: str) -> str:
    """'State & Local Govt Admin' -> 'state_local_govt_admin'; 'money-fx' -> 'money_fx'."""
    snake = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not snake:
        snake = "label"
    return snake if snake[0].isalpha() else f"l_{snake}"


def label_mapping(originals: list[str]) -> dict[str, str]:
    """Original name -> unique snake_case name (a suffix keeps colliding names apart)."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for original in sorted(set(originals)):
        base = candidate = snake_case(original)
        n = 2
        while candidate in used:
            candidate, n = f"{base}_{n}", n + 1
        mapping[original] = candidate
        used.add(candidate)
    return mapping


def write_codebook(
    labels_dir: Path,
    label_set: str,
    multi_label: bool,
    description: str,
    mapping: dict[str, str],
    describe: Callable[[str], str],
) -> Path:
    """`<labels_dir>/<label_set>.yaml` with one label per original name, described from that name."""
    labels_dir.mkdir(parents=True, exist_ok=True)
    codebook = {
        "name": label_set,
        "multi_label": multi_label,
        "description": description,
        "labels": [{"name": mapping[o], "description": describe(o)} for o in sorted(mapping, key=lambda o: mapping[o])],
    }
    path = labels_dir / f"{label_set}.yaml"
    path.write_text(yaml.safe_dump(codebook, sort_keys=False, allow_unicode=True, width=120))
    return path


def write_rows(path: Path, rows: list[Row], label_set: str, mapping: dict[str, str]) -> Path:
    """Rows -> project CSV; labels translated to codebook names and joined with ';'."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", label_set])
        for row in rows:
            writer.writerow([row.id, row.text, ";".join(mapping[label] for label in row.labels)])
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def dedup_single(rows: list[Row]) -> tuple[list[Row], int, int]:
    """Keep the first of identical texts; drop every copy of a text labelled differently.

    Returns (rows, duplicates dropped, conflicting rows dropped).
    """
    by_text: dict[str, set[str]] = {}
    for row in rows:
        by_text.setdefault(row.text, set()).update(row.labels)
    kept: list[Row] = []
    seen: set[str] = set()
    duplicates = conflicts = 0
    for row in rows:
        if len(by_text[row.text]) > 1:
            conflicts += 1
        elif row.text in seen:
            duplicates += 1
        else:
            seen.add(row.text)
            kept.append(row)
    return kept, duplicates, conflicts


def dedup_multi(rows: list[Row]) -> tuple[list[Row], int]:
    """Merge identical texts into one row carrying the union of their labels."""
    merged: dict[str, Row] = {}
    for row in rows:
        if row.text in merged:
            labels = merged[row.text].labels
            labels.extend(label for label in row.labels if label not in labels)
        else:
            merged[row.text] = Row(row.id, row.text, list(row.labels))
    return list(merged.values()), len(rows) - len(merged)


def _first_label(rows: list[Row]) -> list[str]:
    return [row.labels[0] for row in rows]


def split_80_20(rows: list[Row], seed: int = 0) -> tuple[list[Row], list[Row]]:
    """Fixed stratified 80/20 split (single-label rows)."""
    train, test = train_test_split(rows, test_size=0.2, random_state=seed, stratify=_first_label(rows))
    return list(train), list(test)


def _single_label(rows: list[Row], notes: list[str]) -> list[Row]:
    """Strip texts, drop empty ones, resolve duplicates; record what happened in ``notes``."""
    for row in rows:
        row.text = row.text.strip()
    before = len(rows)
    rows = [r for r in rows if r.text]
    if len(rows) < before:
        notes.append(f"{before - len(rows)} rows without text dropped")
    rows, duplicates, conflicts = dedup_single(rows)
    if duplicates:
        notes.append(f"{duplicates} exact duplicate texts dropped before splitting (no text on both sides)")
    if conflicts:
        notes.append(f"{conflicts} rows whose identical text carries different labels dropped")
    return rows


def _fixed_split(
    dataset: str, rows: list[Row], out: Path, label_set: str, mapping: dict[str, str], notes: list[str]
) -> Converted:
    train, test = split_80_20(rows)
    labels_dir = out / "labels"
    pair = (
        write_rows(out / "data" / "train.csv", train, label_set, mapping),
        write_rows(out / "data" / "test.csv", test, label_set, mapping),
    )
    inverse = {v: k for k, v in mapping.items()}
    counts = {"train": len(train), "test": len(test)}
    return Converted(dataset, label_set, False, labels_dir, [pair], inverse, notes, counts)


def convert_reuters(data: Path, out: Path) -> Converted:
    """Reuters-21578 ModApte, 90 categories, multi-label; the test split is kept whole."""
    notes: list[str] = []

    def load(name: str) -> list[Row]:
        return [
            Row(r["id"], r["text"].strip(), [x for x in r["labels"].split(";") if x]) for r in read_csv(data / name)
        ]

    train, test = load("train.csv"), load("test.csv")
    test_texts = {r.text for r in test}
    kept = [r for r in train if r.text not in test_texts]
    if len(kept) < len(train):
        notes.append(f"{len(train) - len(kept)} training docs whose text is also a test doc dropped from training")
    train, merged = dedup_multi(kept)
    if merged:
        notes.append(f"{merged} duplicate training texts merged (union of their labels)")
    notes.append("test split kept whole (3,019 docs); the CLI drops its exact duplicates, the bench scores all rows")
    mapping = label_mapping([x for r in train + test for x in r.labels])
    labels_dir = out / "labels"
    write_codebook(
        labels_dir,
        "topic",
        True,
        "Reuters-21578 (Distribution 1.0) TOPICS categories, ModApte split, the 90 with train and test docs.",
        mapping,
        lambda o: f"Reuters-21578 TOPICS category '{o}'.",
    )
    pair = (
        write_rows(out / "data" / "train.csv", train, "topic", mapping),
        write_rows(out / "data" / "test.csv", test, "topic", mapping),
    )
    inverse = {v: k for k, v in mapping.items()}
    return Converted(
        "reuters", "topic", True, labels_dir, [pair], inverse, notes, {"train": len(train), "test": len(test)}
    )


def convert_nyt(data: Path, out: Path) -> Converted:
    """NYT front page 1996-2006, CAP major topic of title + summary; stratified 80/20, seed 0."""
    notes: list[str] = []
    source = read_csv(data / "nyt_cap.csv")
    rows = [
        Row(r["id"], "\n".join(p for p in (r["title"].strip(), r["summary"].strip()) if p), [r["majortopic_name"]])
        for r in source
    ]
    rows = _single_label(rows, notes)
    codes = {r["majortopic_name"]: r["majortopic"] for r in source}
    mapping = label_mapping(_first_label(rows))
    write_codebook(
        out / "labels",
        "topic",
        False,
        "Comparative Agendas Project major topic of a New York Times front-page story (Boydstun).",
        mapping,
        lambda o: f"CAP major topic {codes[o]}: {o}.",
    )
    return _fixed_split("nyt", rows, out, "topic", mapping, notes)


def convert_bbc(data: Path, out: Path) -> Converted:
    """BBC News 2004-05, 5 sections; stratified 80/20, seed 0."""
    notes: list[str] = []
    rows = [Row(r["id"], r["text"], [r["category"]]) for r in read_csv(data / "bbc_news.csv")]
    rows = _single_label(rows, notes)
    mapping = label_mapping(_first_label(rows))
    write_codebook(
        out / "labels",
        "topic",
        False,
        "Section of a BBC News article, 2004-2005 (Greene & Cunningham 2006).",
        mapping,
        lambda o: f"BBC News section '{o}'.",
    )
    return _fixed_split("bbc", rows, out, "topic", mapping, notes)


def convert_gvfc(data: Path, out: Path, folds: int = 5, seed: int = 0) -> Converted:
    """GVFC headlines, primary frame (frame1 1-9, relevant only); stratified k-fold files."""
    notes: list[str] = []
    source = read_csv(data / "gvfc_headlines.csv")
    framed = [r for r in source if r["relevant"] == "1" and r["frame1"] not in ("", "99")]
    notes.append(f"{len(source) - len(framed)} headlines without a primary frame (99) or not relevant dropped")
    rows = [Row(r["id"], r["text"], [r["frame1_name"]]) for r in framed]
    rows = _single_label(rows, notes)
    codes = {r["frame1_name"]: r["frame1"] for r in framed}
    mapping = label_mapping(_first_label(rows))
    labels_dir = out / "labels"
    write_codebook(
        labels_dir,
        "frame",
        False,
        "Primary frame of a US gun-violence news headline (Gun Violence Frame Corpus, Liu et al. 2019).",
        mapping,
        lambda o: f"GVFC frame {codes[o]}: {o}.",
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    pairs = []
    for k, (tr, te) in enumerate(splitter.split(rows, _first_label(rows)), start=1):
        pairs.append(
            (
                write_rows(out / "data" / f"fold{k}_train.csv", [rows[i] for i in tr], "frame", mapping),
                write_rows(out / "data" / f"fold{k}_test.csv", [rows[i] for i in te], "frame", mapping),
            )
        )
    inverse = {v: k for k, v in mapping.items()}
    return Converted("gvfc", "frame", False, labels_dir, pairs, inverse, notes, {"rows": len(rows), "folds": folds})


def convert_default(data: Path, out: Path) -> Converted:
    """The project's own corpus, unchanged: ``data`` is the repository's ``labels/`` folder (codebooks,
    paragraphs.csv for training, paragraphs_test.csv held out). Only read, never copied or changed."""
    train, test = data / "paragraphs.csv", data / "paragraphs_test.csv"
    codebook = yaml.safe_load((data / "topic.yaml").read_text())
    topics = [label["name"] for label in codebook["labels"]]
    notes = ["the repository's own labels/ corpus and split, as `topicframe train` uses them (role, topic, frame)"]
    counts = {"train": len(read_csv(train)), "test": len(read_csv(test))}
    return Converted(
        "default",
        "topic",
        True,
        data,
        [(train, test)],
        {name: name for name in topics},
        notes,
        counts,
        label_sets=["topic", "frame"],
        scored_as_articles=True,
    )


CONVERTERS: dict[str, Callable[[Path, Path], Converted]] = {
    "default": convert_default,
    "reuters": convert_reuters,
    "nyt": convert_nyt,
    "gvfc": convert_gvfc,
    "bbc": convert_bbc,
}
