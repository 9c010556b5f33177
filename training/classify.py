"""Classification results in the service's response shape, shared by the API and the CLI.

`classify` vectorizes all paragraphs once, scores every requested label set,
applies the stored thresholds, optionally explains each predicted label, and
builds the article-level summary.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from training.bundle import ModelBundle

_BLANK_LINES = re.compile(r"\n[ \t]*\n+")


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs are separated by blank lines; single newlines inside one are kept."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    return [p.strip() for p in _BLANK_LINES.split(normalised) if p.strip()]


def classify(
    bundle: ModelBundle,
    paragraphs: list[str],
    label_sets: list[str] | None = None,
    explain: int = 0,
    include_scores: bool = True,
) -> dict[str, Any]:
    """``{"paragraphs": [...], "summary": {...}}`` for a list of paragraphs."""
    label_sets = label_sets or bundle.label_sets
    X = bundle.transform(paragraphs)
    scores = {name: bundle.label_sets_[name].predict_proba(X) for name in label_sets}
    decided = {name: bundle.decide(name, s) for name, s in scores.items()}
    X = X.tocsr() if explain else X
    # Rounded in numpy and turned into lists once: per-score Python rounding was most of a large request.
    rounded = {name: np.round(s, 4).tolist() for name, s in scores.items()} if include_scores else {}
    results = []
    for i, text in enumerate(paragraphs):
        item: dict[str, Any] = {"index": i, "text": text, "labels": {name: decided[name][i] for name in label_sets}}
        if include_scores:
            item["scores"] = {
                name: dict(zip(bundle.label_names[name], rounded[name][i], strict=True)) for name in label_sets
            }
        if explain:
            explained = bundle.explain_row(X[i], explain, item["labels"])
            item["explanations"] = {
                name: {
                    label: [{"term": term, "weight": weight} for term, weight in terms]
                    for label, terms in per_label.items()
                }
                for name, per_label in explained.items()
            }
        results.append(item)
    return {"paragraphs": results, "summary": summarize(bundle, decided, scores)}


def summarize(
    bundle: ModelBundle, decided: dict[str, list[list[str]]], scores: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Article view: label counts and shares, the primary label, and topic x frame co-occurrence."""
    n = len(next(iter(decided.values()), []))
    summary: dict[str, Any] = {"paragraphs": n, "label_sets": {}}
    for name, rows in decided.items():
        counts = Counter(label for row in rows for label in row)
        totals = dict(zip(bundle.label_names[name], scores[name].sum(axis=0).tolist(), strict=True))
        present = [label for label in bundle.label_names[name] if counts[label]]  # codebook order
        # Most paragraphs wins; ties go to the label with the higher total score.
        primary = max(present, key=lambda label: (counts[label], totals[label])) if present else None
        summary["label_sets"][name] = {
            "primary": primary,
            "counts": {label: {"paragraphs": counts[label], "share": round(counts[label] / n, 4)} for label in present},
        }
    if "topic" in decided and "frame" in decided:
        with_topic = Counter(topic for row in decided["topic"] for topic in row)
        pairs = Counter(
            (topic, frame)
            for topics, frames in zip(decided["topic"], decided["frame"], strict=True)
            for topic in topics
            for frame in frames
        )
        summary["topic_frames"] = {
            topic: {
                frame: {
                    "paragraphs": pairs[topic, frame],
                    "of": with_topic[topic],
                    "share": round(pairs[topic, frame] / with_topic[topic], 4),
                }
                for frame in bundle.label_names["frame"]
                if pairs[topic, frame]
            }
            for topic in bundle.label_names["topic"]
            if with_topic[topic]
        }
    return summary
