"""What to label next: the paragraphs of an unlabelled pool that would teach the model most.

Strategies (``--strategy``):

- ``uncertainty``: the paragraphs the model is least sure about over all its labels: each label of the
  multi-label content sets adds ``1 - |score - threshold| / max(threshold, 1 - threshold)`` (1 at the
  label's own tuned threshold, 0 at a score of 0 or 1), so a paragraph in doubt on several labels beats a
  single coin toss. The reason names this total and the label nearest its threshold, with the margin.
  (Chosen over the smallest single margin by the simulation: docs/quality.md, "Active learning".)
- ``diversity``: MiniBatchKMeans over the paragraphs' TF-IDF rows; clusters are visited least-covered
  first (labelled + already chosen members per cluster member, the labelled corpus counting when given)
  and each gives its member nearest the centre. The reason names the cluster and its coverage.
- ``mixed``: the same clusters, but each gives its most uncertain member (the total above, within
  clusters, so a batch does not spend itself on near-copies of one ambiguous story).
- ``random``: a seeded sample, the baseline.

Only paragraphs the model reads as content (role body or headline) are proposed when there are any:
the others get no topic or frame by the model's own rule, so they teach topic and frame nothing.

Why no query-strategy library: modAL (last release 2023) is unmaintained and its multi-label strategies
(``max_loss``, ``mean_max_loss``) assume an SVM's ``decision_function`` and a 0 cut-off; small-text's
strategies run on its own dataset and classifier wrappers, which cannot carry this model's article
context, role gate or per-label tuned thresholds. Neither measures a margin to a tuned threshold, so
the strategies are kept short here on scikit-learn (MiniBatchKMeans).
"""

from __future__ import annotations

import csv
import glob
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.classify import split_paragraphs
from training.errors import TopicframeError
from training.markup import MarkdownTooDeep, paragraph_text
from training.paragraph_input import FORMAT_OF_SUFFIX, csv_header, csv_problem, jsonl_records, read_utf8

STRATEGIES = ("uncertainty", "diversity", "mixed", "random")


@dataclass
class Pool:
    """Unlabelled paragraphs in page order; ``article_ids`` group an article's paragraphs."""

    texts: list[str] = field(default_factory=list)
    article_ids: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add_article(self, article_id: str, paragraphs: list[str], source: str, ids: list[str] | None = None) -> None:
        for k, paragraph in enumerate(paragraphs):
            self.texts.append(paragraph)
            self.article_ids.append(article_id)
            self.ids.append(ids[k] if ids else f"{article_id}-p{k + 1}")
            self.sources.append(source)


@dataclass
class Choice:
    index: int
    reason: str
    label_set: str = ""
    label: str = ""
    margin: float | None = None
    cluster: int | None = None
    uncertainty: float | None = None


def _read_text(path: Path) -> str:
    # Universal newlines, as the pool has always been read: a CRLF file's multi-line CSV fields read as in an LF one.
    return read_utf8(path).replace("\r\n", "\n").replace("\r", "\n")


# What `topicframe classify` reads by its suffix, and plain text: a directory's files of these kinds are the pool.
POOL_SUFFIXES = tuple(dict.fromkeys([".csv", ".jsonl", ".txt", *(f".{suffix}" for suffix in FORMAT_OF_SUFFIX)]))


def pool_files(paths: list[Path]) -> list[Path]:
    """Each ``--pool`` as files: a directory gives its files with a pool suffix (sorted, subfolders included), a
    glob its matches, a file itself."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in POOL_SUFFIXES)
            if not found:
                raise TopicframeError(f"{path}: no {', '.join(POOL_SUFFIXES)} file in this directory")
            files.extend(found)
        elif not path.exists() and any(c in str(path) for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True) if Path(m).is_file())
            if not matches:
                raise TopicframeError(f"{path}: no file matches this pattern")
            files.extend(matches)
        else:
            files.append(path)  # a missing file is said by the reader: "file not found"
    return files


def read_pool(paths: list[Path], text_column: str = "text") -> Pool:
    """Paragraphs from CSV (a text column, one paragraph per row; ``article_id`` groups rows), JSONL (a ``text``
    per line, an article split into paragraphs) or any other file (one article: plain text, HTML or Markdown,
    split as the service splits ``text``). Directories and globs are read as their files (`pool_files`)."""
    pool = Pool()
    files = pool_files(paths)
    # Ids and articles made up for rows without their own are named after the file: by its stem, or, when two
    # files share one, by its name (pool.csv, pool.jsonl) or its path (p1/x.csv, p2/x.csv), so they stay unique.
    stems, names = Counter(path.stem for path in files), Counter(path.name for path in files)
    for path in files:
        name = path.stem if stems[path.stem] == 1 else path.name if names[path.name] == 1 else path.as_posix()
        try:
            _read_pool_file(pool, path, name, text_column)
        except MarkdownTooDeep as err:
            raise TopicframeError(f"{path}: {err}") from None
    if not pool.texts:
        raise TopicframeError(f"{', '.join(map(str, paths))}: no paragraphs in the pool")
    return pool


def _read_pool_file(pool: Pool, path: Path, name: str, text_column: str) -> None:
    content = _read_text(path)
    if path.suffix.lower() == ".csv":
        _read_csv(pool, path, name, content, text_column)
    elif path.suffix.lower() == ".jsonl":
        for number, record in jsonl_records(content, str(path), text_column):
            given = record.get("id")  # the record's own id, echoed as classify echoes it (`-pK` when it splits)
            # The article is the record: its article_id, else its own id (a made-up `new-4` repeated across pools
            # and rounds read from files of the same name, merging their articles), else the file and line.
            article = str(record.get("article_id") or (given if given not in (None, "") else f"{name}-{number}"))
            paragraphs = split_paragraphs(record[text_column])
            ids = None
            if given not in (None, ""):
                ids = [str(given)] if len(paragraphs) == 1 else [f"{given}-p{k + 1}" for k in range(len(paragraphs))]
            pool.add_article(article, paragraphs, f"{path}:{number}", ids)
    else:
        pool.add_article(name, split_paragraphs(content), str(path))


def _read_csv(pool: Pool, path: Path, name: str, content: str, text_column: str) -> None:
    reader = csv.DictReader(io.StringIO(content, newline=""), strict=True)  # a quote left open is an error
    columns = csv_header(reader, str(path))
    if not columns:  # as training and `audit` say it
        raise TopicframeError(f"{path}: file is empty (expected a header row)")
    if text_column not in columns:
        raise TopicframeError(f"{path}:1: no '{text_column}' column (columns: {', '.join(columns) or 'none'})")
    previous = 1  # a record starts on the line after the previous one ended (quoted fields span lines)
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise TopicframeError(f"{path}:{previous + 1}: unreadable CSV record ({csv_problem(exc)})") from None
        number, previous = previous + 1, reader.line_num
        # A row is a paragraph: its own HTML or Markdown is read as its text, as the service reads `paragraphs`.
        text = paragraph_text(row.get(text_column) or "").strip()
        if not text:
            continue
        article = row.get("article_id") or f"{name}-{number}"
        pool.add_article(article, [text], f"{path}:{number}", [row.get("id") or f"{name}-{number}"])


# ---- strategies -----------------------------------------------------------------------------------


def smallest_margins(
    scores: dict[str, np.ndarray], thresholds: dict[str, np.ndarray], label_names: dict[str, list[str]]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Per row: the smallest |score - threshold| over every label of every set, and which set and label."""
    sets = list(scores)
    margins = np.hstack([np.abs(scores[name] - thresholds[name]) for name in sets])
    owners = [(name, label) for name in sets for label in label_names[name]]
    best = margins.argmin(axis=1)
    return margins[np.arange(len(best)), best], [owners[j][0] for j in best], [owners[j][1] for j in best]


def total_uncertainty(scores: dict[str, np.ndarray], thresholds: dict[str, np.ndarray]) -> np.ndarray:
    """Per row: how unsure the model is over every label of every set (each label adds 1 at its threshold,
    0 at a score of 0 or 1; the scale keeps a label with a low threshold from counting more)."""
    return sum(
        (1 - np.abs(scores[name] - thresholds[name]) / np.maximum(thresholds[name], 1 - thresholds[name])).sum(axis=1)
        for name in scores
    )


def cluster_rows(X: Any, k: int, seed: int) -> np.ndarray:
    """k-means cluster of every row (MiniBatchKMeans on the L2-normalised TF-IDF rows)."""
    from sklearn.cluster import MiniBatchKMeans

    k = max(1, min(k, X.shape[0]))
    return MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=1024).fit_predict(X)


def choose(
    strategy: str,
    n: int,
    *,
    scores: dict[str, np.ndarray],
    thresholds: dict[str, np.ndarray],
    label_names: dict[str, list[str]],
    X: Any,
    candidates: np.ndarray,
    seed: int = 0,
    clusters: np.ndarray | None = None,
    labelled_clusters: np.ndarray | None = None,
) -> list[Choice]:
    """The ``n`` rows (indices into the pool) to label next, with the reason for each.

    ``candidates`` marks the rows that may be chosen; ``clusters`` (one id per pool row) and
    ``labelled_clusters`` (one per labelled row) can be given to reuse a clustering.
    """
    if strategy not in STRATEGIES:
        raise TopicframeError(f"--strategy {strategy}: expected one of {', '.join(STRATEGIES)}")
    rows = np.flatnonzero(candidates)
    n = min(n, len(rows))
    margin, margin_set, margin_label = smallest_margins(scores, thresholds, label_names)
    unsure = total_uncertainty(scores, thresholds)

    def uncertain(i: int, cluster: int | None = None, extra: str = "") -> Choice:
        why = (
            f"uncertainty {unsure[i]:.2f} over all labels; nearest: {margin_set[i]}/{margin_label[i]} score "
            f"within {margin[i]:.3f} of its threshold{extra}"
        )
        return Choice(int(i), why, margin_set[i], margin_label[i], float(margin[i]), cluster, float(unsure[i]))

    if strategy == "random":
        picked = np.random.default_rng(seed).choice(rows, size=n, replace=False)
        return [Choice(int(i), "random sample") for i in picked]
    if strategy == "uncertainty":
        return [uncertain(i) for i in rows[np.argsort(-unsure[rows], kind="stable")[:n]]]

    if clusters is None:
        clusters = cluster_rows(X, max(2, min(n, 50)), seed)
    k = int(max(clusters.max(), labelled_clusters.max() if labelled_clusters is not None else 0)) + 1
    size = np.bincount(clusters[rows], minlength=k).astype(float)
    covered = np.bincount(labelled_clusters, minlength=k).astype(float) if labelled_clusters is not None else 0 * size
    size += covered
    remaining = {c: list(rows[clusters[rows] == c]) for c in range(k)}
    for members in remaining.values():  # the order each cluster gives its members in
        if not members:
            continue
        if strategy == "mixed":
            members.sort(key=lambda i: -unsure[i])
        else:
            rows_of = X[members]
            similarity = np.asarray(rows_of @ np.asarray(rows_of.mean(axis=0)).ravel()).ravel()
            members[:] = [members[j] for j in np.argsort(-similarity, kind="stable")]
    chosen: list[Choice] = []
    while len(chosen) < n:
        open_clusters = [c for c in range(k) if remaining[c]]
        c = min(open_clusters, key=lambda c: (covered[c] / size[c], -size[c]))
        i = remaining[c].pop(0)
        coverage = f"cluster {c}: {int(covered[c])} of {int(size[c])} paragraphs labelled or chosen"
        if strategy == "mixed":
            chosen.append(uncertain(i, c, f"; {coverage}"))
        else:
            chosen.append(Choice(int(i), f"under-covered {coverage}", cluster=c))
        covered[c] += 1
    return chosen


# ---- the command ----------------------------------------------------------------------------------


def suggest(
    pool: Pool, bundle: Any, n: int, strategy: str, seed: int, labelled_texts: list[str] | None = None
) -> list[Choice]:
    """Score the pool as articles with the model and choose ``n`` paragraphs."""
    from training.features import ArticleLayout

    scored = bundle.score(pool.texts, layout=ArticleLayout.from_article_ids(pool.article_ids))
    sets = [name for name in scored.scores if bundle.multi_label[name]]
    if not sets:
        raise TopicframeError("the model has no multi-label set to measure uncertainty on")
    thresholds = {name: np.array(list(bundle.thresholds(name).values())) for name in sets}
    content = scored.labelled if scored.labelled.any() else np.ones(len(pool.texts), dtype=bool)
    candidates = content & new_texts(pool.texts, labelled_texts or [])
    if not candidates.any():  # only when --labelled holds them all; said, not a traceback
        raise TopicframeError(
            f"nothing to propose: every one of the pool's {int(content.sum())} paragraph(s) that the model reads as "
            "content is already in --labelled"
        )
    X = bundle.transform(pool.texts)
    clusters = labelled_clusters = None
    if strategy in ("diversity", "mixed"):
        from sklearn.cluster import MiniBatchKMeans

        k = max(2, min(n, 50, len(pool.texts)))
        kmeans = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=1024)
        clusters = kmeans.fit_predict(X)
        if labelled_texts:
            labelled_clusters = kmeans.predict(bundle.transform(labelled_texts))
    return choose(
        strategy,
        n,
        scores={name: scored.scores[name] for name in sets},
        thresholds=thresholds,
        label_names=bundle.label_names,
        X=X,
        candidates=candidates,
        seed=seed,
        clusters=clusters,
        labelled_clusters=labelled_clusters,
    )


def new_texts(texts: list[str], labelled: list[str]) -> np.ndarray:
    """Rows worth proposing: a text's first occurrence in the pool, and not a text already labelled. Boilerplate
    repeats across articles, and a pool often overlaps the corpus: each was proposed as often as it appeared."""
    seen = set(labelled)
    keep = np.zeros(len(texts), dtype=bool)
    for i, text in enumerate(texts):
        if text not in seen:
            keep[i] = True
            seen.add(text)
    return keep


def suggestion_records(pool: Pool, choices: list[Choice], label_sets: list[str], strategy: str) -> list[dict[str, str]]:
    """The training CSV's columns (label columns empty, to fill in) plus the reason columns."""
    # The paragraph's place in its article as the pool has it: rows come in ranking order, and training reads a
    # file's rows as page order unless a position says otherwise (the role model reads positions).
    positions, seen = [], Counter[str]()
    for article in pool.article_ids:
        seen[article] += 1
        positions.append(seen[article])
    records = []
    for rank, choice in enumerate(choices, start=1):
        i = choice.index
        records.append(
            {
                "id": pool.ids[i],
                "article_id": pool.article_ids[i],
                "position": str(positions[i]),
                "text": pool.texts[i],
                **{name: "" for name in label_sets},
                "rank": str(rank),
                "strategy": strategy,
                "reason": choice.reason,
                "uncertain_set": choice.label_set,
                "uncertain_label": choice.label,
                "margin": "" if choice.margin is None else f"{choice.margin:.4f}",
                "uncertainty": "" if choice.uncertainty is None else f"{choice.uncertainty:.4f}",
                "cluster": "" if choice.cluster is None else str(choice.cluster),
                "source": pool.sources[i],
            }
        )
    return records


def write_records(records: list[dict[str, str]], path: Path) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    partial.replace(path)
