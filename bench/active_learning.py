"""Active-learning simulation: do `topicframe suggest`'s strategies reach full-data quality with fewer labels?

    .venv/bin/python -m bench.active_learning [--seeds 5] [--batch 100] [--start 0.1] [--stop 0.62] [--jobs 2]
        [--strategies uncertainty,diversity,mixed,random] [--png docs/active_learning.png] [--no-mlflow]

The pool is the content paragraphs (role body or headline) of labels/paragraphs.csv; the score is topic
micro-F1 on the content paragraphs of labels/paragraphs_test.csv. Each seed starts from the paragraphs of
a random 10% of the training articles, then adds ``batch`` paragraphs per round chosen by the strategy
(`training.quality.suggest.choose`, the code the command runs) until ``stop`` of the pool is labelled.

The fast model (stated; not the shipped default, so that 5 seeds x 4 strategies x 34 rounds fit in
minutes; the rounds stop at 62% of the pool, just past the 60% the target is judged at): word 1-2-gram
TF-IDF (sublinear tf, min_df 2) fitted once on every training paragraph's text (unlabelled text is
available to an active learner); one-vs-rest liblinear logistic regression (C 10, balanced class
weights) for topic only, the measured set, so uncertainty is topic's margins; no article context;
fixed thresholds 0.5 (no CV per round), then the shipped decision caps (at most 2 labels, each >= half
the top score). k-means (50 clusters, MiniBatchKMeans) is fitted once per seed on the pool's TF-IDF.
"Full data" = the same model on the whole pool.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from training.bundle import LabelSetModel
from training.codebook import load_codebooks
from training.config import ClassifierConfig
from training.dataset import LabelledData, load_labelled_data
from training.estimators import build_classifier
from training.quality.suggest import STRATEGIES, choose, cluster_rows

ROOT = Path(__file__).resolve().parents[1]
SETS = ("topic",)  # the measured set; frame would double every fit and change no figure here
CONTENT = ("body", "headline")


def content_part(data: LabelledData) -> LabelledData:
    return data.subset([i for i, (role,) in enumerate(data.labels["role"]) if role in CONTENT])


class FastModel:
    """Word TF-IDF (fitted once) + one-vs-rest liblinear logistic regression per set, thresholds 0.5."""

    def __init__(self, label_names: dict[str, list[str]]):
        self.label_names = label_names
        # Plain logistic regression (no NB weighting): the model the recorded active-learning figures used.
        self.config = ClassifierConfig(type="logreg", C=10.0, class_weight="balanced", nb_weighting=0.0)

    def fit(self, X: Any, y: dict[str, np.ndarray]) -> FastModel:
        self.models = {}
        for name in SETS:
            targets = y[name]
            constant = targets.sum(axis=0) == 0  # a label with no positive yet scores 0
            classifier = build_classifier(self.config, True, 0).fit(X, targets[:, ~constant])
            self.models[name] = (classifier, constant)
        return self

    def scores(self, X: Any) -> dict[str, np.ndarray]:
        out = {}
        for name, (classifier, constant) in self.models.items():
            full = np.zeros((X.shape[0], len(constant)))
            full[:, ~constant] = classifier.predict_proba(X)
            out[name] = full
        return out

    def topic_f1(self, X: Any, y_true: np.ndarray) -> float:
        labels = self.label_names["topic"]
        rule = LabelSetModel("topic", labels, True, None, None, np.full(len(labels), 0.5), None, None, 2, 0.5)
        decided = rule.decide(self.scores(X)["topic"])
        y_pred = np.array([[label in row for label in labels] for row in decided], dtype=np.int8)
        return float(f1_score(y_true, y_pred, average="micro", zero_division=0))


def simulate(
    strategy: str,
    seed: int,
    X: Any,
    y: dict[str, np.ndarray],
    articles: list[str | None],
    X_test: Any,
    y_test: np.ndarray,
    clusters: np.ndarray,
    label_names: dict[str, list[str]],
    batch: int,
    start: float,
    stop: float,
) -> list[tuple[int, float]]:
    """(labelled paragraphs, test topic micro-F1) after every round of one strategy and seed."""
    rng = np.random.default_rng(seed)
    unique = sorted({a for a in articles if a is not None})
    first = set(rng.choice(unique, size=max(1, round(start * len(unique))), replace=False).tolist())
    labelled = np.array([a in first for a in articles])
    limit = int(stop * len(articles))
    curve = []
    while True:
        rows = np.flatnonzero(labelled)
        model = FastModel(label_names).fit(X[rows], {name: y[name][rows] for name in SETS})
        curve.append((int(labelled.sum()), model.topic_f1(X_test, y_test)))
        if labelled.sum() >= limit:
            return curve
        pool = np.flatnonzero(~labelled)
        scores = model.scores(X[pool])
        picked = choose(
            strategy,
            min(batch, limit - int(labelled.sum())),
            scores=scores,
            thresholds={name: np.full(len(label_names[name]), 0.5) for name in SETS},
            label_names=label_names,
            X=X[pool],
            candidates=np.ones(len(pool), dtype=bool),
            seed=seed * 1000 + len(curve),
            clusters=clusters[pool],
            labelled_clusters=clusters[rows],
        )
        labelled[pool[[c.index for c in picked]]] = True


def _simulate_task(task: tuple[Any, ...]) -> list[tuple[int, float]]:
    with threadpool_limits(1, user_api="blas"):
        return simulate(*task)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--start", type=float, default=0.1)
    parser.add_argument("--stop", type=float, default=0.62)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "active_learning.png")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "active_learning.json")
    parser.add_argument("--jobs", type=int, default=2, help="processes (seeds x strategies run in parallel)")
    parser.add_argument("--no-mlflow", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()

    codebooks = load_codebooks(ROOT / "labels", ["role", *SETS])
    label_names = {name: codebooks[name].label_names for name in SETS}
    train = content_part(load_labelled_data([ROOT / "labels" / "paragraphs.csv"], codebooks, min_positives=0))
    test = content_part(load_labelled_data([ROOT / "labels" / "paragraphs_test.csv"], codebooks, min_positives=0))
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, dtype=np.float32)
    X = vectorizer.fit_transform(train.texts).tocsr()
    X_test = vectorizer.transform(test.texts)
    y = {name: train.label_matrix(name, label_names[name]) for name in SETS}
    y_test = test.label_matrix("topic", label_names["topic"])
    strategies = args.strategies.split(",")

    with threadpool_limits(1, user_api="blas"):
        full = FastModel(label_names).fit(X, y).topic_f1(X_test, y_test)
        clusters = [cluster_rows(X, 50, seed) for seed in range(args.seeds)]
    print(f"pool {len(train)} content paragraphs; full-data topic micro-F1 {full:.4f}", flush=True)
    batching = (args.batch, args.start, args.stop)
    tasks = [
        (strategy, seed, X, y, train.article_ids, X_test, y_test, clusters[seed], label_names, *batching)
        for seed in range(args.seeds)
        for strategy in strategies
    ]
    curves: dict[str, list[list[tuple[int, float]]]] = {s: [] for s in strategies}
    # Seeds and strategies are independent: --jobs processes run them side by side (fork shares the matrices).
    with multiprocessing.get_context("fork").Pool(args.jobs) as workers:
        for task, curve in zip(tasks, workers.imap(_simulate_task, tasks), strict=True):
            curves[task[0]].append(curve)
            args.json.write_text(json.dumps({"partial": True, "curves": curves}) + "\n", encoding="utf-8")
            print(f"seed {task[1]} {task[0]:12s} last {curve[-1]}  ({time.perf_counter() - started:.0f} s)", flush=True)

    summary = summarise(curves, full, len(train))
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["pool"] = len(train)
    args.json.write_text(json.dumps({"summary": summary, "curves": curves}, indent=1) + "\n", encoding="utf-8")
    plot(curves, full, len(train), args.png)
    print(json.dumps(summary, indent=2))
    if not args.no_mlflow:
        log_to_mlflow(curves, summary, args)


def mean_curve(runs: list[list[tuple[int, float]]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std of F1 over seeds at each round (seeds start from different article samples: the x is
    the mean labelled count of that round)."""
    rounds = min(len(run) for run in runs)
    xs = np.array([[run[r][0] for run in runs] for r in range(rounds)], dtype=float)
    ys = np.array([[run[r][1] for run in runs] for r in range(rounds)])
    return xs.mean(axis=1), ys.mean(axis=1), ys.std(axis=1)


def summarise(curves: dict[str, list[list[tuple[int, float]]]], full: float, pool: int) -> dict[str, Any]:
    out: dict[str, Any] = {"full_data_topic_micro_f1": full, "strategies": {}}
    for strategy, runs in curves.items():
        x, mean, _ = mean_curve(runs)
        reached = np.flatnonzero(mean >= full)
        at60 = np.flatnonzero(x <= 0.6 * pool)
        out["strategies"][strategy] = {
            "labels_to_reach_full_data_f1": int(x[reached[0]]) if reached.size else None,
            "share_to_reach_full_data_f1": float(x[reached[0]] / pool) if reached.size else None,
            "f1_at_60pct": float(mean[at60[-1]]) if at60.size else None,
            "best_f1": float(mean.max()),
            "labels_at_best": int(x[mean.argmax()]),
            "final_f1": float(mean[-1]),
            "final_labels": int(x[-1]),
        }
    return out


def plot(curves: dict[str, list[list[tuple[int, float]]]], full: float, pool: int, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(8, 5))
    for strategy, runs in curves.items():
        x, mean, std = mean_curve(runs)
        ax.plot(x / pool * 100, mean, label=strategy)
        ax.fill_between(x / pool * 100, mean - std, mean + std, alpha=0.15)
    ax.axhline(full, color="grey", linestyle="--", label=f"all labels ({full:.3f})")
    ax.axvline(60, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel(f"labelled share of the pool (% of {pool} content paragraphs)")
    ax.set_ylabel("topic micro-F1 on the held-out test set")
    ax.set_title(
        f"Active learning: fast model, +100 paragraphs per round, mean ± sd of {len(next(iter(curves.values())))} seeds"
    )
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def log_to_mlflow(curves: dict[str, list[list[tuple[int, float]]]], summary: dict[str, Any], args: Any) -> None:
    import mlflow

    from training.registry import tracking_client, use_tracking_store
    from training.tracking import ensure_experiment

    use_tracking_store()
    mlflow.set_experiment(experiment_id=ensure_experiment(tracking_client(), "topicframe-active-learning"))
    with mlflow.start_run(run_name="active_learning_fast_model") as run:
        mlflow.log_params({k: str(v) for k, v in vars(args).items() if k not in ("png", "json")})
        mlflow.log_metric("full_data.topic.micro_f1", summary["full_data_topic_micro_f1"])
        for strategy, runs in curves.items():
            x, mean, _ = mean_curve(runs)
            for labelled, f1 in zip(x, mean, strict=True):
                mlflow.log_metric(f"{strategy}.topic.micro_f1", float(f1), step=int(labelled))
        mlflow.log_artifact(str(args.png))
        mlflow.log_artifact(str(args.json))
        print(f"MLflow run {run.info.run_id} in experiment 'topicframe-active-learning'")


if __name__ == "__main__":
    main()
