"""Interviews, briefings and colon lead-ins: role accuracy and topic micro-F1 of each store's champion.

    .venv/bin/python -m bench.interviews_probe sqlite:////path/baseline/mlflow.db [sqlite:////path/other/mlflow.db ...]

`bench/data/interviews_probe.json`: eight original articles written and annotated (role and topics, from the
codebooks) by one helper who had seen neither wave W14 nor the list sets: four Q&A interviews in four conventions
("Q:"/"A:", the outlet's and guest's names in capitals, plain questions, a radio transcript) and four features and
briefing write-ups with colon lead-ins before quoted statements and reporters' questions (168 paragraphs). It is
the check wave W14 was shipped on (docs/quality.md, "Twenty-eighth pass"). Each article is split as the service
splits plain text and scored as one article; the errors are listed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.paired_bootstrap import micro_f1, store_model
from training.classify import classify, split_paragraphs

DATA = Path(__file__).resolve().parent / "data" / "interviews_probe.json"


def figures(tracking_uri: str, model: str, articles: list[dict]) -> tuple[str, float, float, list[tuple]]:
    """(model, role accuracy, topic micro-F1, the role errors) on the probe's articles."""
    bundle, ref = store_model(model, tracking_uri)
    right = total = 0
    counts = np.zeros(3)
    errors = []
    for article in articles:
        paragraphs = split_paragraphs(article["text"], "plain")
        gold = article["paragraphs"]
        if [p.strip() for p in paragraphs] != [g["text"].strip() for g in gold]:
            raise SystemExit(f"{article['id']}: the split does not give the annotated paragraphs")
        for read, wanted in zip(classify(bundle, paragraphs, include_scores=False)["paragraphs"], gold, strict=True):
            right += read["role"] == wanted["role"]
            total += 1
            if read["role"] != wanted["role"]:
                errors.append((article["id"], wanted["role"], read["role"], read["text"][:60]))
            predicted, labels = set(read["labels"]["topic"]), set(wanted["topic"])
            counts += (len(predicted & labels), len(predicted - labels), len(labels - predicted))
    return f"{ref.name} v{ref.version}", right / total, float(micro_f1(counts)), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stores", nargs="+")
    parser.add_argument("--model", default="models:/topicframe@champion")
    args = parser.parse_args()
    articles = json.loads(DATA.read_text(encoding="utf-8"))
    for store in args.stores:
        name, roles, topic, errors = figures(store, args.model, articles)
        print(f"{store} ({name}): role accuracy {roles:.4f}, topic micro-F1 {topic:.4f}, {len(errors)} role errors")
        for error in errors:
            print("   ", *error)


if __name__ == "__main__":
    main()
