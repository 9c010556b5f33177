"""Paragraphs the model cannot read: other languages, and English full of foreign names (docs/quality.md).

    .venv/bin/python -m bench.unread_paragraphs [--tracking-uri sqlite:///mlflow.db]
        [--model models:/topicframe@champion] [--min-known-words 0.5]

The content sets read English. A paragraph in another language gets scores that say nothing about it, and
with the top-label fallback a topic all the same. `decision.min_known_words` leaves such a paragraph unlabelled
(`training.known_words`). This measures the rule at ``--min-known-words`` on a model, whatever the model was
saved with:
- `bench/data/unread_eval.csv` (written for this, blind to the model): 96 news paragraphs in 12 other
  languages, which should not be read; 48 English paragraphs full of foreign names, places and short quotes,
  which should; 16 half-and-half paragraphs, reported only. Each is scored alone.
- the held-out test, scored as articles: the rule must not take labels from any body or headline paragraph.
Writes `bench/results/unread_paragraphs.json`.
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.paired_bootstrap import LABEL_SETS, load_test, store_model
from training.bundle import ModelBundle
from training.features import ArticleLayout
from training.train import evaluate

EVAL = Path(__file__).resolve().parent / "data" / "unread_eval.csv"
RESULTS = Path(__file__).resolve().parent / "results" / "unread_paragraphs.json"


def with_rule(bundle: ModelBundle, min_known_words: float) -> ModelBundle:
    """The same fitted model, reading at ``min_known_words`` (an inference rule: nothing is refitted)."""
    decision = bundle.config.decision.model_copy(update={"min_known_words": min_known_words})
    bundle.config = bundle.config.model_copy(update={"decision": decision})
    return bundle


def eval_set(bundle: ModelBundle, rows: list[dict[str, str]]) -> dict[str, Any]:
    """Per kind and language: paragraphs, how many were not read, how many got a topic with the rule off (what an
    analyst saw before) and with it on, and the known-word shares."""
    texts = [row["text"] for row in rows]
    scored = bundle.score(texts, layout=ArticleLayout.alone(len(texts)))
    topic_before = [bool(labels) for labels in bundle.decide("topic", scored.scores["topic"], scored.content)]
    topic_after = [bool(labels) for labels in bundle.decide("topic", scored.scores["topic"], scored.labelled)]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row["kind"]].append(i)
        groups[f"{row['kind']}/{row['language']}"].append(i)
    report = {}
    for group, members in sorted(groups.items()):
        shares = scored.known_words[members]
        report[group] = {
            "paragraphs": len(members),
            "not_read": int((~scored.read[members]).sum()),
            "not_read_share": round(float((~scored.read[members]).mean()), 4),
            "with_topic_rule_off": sum(topic_before[i] for i in members),
            "with_topic_rule_on": sum(topic_after[i] for i in members),
            # NaN: not judged (too little Latin-script prose), read.
            "known_words_min_median_max": [round(float(f(shares)), 3) for f in (np.nanmin, np.nanmedian, np.nanmax)],
            "not_judged": int(np.isnan(shares).sum()),
        }
    read_anyway = [
        (rows[i]["id"], rows[i]["language"], round(float(scored.known_words[i]), 3))
        for i in range(len(rows))
        if rows[i]["kind"] == "other_language" and scored.read[i]
    ]
    not_read = [
        (rows[i]["id"], round(float(scored.known_words[i]), 3), rows[i]["text"])
        for i in range(len(rows))
        if rows[i]["kind"] == "english_foreign_names" and not scored.read[i]
    ]
    return {"groups": report, "other_language_read": read_anyway, "english_not_read": not_read}


def held_out(bundle: ModelBundle, min_known_words: float) -> dict[str, Any]:
    """The held-out test with the rule off and on: micro-F1 per set, role accuracy, content paragraphs not read."""
    data = load_test()
    figures = {}
    for name, threshold in (("rule_off", 0.0), (f"rule_on_{min_known_words}", min_known_words)):
        result = evaluate(with_rule(bundle, threshold), data)
        figures[name] = {f"{s}.micro_f1": round(result.reports[s]["micro_f1"], 4) for s in LABEL_SETS}
        if bundle.role_set is not None:
            figures[name]["role.subset_accuracy"] = round(result.reports[bundle.role_set]["subset_accuracy"], 4)
        figures[name]["predictions"] = {s: result.predicted[s] for s in LABEL_SETS}
    off, on = figures["rule_off"].pop("predictions"), figures[f"rule_on_{min_known_words}"].pop("predictions")
    changed = sum(a != b for s in LABEL_SETS for a, b in zip(off[s], on[s], strict=True))
    scored = bundle.score(data.texts, layout=ArticleLayout.from_article_ids(data.article_ids))
    gold = (
        np.isin([row[0] for row in data.labels[bundle.role_set]], bundle.config.roles.content)
        if bundle.role_set
        else np.ones(len(data), dtype=bool)
    )
    return {
        **figures,
        "paragraph_labels_changed": changed,
        "content_paragraphs_not_read": int((scored.content & ~scored.read).sum()),
        "gold_content_known_words_min": round(float(np.nanmin(scored.known_words[gold])), 3),
        "gold_content_known_words_1st_percentile": round(float(np.nanpercentile(scored.known_words[gold], 1)), 3),
        "gold_content_not_judged": int(np.isnan(scored.known_words[gold]).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db")
    parser.add_argument("--model", default="models:/topicframe@champion")
    parser.add_argument("--min-known-words", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    bundle, ref = store_model(args.model, args.tracking_uri)
    with EVAL.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    result = {
        "model": {"uri": args.model, "version": ref.version, "bundle_sha256": ref.bundle_sha256},
        "min_known_words": args.min_known_words,
        "eval_set": eval_set(with_rule(bundle, args.min_known_words), rows),
        "held_out_test": held_out(bundle, args.min_known_words),
    }
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "eval_set"}, indent=1))
    print(json.dumps(result["eval_set"]["groups"], indent=1))


if __name__ == "__main__":
    main()
