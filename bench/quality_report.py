"""Quality report of a run config on the shipped corpus -> docs/quality.md (+ docs/learning_curve.png).

    .venv/bin/python -m bench.quality_report [--config experiments/default.yaml] [--out docs/quality.md]
        [--curve 0.1,0.25,0.5,0.75,1.0] [--curve-folds 3]

Trains the config exactly as `topicframe train` does (no MLflow), then writes: per-label precision/recall/F1
next to the two annotators' own F1 against the adjudicated gold, the label pairs most often confused (with a
paragraph for each), labels per paragraph (predicted vs gold), role accuracy per role and on the house styles
held out of training, and the learning curve (the same config on growing shares of the training articles).
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import f1_score

from training.config import RunConfig, load_config
from training.dataset import LabelledData
from training.train import PreparedData, TrainingResult, prepare_data, train_model

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT_STYLES = ("liveblog", "press_release")


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def split_labels(cell: str) -> set[str]:
    return {x for x in cell.split(";") if x}


def label_f1(gold: list[set[str]], other: list[set[str]], labels: list[str]) -> dict[str, float]:
    """Per-label F1 of `other` against `gold`, plus "micro"."""
    y_gold = np.array([[label in row for label in labels] for row in gold])
    y_other = np.array([[label in row for label in labels] for row in other])
    scores = {label: float(f1_score(y_gold[:, j], y_other[:, j], zero_division=0)) for j, label in enumerate(labels)}
    scores["micro"] = float(f1_score(y_gold, y_other, average="micro", zero_division=0))
    return scores


def human_vs_gold(test: LabelledData, label_set: str) -> dict[str, dict[str, float]]:
    """Each annotation pass of the test set against the adjudicated gold, per label."""
    gold_by_id = {i: set(labels) for i, labels in zip(test.ids, test.labels[label_set], strict=True)}
    out = {}
    for name in ("pass1", "pass2"):
        path = ROOT / "labels" / "annotations" / f"test_{name}.csv"
        if not path.is_file():
            continue
        rows = [r for r in read_csv(path) if r["id"] in gold_by_id]
        labels = sorted({label for row in gold_by_id.values() for label in row})
        out[name] = label_f1([gold_by_id[r["id"]] for r in rows], [split_labels(r[label_set]) for r in rows], labels)
    return out


def confused_pairs(test: LabelledData, predicted: list[list[str]], label_set: str, top: int = 8) -> list[tuple]:
    """(missed gold label, wrongly predicted label, count, example paragraph) in paragraphs that had both."""
    pairs: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    for text, gold, pred in zip(test.texts, test.labels[label_set], predicted, strict=True):
        for missed in set(gold) - set(pred):
            for extra in set(pred) - set(gold):
                pairs[missed, extra] += 1
                example.setdefault((missed, extra), text)
    return [(a, b, n, example[a, b]) for (a, b), n in pairs.most_common(top)]


def role_rows(result: TrainingResult, styles: dict[str, str]) -> list[tuple[str, int, float, float]]:
    """(scope, paragraphs, accuracy, non-content recall) overall and on the held-out styles."""
    test = result.data.test
    gold = [labels[0] for labels in test.labels["role"]]
    pred = [labels[0] for labels in result.test.predicted["role"]]
    content = set(result.bundle.config.roles.content)
    rows = []
    for scope, keep in (
        ("all test articles", lambda i: True),
        (
            "held-out styles (" + ", ".join(HELD_OUT_STYLES) + ")",
            lambda i: styles.get(test.article_ids[i] or "") in HELD_OUT_STYLES,
        ),
        ("styles seen in training", lambda i: styles.get(test.article_ids[i] or "") not in HELD_OUT_STYLES),
    ):
        idx = [i for i in range(len(test)) if keep(i)]
        non_content = [i for i in idx if gold[i] not in content]
        rows.append(
            (
                scope,
                len(idx),
                float(np.mean([gold[i] == pred[i] for i in idx])),
                float(np.mean([gold[i] == pred[i] for i in non_content])) if non_content else float("nan"),
            )
        )
    return rows


def learning_curve(config: RunConfig, prepared: PreparedData, shares: list[float], folds: int) -> list[tuple]:
    """Test micro-F1 per content set after training on a seeded share of the training articles."""
    articles = sorted({a for a in prepared.train.article_ids if a})
    random.Random(config.seed).shuffle(articles)
    curve_config = config.model_copy(update={"cv": config.cv.model_copy(update={"folds": folds})})
    points = []
    for share in shares:
        kept = set(articles[: max(folds, round(share * len(articles)))])
        rows = [i for i, a in enumerate(prepared.train.article_ids) if a in kept]
        part = PreparedData(prepared.codebooks, prepared.train.subset(rows), prepared.test, prepared.split_method)
        reports = train_model(curve_config, part).test.reports
        points.append((share, len(rows), reports["topic"]["micro_f1"], reports["frame"]["micro_f1"]))
        print(f"learning curve: {share:.0%} of articles, {len(rows)} paragraphs -> topic {points[-1][2]:.3f}")
    return points


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/default.yaml")
    parser.add_argument("--out", default="docs/quality.md")
    parser.add_argument("--curve", default="0.1,0.25,0.5,0.75,1.0")
    parser.add_argument("--curve-folds", type=int, default=3)
    args = parser.parse_args()
    started = time.time()
    config = load_config(args.config)
    prepared = prepare_data(config)
    result = train_model(config, prepared)
    test = prepared.test
    styles = {a["article_id"]: a["style"] for a in read_csv(ROOT / "labels" / "articles.csv")}
    shares = [float(x) for x in args.curve.split(",") if x]
    curve = learning_curve(config, prepared, shares, args.curve_folds) if shares else []

    out: list[str] = [
        "# Quality of the default model",
        "",
        f"Generated by `.venv/bin/python -m bench.quality_report --config {args.config}` on "
        f"{time.strftime('%Y-%m-%d')} ({platform.machine()}, {os.cpu_count()} cores; "
        f"{time.time() - started:.0f} s). Training data: {len(prepared.train)} paragraphs in "
        f"{len(set(prepared.train.article_ids))} articles; test (adjudicated gold): {len(test)} paragraphs in "
        f"{len(set(test.article_ids))} articles on events not in training.",
        "",
    ]
    for name in ("topic", "frame"):
        report = result.test.reports[name]
        humans = human_vs_gold(test, name)
        rows = []
        for label, row in report["per_label"].items():
            rows.append(
                [label, f"{row['precision']:.3f}", f"{row['recall']:.3f}", f"{row['f1']:.3f}", row["support"]]
                + [f"{humans[p][label]:.3f}" if p in humans and label in humans[p] else "-" for p in ("pass1", "pass2")]
            )
        rows.append(
            ["**micro**", "", "", f"**{report['micro_f1']:.3f}**", ""]
            + [f"{humans[p]['micro']:.3f}" if p in humans else "-" for p in ("pass1", "pass2")]
        )
        out += [
            f"## {name}: model vs gold, next to each annotator vs gold",
            "",
            f"Micro-F1 {report['micro_f1']:.3f}, macro-F1 {report['macro_f1']:.3f}. Labels per content paragraph: "
            f"predicted {report['cardinality']:.2f}, gold {report['cardinality_gold']:.2f} "
            f"(ratio {report['cardinality_ratio']:.2f}; the shipped rule keeps it within ±15%).",
            "",
            table(["label", "precision", "recall", "F1", "support", "annotator 1 F1", "annotator 2 F1"], rows),
            "",
            f"Label pairs most often confused ({name}: a gold label missed while another was predicted):",
            "",
            table(
                ["missed", "predicted instead", "paragraphs", "example"],
                [
                    [a, b, n, ex[:160].replace("|", "/") + ("…" if len(ex) > 160 else "")]
                    for a, b, n, ex in confused_pairs(test, result.test.predicted[name], name)
                ],
            ),
            "",
        ]
    role_report = result.test.reports["role"]
    out += [
        "## Roles",
        "",
        table(
            ["scope", "paragraphs", "role accuracy", "non-content roles recalled exactly"],
            [[s, n, f"{a:.3f}", f"{r:.3f}"] for s, n, a, r in role_rows(result, styles)],
        ),
        "",
        table(
            ["role", "precision", "recall", "F1", "support"],
            [
                [label, f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", r["support"]]
                for label, r in role_report["per_label"].items()
            ],
        ),
        "",
    ]
    if curve:
        plt.figure(figsize=(6, 3.5))
        plt.plot([p[1] for p in curve], [p[2] for p in curve], marker="o", label="topic")
        plt.plot([p[1] for p in curve], [p[3] for p in curve], marker="o", label="frame")
        plt.xlabel("training paragraphs"), plt.ylabel("test micro-F1"), plt.grid(alpha=0.3), plt.legend()
        plt.tight_layout()
        plt.savefig(ROOT / "docs" / "learning_curve.png", dpi=110)
        out += [
            "## Learning curve",
            "",
            f"The same config trained on seeded shares of the training articles ({args.curve_folds}-fold CV for "
            "the thresholds), scored on the same test set:",
            "",
            table(
                ["share of articles", "paragraphs", "topic micro-F1", "frame micro-F1"],
                [[f"{s:.0%}", n, f"{t:.3f}", f"{f:.3f}"] for s, n, t, f in curve],
            ),
            "",
            "![learning curve](learning_curve.png)",
            "",
        ]
    Path(args.out).write_text("\n".join(out) + handwritten_part(Path(args.out)))
    print(f"wrote {args.out}")


HANDWRITTEN = "## Reading these figures (written by hand after the generated part)"


def handwritten_part(path: Path) -> str:
    """What follows the generated tables in an existing report (the readings, the audit, the trials), kept as is."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return "\n" + text[text.index(HANDWRITTEN) :] if HANDWRITTEN in text else ""


if __name__ == "__main__":
    main()
