"""Which training labels teach the model the gold standard best? Validated on the adjudicated training sample.

    .venv/bin/python -m bench.label_sources [--variants writer,second,union,agreed] [--set KEY=VALUE]

The training corpus has two independent annotations of its topic and frame labels: the writer's (given as each
article was written; `labels/annotations/train_pass1.csv`) and a second pass by annotators who saw only the
codebooks and the text (`train_pass2.csv`, the corpus's labels since 2026-12-02). The 651 paragraphs of the
seeded training sample (`train_sample_*`) also have an adjudicated gold, made the way the test set's was. This
holds those 53 articles out, trains the default config (3-fold thresholds) on the other articles with each label
source, and scores the adjudicated sample: a validation set that is not the test set, so the choice does not
tune on the test.

Variants (topic and frame only; roles always come from the corpus):
- ``writer``: the writer's labels;
- ``second``: the second pass's labels;
- ``union``: a label either pass gave;
- ``agreed``: a label both passes gave, where they share at least one; else the second pass's;
- ``adjudicated``: where the passes differ, a third annotator's decision (`train_adjudication.csv`).
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import yaml

from training.config import load_config
from training.train import prepare_data, train_model

ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = ROOT / "labels" / "annotations"
CONTENT = ("body", "headline")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def split(cell: str) -> list[str]:
    return [x for x in (cell or "").split(";") if x]


def combine(variant: str, first: list[str], second: list[str]) -> list[str]:
    if variant == "writer":
        return first
    if variant == "second":
        return second
    if variant == "union":
        return first + [x for x in second if x not in first]
    if variant == "agreed":
        shared = [x for x in second if x in first]
        return shared or second
    raise ValueError(f"unknown variant {variant}")


def labelled_rows(
    variant: str,
    corpus: list[dict[str, str]],
    first: dict[str, dict[str, str]],
    second: dict[str, dict[str, str]],
    adjudicated: dict[tuple[str, str], str] | None = None,
) -> list[dict[str, str]]:
    """The corpus rows with topic and frame from ``variant`` of the ``first`` (writers') and ``second`` passes;
    rows the passes do not both cover, or that either reads as layout, keep the corpus's labels."""
    rows = []
    first_labels: dict[str, dict[str, str]] = {}  # a text repeated in the corpus keeps one labelling (validation)
    for row in corpus:
        mine, other = first.get(row["id"]), second.get(row["id"])
        if mine is None or other is None or row["role"] not in CONTENT or other["role"] not in CONTENT:
            rows.append(row)
            continue
        if variant == "adjudicated":  # the passes agree, else the adjudicator's decision
            labels = {s: (adjudicated or {}).get((row["id"], s), other[s]) for s in ("topic", "frame")}
        else:
            labels = {s: ";".join(combine(variant, split(mine[s]), split(other[s]))) for s in ("topic", "frame")}
        if not labels["topic"]:
            labels["frame"] = ""  # frame.yaml: a paragraph with no topic gets no frame
        rows.append({**row, **first_labels.setdefault(row["text"], labels)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-pass", type=Path, default=ANNOTATIONS / "train_pass1.csv", help="the writers'")
    parser.add_argument("--second-pass", type=Path, default=ANNOTATIONS / "train_pass2.csv", help="the independent")
    parser.add_argument("--adjudication", type=Path, default=ANNOTATIONS / "train_adjudication.csv")
    parser.add_argument("--variants", default="writer,second,union,agreed,adjudicated")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    corpus = read(ROOT / "labels" / "paragraphs.csv")
    first = {row["id"]: row for row in read(args.first_pass)}
    second = {row["id"]: row for row in read(args.second_pass)}
    adjudicated = {(row["id"], row["label_set"]): row["final"] for row in read(args.adjudication)}
    sample_articles = {row["article_id"] for row in read(ANNOTATIONS / "train_sample_pass1.csv")}
    header = list(corpus[0])
    held_out = [row for row in corpus if row["article_id"] in sample_articles]  # adjudicated labels
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        validation = Path(tmp) / "validation.csv"
        write(validation, header, held_out)
        for variant in args.variants.split(","):
            train_csv = Path(tmp) / f"train_{variant}.csv"
            labelled = labelled_rows(variant, corpus, first, second, adjudicated)
            rows = [r for r in labelled if r["article_id"] not in sample_articles]
            write(train_csv, header, rows)
            config = load_config(
                ROOT / "experiments" / "default.yaml",
                {"cv.folds": 3, **overrides, "data.train": [str(train_csv)], "data.test": [str(validation)]},
            )
            started = time.time()
            result = train_model(config, prepare_data(config))
            reports = result.test.reports
            cardinality = {s: sum(len(split(r[s])) for r in rows if r["role"] in CONTENT) for s in ("topic", "frame")}
            results[variant] = {
                "topic_micro_f1": round(float(reports["topic"]["micro_f1"]), 4),
                "frame_micro_f1": round(float(reports["frame"]["micro_f1"]), 4),
                "cv_topic_micro_f1": round(float(result.cv_reports["topic"]["micro_f1"]), 4),
                "cv_frame_micro_f1": round(float(result.cv_reports["frame"]["micro_f1"]), 4),
                "training_labels": cardinality,
                "seconds": round(time.time() - started),
            }
            print(variant, json.dumps(results[variant]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
