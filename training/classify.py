"""Classification results in the service's response shape, shared by the API and the CLI.

`classify` scores the paragraphs as one article (or each alone), applies the
model's decision rules (roles first: non-content paragraphs get no labels, then
each label's threshold), optionally explains each predicted label, and builds the
article-level summary over the content paragraphs.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from training.bundle import ModelBundle
from training.features import ArticleLayout

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
    article: bool = True,
) -> dict[str, Any]:
    """``{"paragraphs": [...], "summary": {...}}`` for a list of paragraphs.

    With ``article`` (the default) the paragraphs are one article in page order: the role model
    sees their positions and the other sets their neighbours. Otherwise each is scored alone.
    ``label_sets`` names content sets (``topic``, ``frame``); the role, when the model has one,
    is always given as ``role`` and ``role_score``.
    """
    label_sets = [name for name in (label_sets or bundle.content_label_sets) if name != bundle.role_set]
    layout = ArticleLayout.single_article(len(paragraphs)) if article else ArticleLayout.alone(len(paragraphs))
    scored = bundle.score(paragraphs, label_sets, layout)
    scores = scored.scores
    decided = {name: bundle.decide(name, s, scored.content) for name, s in scores.items()}
    X = scored.X.tocsr() if explain else scored.X
    # Rounded in numpy and turned into lists once: per-score Python rounding was most of a large request.
    rounded = {name: np.round(s, 4).tolist() for name, s in scores.items()} if include_scores else {}
    roles, role_scores = scored.roles, None
    if scored.role_scores is not None:
        role_scores = np.round(scored.role_scores.max(axis=1), 4).tolist()
    results = []
    for i, text in enumerate(paragraphs):
        item: dict[str, Any] = {"index": i, "text": text}
        if roles is not None and role_scores is not None:
            item["role"], item["role_score"] = roles[i], role_scores[i]
        item["labels"] = {name: decided[name][i] for name in label_sets}
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
    content = scored.content
    counted = {name: [row for row, keep in zip(rows, content, strict=True) if keep] for name, rows in decided.items()}
    summary = summarize(bundle, counted, {name: s[content] for name, s in scores.items()})
    summary["paragraphs"], summary["content_paragraphs"] = len(paragraphs), int(content.sum())
    if roles is not None:
        summary["roles"] = dict(Counter(roles))
    return {"paragraphs": results, "summary": summary}


def summarize(
    bundle: ModelBundle, decided: dict[str, list[list[str]]], scores: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Article view over the content paragraphs (body and headline; all of them for a model without
    roles): label counts and shares, the primary label, and topic x frame co-occurrence."""
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
            "counts": {
                label: {"paragraphs": counts[label], "share": round(counts[label] / n, 4) if n else 0.0}
                for label in present
            },
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
