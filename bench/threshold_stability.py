"""How steady are the tuned thresholds, what does the plateau tolerance cost, and does the top-label fallback pay?

(docs/quality.md)

    .venv/bin/python -m bench.threshold_stability [--config experiments/default.yaml]
        [--tolerances 0,0.0025,0.005,0.01,0.02] [--repeats 5] [--resamples 20] [--cache /tmp/oof.npz]

`topicframe train` tunes each label's threshold on grouped out-of-fold scores of the training articles. This
computes those scores once, exactly as training does (`training.train.fold_scorer`, the configured folds), and
then, per value of `thresholds.f1_tolerance`, without reading the test set:

- **inner CV**: the training articles split into 5 groups (seeded, repeated); thresholds tuned on four groups'
  out-of-fold scores, the decision rule applied to the fifth; micro-F1 over the content paragraphs, pooled
  over the five groups; without and with the top-label fallback (`decision.at_least_one`). This is what chose
  the tolerance, and it shows per set what `at_least_one: tuned` decides in training.
- **steadiness**: thresholds tuned on bootstrap resamples of the training articles; the standard deviation
  of each label's threshold across resamples (mean over labels), and how many content paragraphs change
  labels between two resamples' thresholds (mean over pairs of consecutive resamples), without the fallback.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from training.config import RunConfig, load_config
from training.evaluation import indicator, out_of_fold_scores
from training.label_set import LabelSetModel, decision_settings
from training.machine import labels_fitted_in_threads, usable_cores
from training.thresholds import tune_thresholds
from training.train import PreparedData, fold_scorer, prepare_data

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/default.yaml")
    parser.add_argument("--tolerances", default="0,0.0025,0.005,0.01,0.02")
    parser.add_argument("--repeats", type=int, default=5, help="inner-CV repeats (different article groupings)")
    parser.add_argument("--resamples", type=int, default=20, help="bootstrap resamples for steadiness")
    parser.add_argument("--cache", type=Path, help="keep the out-of-fold scores here (reused when present)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "threshold_stability.json")
    args = parser.parse_args()
    config = load_config(args.config)
    prepared = prepare_data(config)
    started = time.time()
    oof = out_of_fold(config, prepared, args.cache)
    oof_seconds = round(time.time() - started, 1)
    train = prepared.train
    content = np.isin([row[0] for row in train.labels[config.roles.label_set]], config.roles.content)
    articles = np.array([a or f"row-{i}" for i, a in enumerate(train.article_ids)])[content]
    results: dict[str, dict[str, dict[str, float]]] = {}
    for name, codebook in prepared.codebooks.items():
        if not codebook.multi_label or name == config.roles.label_set:
            continue
        labels = codebook.label_names
        set_oof = OutOfFold(labels, train.label_matrix(name, labels)[content], oof[name][content], articles)
        results[name] = {}
        for tolerance in (float(t) for t in args.tolerances.split(",")):
            figures = {
                **inner_cv(config, set_oof, tolerance, args.repeats),
                **steadiness(config, set_oof, tolerance, args.resamples),
            }
            results[name][str(tolerance)] = figures
            print(name, tolerance, figures, flush=True)
    report = {
        "config": args.config,
        "content_paragraphs": int(content.sum()),
        "articles": len(set(articles)),
        "out_of_fold_seconds": oof_seconds,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    table = markdown(report)
    args.out.with_suffix(".md").write_text(
        "# Threshold tolerance, the top-label fallback and steadiness\n\n`python -m bench.threshold_stability` — "
        f"{report['content_paragraphs']} content paragraphs in {report['articles']} training articles; "
        f"out-of-fold scores {oof_seconds} s.\n\n" + table + "\n",
        encoding="utf-8",
    )
    print(table)


def out_of_fold(config: RunConfig, prepared: PreparedData, cache: Path | None) -> dict[str, np.ndarray]:
    if cache and cache.exists():
        with np.load(cache) as saved:
            return {name: saved[name] for name in saved.files}
    names = {name: cb.label_names for name, cb in prepared.codebooks.items()}
    with labels_fitted_in_threads(usable_cores()):
        oof = out_of_fold_scores(
            prepared.train, names, config.cv.folds, config.seed, fold_scorer(config, prepared.codebooks)
        )
    if cache:
        np.savez_compressed(cache, **oof)  # type: ignore[arg-type]  # numpy stubs: allow_pickle vs **arrays
    return oof


def decider(
    config: RunConfig, name: str, labels: list[str], thresholds: np.ndarray, at_least_one: bool = False
) -> LabelSetModel:
    """The shipped decision rule (thresholds, the caps, the top-label fallback) without a fitted classifier."""
    settings = {**decision_settings(config.decision, multi_label=True), "at_least_one": at_least_one}
    return LabelSetModel(name, labels, True, classifier=None, weights=None, thresholds=thresholds, **settings)


@dataclass
class OutOfFold:
    """One label set's out-of-fold scores on the content paragraphs, their true labels and their articles."""

    labels: list[str]
    y: np.ndarray
    scores: np.ndarray
    articles: np.ndarray


def inner_cv(config: RunConfig, oof: OutOfFold, tolerance: float, repeats: int) -> dict[str, float]:
    labels, y, scores, articles = oof.labels, oof.y, oof.scores, oof.articles
    unique = np.unique(articles)
    f1s: dict[bool, list[float]] = {False: [], True: []}  # without / with the top-label fallback
    for repeat in range(repeats):
        group_of = dict(zip(unique, np.random.default_rng(repeat).permutation(len(unique)) % 5, strict=True))
        group = np.array([group_of[a] for a in articles])
        predicted = {at_least_one: np.zeros_like(y) for at_least_one in f1s}
        for held in range(5):
            tuned_on, scored = group != held, group == held
            # One tuning per fold; the fallback only changes how the held-out group is decided.
            thresholds = tune_thresholds(y[tuned_on], scores[tuned_on], f1_tolerance=tolerance)
            for at_least_one, rows in predicted.items():
                decided = decider(config, "inner", labels, thresholds, at_least_one).decide(scores[scored])
                rows[scored] = indicator(decided, labels)
        for at_least_one, rows in predicted.items():
            f1s[at_least_one].append(float(f1_score(y, rows, average="micro", zero_division=0)))
    return {
        "inner_cv_micro_f1": round(float(np.mean(f1s[False])), 4),
        "inner_cv_sd": round(float(np.std(f1s[False])), 4),
        "inner_cv_micro_f1_top_label_fallback": round(float(np.mean(f1s[True])), 4),
    }


def steadiness(config: RunConfig, oof: OutOfFold, tolerance: float, resamples: int) -> dict[str, float]:
    labels, y, scores, articles = oof.labels, oof.y, oof.scores, oof.articles
    unique = np.unique(articles)
    rows_of = {a: np.flatnonzero(articles == a) for a in unique}
    rng = np.random.default_rng(0)
    tuned, decided = [], []
    for _ in range(resamples):
        rows = np.concatenate([rows_of[a] for a in rng.choice(unique, size=len(unique), replace=True)])
        thresholds = tune_thresholds(y[rows], scores[rows], f1_tolerance=tolerance)
        tuned.append(thresholds)
        decided.append(indicator(decider(config, "resample", labels, thresholds).decide(scores), labels))
    changed = [float(np.any(a != b, axis=1).mean()) for a, b in itertools.pairwise(decided)]
    return {
        "threshold_sd": round(float(np.std(tuned, axis=0).mean()), 4),
        "paragraphs_relabelled": round(float(np.mean(changed)), 4),
    }


def markdown(report: dict) -> str:
    lines = [
        "| label set | f1_tolerance | inner-CV micro-F1 (mean ± sd) | with the top-label fallback | threshold sd "
        "| paragraphs relabelled |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, by_tolerance in report["results"].items():
        for tolerance, f in by_tolerance.items():
            lines.append(
                f"| {name} | {tolerance} | {f['inner_cv_micro_f1']:.4f} ± {f['inner_cv_sd']:.4f} | "
                f"{f['inner_cv_micro_f1_top_label_fallback']:.4f} | {f['threshold_sd']:.4f} | "
                f"{f['paragraphs_relabelled']:.1%} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
