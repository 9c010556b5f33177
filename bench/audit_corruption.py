"""How well `topicframe audit` finds wrong labels: corrupt a copy of the corpus, see what it flags.

    .venv/bin/python -m bench.audit_corruption [--config experiments/default.yaml] [--set cv.folds=3]
        [--data labels/paragraphs.csv] [--rate 0.05] [--seed 0] [--out bench/results/audit_corruption.md]

A seeded ``rate`` share of the content rows (body, headline: the rows that carry topics and frames) get
one label set (topic or frame, at random) corrupted in one of three ways, chosen at random: drop a given
label, add a label the row does not have, or swap a given label for one it does not have. Roles are not
corrupted (a changed role would make the row invalid or trivially flagged). The audit then runs on the
corrupted copy exactly as the command does (grouped out-of-fold scores from the config, cleanlab), and the
rows it flags on topic or frame are scored against the corrupted ones:

- cleanlab's own flag set (``find_label_issues``, ``prune_by_noise_rate``): precision and recall;
- the ranking (flagged first, then lowest label quality): precision at the depth where recall first reaches
  0.70, recall at the deepest depth whose precision is still >= 0.50, and both at depth = corrupted rows.

The corpus's own label noise counts against precision here: a flagged row that was not corrupted may
still be a real error (the review of the uncorrupted corpus in labels/CHANGELOG.md finds such rows).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.config import RunConfig, load_config, parse_override
from training.dataset import LabelledData
from training.quality.audit import AuditResult, audit_scores, content_mask, find_issues, load_audit_data

ROOT = Path(__file__).resolve().parents[1]
CORRUPTED_SETS = ("topic", "frame")


@dataclass
class Corruption:
    row: int
    label_set: str
    kind: str  # drop | add | swap
    before: tuple[str, ...]
    after: tuple[str, ...]


def corrupt(
    data: LabelledData, config: RunConfig, label_names: dict[str, list[str]], rate: float, seed: int
) -> tuple[LabelledData, list[Corruption]]:
    """A copy of ``data`` with ``rate`` of its content rows' topic or frame labels corrupted (seeded)."""
    rng = np.random.default_rng(seed)
    content = np.flatnonzero(content_mask(config, data))
    sets = [name for name in CORRUPTED_SETS if name in data.labels]
    chosen = rng.choice(content, size=max(1, round(rate * len(content))), replace=False)
    labels = {name: list(rows) for name, rows in data.labels.items()}
    changes = []
    for row in sorted(chosen.tolist()):
        name = str(rng.choice(sets))
        given = list(labels[name][row])
        absent = [label for label in label_names[name] if label not in given]
        kinds = [k for k in ("drop", "add", "swap") if (k == "add" or given) and (k == "drop" or absent)]
        kind = str(rng.choice(kinds))
        after = list(given)
        if kind in ("drop", "swap"):
            after.remove(str(rng.choice(given)))
        if kind in ("add", "swap"):
            after.append(str(rng.choice(absent)))
        labels[name][row] = tuple(after)
        changes.append(Corruption(row, name, kind, tuple(given), tuple(after)))
    copy = LabelledData(data.texts, labels, data.ids, data.article_ids, data.splits, data.sources)
    return copy, changes


def detection_figures(result: AuditResult, corrupted_rows: list[int]) -> dict[str, Any]:
    """Precision and recall of the flagged rows (topic/frame flags) against the corrupted rows."""
    truth = np.zeros(len(result.data), dtype=bool)
    truth[corrupted_rows] = True
    sets = [result.sets[name] for name in CORRUPTED_SETS if name in result.sets]
    flagged = np.any([s.flagged for s in sets], axis=0)
    quality = np.min([s.quality for s in sets], axis=0)
    order = np.lexsort((quality, ~flagged))
    hits = np.cumsum(truth[order])
    depth = np.arange(1, len(order) + 1)
    precision_at, recall_at = hits / depth, hits / truth.sum()
    reach = np.flatnonzero(recall_at >= 0.70)
    precise = np.flatnonzero(precision_at >= 0.50)
    k = int(truth.sum())
    return {
        "rows": len(result.data),
        "corrupted": k,
        "flagged": int(flagged.sum()),
        "flagged_precision": float((flagged & truth).sum() / max(1, flagged.sum())),
        "flagged_recall": float((flagged & truth).sum() / k),
        "precision_at_recall_0.70": float(precision_at[reach[0]]) if reach.size else None,
        "depth_at_recall_0.70": int(reach[0] + 1) if reach.size else None,
        "recall_at_precision_0.50": float(recall_at[precise[-1]]) if precise.size else 0.0,
        "depth_at_precision_0.50": int(precise[-1] + 1) if precise.size else 0,
        "precision_at_k": float(precision_at[k - 1]),
        "recall_at_k": float(recall_at[k - 1]),
    }


def recall_by_kind(result: AuditResult, changes: list[Corruption]) -> dict[str, float]:
    flagged = np.any([result.sets[n].flagged for n in CORRUPTED_SETS if n in result.sets], axis=0)
    kinds = sorted({c.kind for c in changes})
    return {kind: float(np.mean([flagged[c.row] for c in changes if c.kind == kind])) for kind in kinds}


def run(config: RunConfig, rate: float, seed: int) -> dict[str, Any]:
    codebooks, data = load_audit_data(config)
    label_names = {name: cb.label_names for name, cb in codebooks.items()}
    corrupted, changes = corrupt(data, config, label_names, rate, seed)
    started = time.perf_counter()
    oof = audit_scores(config, codebooks, corrupted, on_fold=lambda: print("  fold done", flush=True))
    result = find_issues(config, codebooks, corrupted, oof)
    figures = detection_figures(result, [c.row for c in changes])
    figures["recall_by_kind"] = recall_by_kind(result, changes)
    figures["seconds"] = round(time.perf_counter() - started, 1)
    return figures


def markdown(figures: dict[str, Any], command: str, rate: float, seed: int) -> str:
    f = figures

    def pct(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f}"

    kinds = ", ".join(f"{k} {v:.2f}" for k, v in f["recall_by_kind"].items())
    return "\n".join(
        [
            "# Label audit on a corrupted corpus",
            "",
            f"`{command}` — {f['rows']} rows, {f['corrupted']} corrupted ({rate:.0%} of content rows, seed {seed}), "
            f"{f['seconds']} s for the out-of-fold scores and cleanlab.",
            "",
            "| measure | precision | recall | rows |",
            "|---|---:|---:|---:|",
            f"| cleanlab flag set (topic or frame) | {pct(f['flagged_precision'])} | {pct(f['flagged_recall'])} "
            f"| {f['flagged']} |",
            f"| ranking, top {f['corrupted']} (= corrupted) | {pct(f['precision_at_k'])} | {pct(f['recall_at_k'])} "
            f"| {f['corrupted']} |",
            f"| ranking, first depth with recall ≥ 0.70 | {pct(f['precision_at_recall_0.70'])} | ≥ 0.70 "
            f"| {f['depth_at_recall_0.70']} |",
            f"| ranking, deepest depth with precision ≥ 0.50 | ≥ 0.50 | {pct(f['recall_at_precision_0.50'])} "
            f"| {f['depth_at_precision_0.50']} |",
            "",
            f"Recall of the flag set by kind of corruption: {kinds}.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--data", action="append", default=None)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "audit_corruption.md")
    args = parser.parse_args()
    overrides = dict(parse_override(item) for item in args.overrides)
    if args.data:
        overrides["data.train"] = args.data
    config = load_config(args.config, overrides)
    figures = run(config, args.rate, args.seed)
    command = "python -m bench.audit_corruption " + " ".join(
        [f"--config {args.config}"] * bool(args.config)
        + [f"--data {d}" for d in args.data or []]
        + [f"--set {o}" for o in args.overrides]
    )
    text = markdown(figures, command.strip(), args.rate, args.seed)
    print(text)
    print(json.dumps(figures, indent=2))
    args.out.write_text(text + "\n```json\n" + json.dumps(figures, indent=2) + "\n```\n", encoding="utf-8")


if __name__ == "__main__":
    main()
