"""Human-readable outputs of an evaluation: tables, plots, misclassified rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import average_precision_score, multilabel_confusion_matrix, precision_recall_curve


def markdown_report(reports: dict[str, dict[str, Any]], title: str = "Test metrics") -> str:
    """Per-label-set summary plus the per-label precision/recall/F1 table."""
    lines = [f"# {title}", ""]
    for name, report in reports.items():
        lines.append(f"## {name}")
        lines.append("")
        summary = ", ".join(f"{k} {v:.3f}" for k, v in report.items() if k != "per_label")
        lines.append(summary)
        lines.append("")
        lines.append("| label | precision | recall | f1 | support |")
        lines.append("|---|---:|---:|---:|---:|")
        for label, row in report["per_label"].items():
            lines.append(
                f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_reports(directory: Path, reports: dict[str, dict[str, Any]], cv_reports: dict[str, dict[str, Any]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "classification_report.json").write_text(json.dumps({"test": reports, "cv": cv_reports}, indent=2))
    (directory / "classification_report.md").write_text(
        markdown_report(reports) + "\n" + markdown_report(cv_reports, "Cross-validation (out-of-fold) metrics")
    )


def plot_label_set(
    directory: Path, name: str, labels: list[str], y_true: np.ndarray, y_pred: np.ndarray, scores: np.ndarray
) -> list[Path]:
    """One PNG of per-label confusion matrices and one of precision-recall curves."""
    directory.mkdir(parents=True, exist_ok=True)
    cols = min(len(labels), 5)
    rows = int(np.ceil(len(labels) / cols))
    paths = []

    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for ax, label, matrix in zip(axes.flat, labels, multilabel_confusion_matrix(y_true, y_pred), strict=False):
        ax.imshow(matrix, cmap="Blues")
        for (i, j), count in np.ndenumerate(matrix):
            ax.text(j, i, str(count), ha="center", va="center", color="black")
        ax.set_title(label, fontsize=9)
        ax.set_xticks([0, 1], ["pred 0", "pred 1"], fontsize=7)
        ax.set_yticks([0, 1], ["true 0", "true 1"], fontsize=7)
    for ax in list(axes.flat)[len(labels) :]:
        ax.axis("off")
    # Fixed margins (in inches) for a regular grid: tight_layout measures every tick label of every panel
    # (slow with many labels, and for 90 it gave up anyway).
    height = 2.6 * rows
    fig.suptitle(f"{name}: per-label confusion matrices (test)", y=1 - 0.15 / height, va="top")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.4 / height, top=1 - 0.8 / height, wspace=0.6, hspace=0.55)
    paths.append(directory / f"{name}_confusion.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 5))
    # The curves PrecisionRecallDisplay draws, but plotted directly: the display rebuilds the whole legend
    # for every curve it adds, which took a quarter of the plotting time for a 90-label set.
    for j, label in enumerate(labels):
        if 0 < y_true[:, j].sum() < len(y_true):
            precision, recall, _ = precision_recall_curve(y_true[:, j], scores[:, j])
            average_precision = average_precision_score(y_true[:, j], scores[:, j])
            ax.plot(recall, precision, drawstyle="steps-post", label=f"{label} (AP = {average_precision:0.2f})")
    ax.set(xlabel="Recall", ylabel="Precision", xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), aspect="equal")
    ax.set_title(f"{name}: precision-recall (test)")
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    paths.append(directory / f"{name}_pr_curves.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
    return paths


def write_misclassified(
    path: Path, records: list[dict[str, str]], predicted: dict[str, list[list[str]]], label_sets: list[str]
) -> int:
    """CSV of test rows whose predicted labels differ from the gold ones; returns the row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        header = ["id", "article_id", "text"] + [f"{n}_{kind}" for n in label_sets for kind in ("true", "predicted")]
        writer.writerow(header)  # article_id: an error is read in its article (data/test.csv has them all)
        for i, record in enumerate(records):
            gold = {n: set(filter(None, record[n].split(";"))) for n in label_sets}
            if all(gold[n] == set(predicted[n][i]) for n in label_sets):
                continue
            count += 1
            row = [record["id"], record.get("article_id", ""), record["text"]]
            for n in label_sets:
                row += [";".join(sorted(gold[n])), ";".join(predicted[n][i])]
            writer.writerow(row)
    return count
