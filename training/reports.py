"""Human-readable outputs of an evaluation: tables, plots, misclassified rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    multilabel_confusion_matrix,
    precision_recall_curve,
)

NOTE_TAG = "mlflow.note.content"  # the run's Description in the MLflow UI

if TYPE_CHECKING:
    from training.config import RunConfig
    from training.train import TrainingResult


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


def _counts(ax: Any, matrix: np.ndarray, fontsize: float = 10) -> None:
    """Each cell's count, white on the dark cells (black on dark navy could not be read)."""
    dark = matrix.max() / 2 if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j, i, str(count), ha="center", va="center", color="white" if count > dark else "black", fontsize=fontsize
        )


def _single_label_confusion(path: Path, name: str, labels: list[str], y_true: np.ndarray, y_pred: np.ndarray) -> None:
    """One K x K matrix: which role a missed headline was read as (six 2 x 2 matrices could not say)."""
    truth, predicted = y_true.argmax(axis=1), y_pred.argmax(axis=1)
    given = y_pred.sum(axis=1) > 0  # a row with no prediction counts nowhere (single-label sets always predict)
    matrix = confusion_matrix(truth[given], predicted[given], labels=list(range(len(labels))))
    size = 1.6 + 0.6 * len(labels)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    ax.imshow(matrix, cmap="Blues")
    _counts(ax, matrix, fontsize=8)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(f"{name}: confusion matrix (test)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_label_set(
    directory: Path,
    name: str,
    labels: list[str],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray,
    multi_label: bool = True,
) -> list[Path]:
    """One PNG of confusion matrices (per label for a multi-label set, one K x K for a single-label one) and
    one of precision-recall curves."""
    directory.mkdir(parents=True, exist_ok=True)
    if not multi_label:
        _single_label_confusion(directory / f"{name}_confusion.png", name, labels, y_true, y_pred)
        return [directory / f"{name}_confusion.png", *_pr_curves(directory, name, labels, y_true, scores)]
    cols = min(len(labels), 5)
    rows = int(np.ceil(len(labels) / cols))
    paths = []

    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for ax, label, matrix in zip(axes.flat, labels, multilabel_confusion_matrix(y_true, y_pred), strict=False):
        ax.imshow(matrix, cmap="Blues")
        _counts(ax, matrix)
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
    return [*paths, *_pr_curves(directory, name, labels, y_true, scores)]


def _pr_curves(directory: Path, name: str, labels: list[str], y_true: np.ndarray, scores: np.ndarray) -> list[Path]:
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
    path = directory / f"{name}_pr_curves.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


def write_misclassified(
    path: Path,
    records: list[dict[str, str]],
    predicted: dict[str, list[list[str]]],
    label_sets: list[str],
    rows: list[int],
) -> None:
    """CSV of the test ``rows`` whose predicted labels differ from the gold ones (`run_record.misclassified_rows`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        header = ["id", "article_id", "text"] + [f"{n}_{kind}" for n in label_sets for kind in ("true", "predicted")]
        writer.writerow(header)  # article_id: an error is read in its article (data/test.csv has them all)
        for i in rows:
            record = records[i]
            row = [record["id"], record.get("article_id", ""), record["text"]]
            for n in label_sets:
                gold = sorted(filter(None, record[n].split(";")))
                row += [";".join(gold), ";".join(predicted[n][i])]
            writer.writerow(row)


def run_description(config: RunConfig, result: TrainingResult) -> str:
    """The run's description in the MLflow UI (markdown): what was trained and its headline scores."""
    v, c, d = config.vectorizer, config.classifier, config.data
    features = f"word {v.word_ngram_range[0]}-{v.word_ngram_range[1]}-grams"
    if v.char_ngram_range:
        features += f" + char {v.char_ngram_range[0]}-{v.char_ngram_range[1]}-grams"
    regularisation = f"alpha={c.alpha:g}" if c.type in ("sgd", "complement_nb") else f"C={c.C:g}"
    if c.type == "logreg" and c.nb_weighting:
        regularisation += f", nb_weighting={c.nb_weighting:g}"
    scores = ", ".join(
        f"{name} {report['micro_f1']:.3f} (cv {result.cv_reports[name]['micro_f1']:.3f})"
        for name, report in result.test.reports.items()
    )
    return (
        f"**{c.type}** ({regularisation}, class_weight={c.class_weight}) on {features}; "
        f"context neighbours {config.context.neighbours:g}, headline {config.context.headline:g}, "
        f"article {config.context.article:g}{_headline_article(config.context.headline_article)}; "
        f"{config.cv.folds}-fold CV thresholds; decision max_labels={config.decision.max_labels}, "
        f"relative_to_top={config.decision.relative_to_top:g}, at_least_one={config.decision.at_least_one}.\n\n"
        f"Data: {len(result.data.train)} training / {len(result.data.test)} test paragraphs "
        f"({result.data.split_method}) from {', '.join(d.train)}.\n\n"
        f"Test micro-F1: {scores}."
    )


def _headline_article(weight: float | dict[str, float] | None) -> str:
    """The article block's weight for headlines in the run description, when it has its own."""
    if weight is None:
        return ""
    if isinstance(weight, dict):
        return " (headlines: " + ", ".join(f"{name} {w:g}" for name, w in weight.items()) + ")"
    return f" (headlines {weight:g})"
