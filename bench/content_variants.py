"""Topic and frame model variants compared on the same grouped folds of the training articles (docs/quality.md).

    .venv/bin/python -m bench.content_variants [--variants shipped,content_vocabulary,...] [--folds 3]

Each variant changes one thing in how the topic and frame classifiers see or combine the paragraphs; none is in
the package. Per fold (grouped by article, `training.evaluation.cv_folds`), every variant fits topic and frame on
the training part's content paragraphs, with the context blocks built from the true roles, and scores the held-out
articles. The out-of-fold scores are then judged as `bench.threshold_stability` judges a tolerance (its
`inner_cv`: thresholds tuned on four groups of articles, the shipped decision rule applied to the fifth, three
repeats), so no variant is scored on the scores its thresholds were tuned on. The test set is never read.

Variants:
- ``shipped``: experiments/default.yaml as it is.
- ``content_vocabulary``: the TF-IDF vocabulary and idf fitted on the content paragraphs only.
- ``names_masked``: capitalised words that do not start a sentence (people, places, bodies) replaced by one
  token before the topic/frame vectorizer reads them — does the model lean on the names of training events?
- ``char_across_words``: character n-grams over the whole text (scikit-learn's ``char``) instead of within
  words (``char_wb``), so "trade deal" also gives "e de".
- ``word_1_3``: word 1-3-grams instead of 1-2.
- ``no_class_weights``: ``class_weight`` None instead of balanced.
- ``averaged_with_C1``: the shipped scores averaged with the same model at C 1.
- ``averaged_with_softmax``: the shipped scores averaged with one multinomial logistic regression over the
  set's labels plus "none" (C 10; a paragraph with k labels counted once per label, weight 1/k), fastText's way.
- ``disputed_half_weight`` / ``disputed_zero_weight`` / ``disputed_soft``: each label's logistic regression fitted
  with sample weight 0.5 (or 0; or twice, with each label at 0.5: a soft target) on the rows whose decision for
  that label the two independent annotation passes disputed (labels/annotations/train_pass1.csv and
  train_pass2.csv: one had the label, the other not; the label stays the adjudicated one), 1 elsewhere —
  learning from annotator disagreement.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from bench.threshold_stability import OutOfFold, inner_cv
from training.bundle import ModelBundle
from training.config import RunConfig, load_config
from training.estimators import build_classifier, build_vectorizer
from training.evaluation import cv_folds
from training.features import sorted_csr
from training.train import article_layout, prepare_data

ROOT = Path(__file__).resolve().parents[1]
SETS = ("topic", "frame")
VARIANTS = (
    "shipped",
    "content_vocabulary",
    "names_masked",
    "char_across_words",
    "word_1_3",
    "no_class_weights",
    "averaged_with_C1",
    "averaged_with_softmax",
    "disputed_half_weight",
    "disputed_zero_weight",
    "disputed_soft",
)
# The weight of a disputed decision; "soft": once with each label, at 0.5 each (a soft target of 0.5).
DISPUTED_WEIGHT: dict[str, float | str] = {
    "disputed_half_weight": 0.5,
    "disputed_zero_weight": 0.0,
    "disputed_soft": "soft",
}
PASSES = [ROOT / "labels" / "annotations" / f"train_pass{k}.csv" for k in (1, 2)]
# A capitalised word not at the start of the text or of a sentence, quotation or list.
NAME = re.compile(r"(?<!^)(?<![.!?:\"“]\s)(?<![.!?:\"“])\b[A-Z][a-z]+(?:['’-][A-Za-z]+)*\b")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/default.yaml")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "content_variants.json")
    args = parser.parse_args()
    variants = args.variants.split(",")
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"--variants: unknown {', '.join(unknown)}; expected some of {', '.join(VARIANTS)}")
    config = load_config(args.config)
    prepared = prepare_data(config)
    data, codebooks = prepared.train, prepared.codebooks
    names = {name: codebooks[name].label_names for name in SETS}
    layout = article_layout(data)
    roles = [row[0] for row in data.labels[config.roles.label_set]]
    content = np.isin(roles, config.roles.content)
    y = {name: data.label_matrix(name, names[name]) for name in SETS}
    disputed = disputed_decisions(data.ids, names) if any(v in DISPUTED_WEIGHT for v in variants) else {}
    texts = list(data.texts)
    oof = {(variant, name): np.zeros(y[name].shape) for variant in variants for name in SETS}

    started = time.time()
    all_names = {name: cb.label_names for name, cb in codebooks.items()}
    for fold, (train, held) in enumerate(cv_folds(data, all_names, args.folds, config.seed)):
        train_content = train[content[train]]
        features: dict[str, Any] = {}
        for variant in variants:
            X = fold_features(variant, config, codebooks, texts, layout, roles, train, train_content, features)
            for name in SETS:
                if variant in DISPUTED_WEIGHT:
                    weight = DISPUTED_WEIGHT[variant]
                    oof[variant, name][held] = disputed_scores(
                        config, X, y[name], disputed[name], weight, train_content, held
                    )
                    continue
                oof[variant, name][held] = fold_scores(variant, config, X, y[name], train_content, held, features, name)
            print(f"fold {fold} {variant}: {X.shape[1]} columns, {time.time() - started:.0f} s", flush=True)

    articles = np.array([a or f"row-{i}" for i, a in enumerate(data.article_ids)])[content]
    results = {
        variant: {
            name: inner_cv(
                config,
                OutOfFold(names[name], y[name][content], oof[variant, name][content], articles),
                config.thresholds.f1_tolerance,
                repeats=3,
            )
            for name in SETS
        }
        for variant in variants
    }
    report = {"config": args.config, "folds": args.folds, "seconds": round(time.time() - started), "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    # Training keeps the top-label fallback for a set when it raises out-of-fold micro-F1 (`at_least_one: tuned`),
    # so each set is judged with the better of the two, as the shipped model would be.
    lines = ["| variant | topic inner-CV micro-F1 | frame inner-CV micro-F1 |", "|---|---:|---:|"]
    for variant, by_set in results.items():
        cells = [f"{decided_f1(by_set[n]):.4f} (sd {by_set[n]['inner_cv_sd']:.4f})" for n in SETS]
        lines.append(f"| {variant} | {' | '.join(cells)} |")
    table = "\n".join(lines)
    args.out.with_suffix(".md").write_text(
        f"# Topic and frame variants\n\n`python -m bench.content_variants` — {args.folds} grouped folds, "
        f"{int(content.sum())} content paragraphs, {report['seconds']} s. Each figure is the better of without and "
        "with the top-label fallback; sd: across the inner-CV repeats, of the figure without the fallback.\n\n"
        f"{table}\n",
        encoding="utf-8",
    )
    print(table)


def decided_f1(figures: dict[str, float]) -> float:
    return max(figures["inner_cv_micro_f1"], figures["inner_cv_micro_f1_top_label_fallback"])


def fold_features(variant, config: RunConfig, codebooks, texts, layout, roles, train, train_content, cache) -> Any:
    """The content features of every row for one variant, the vectorizer fitted on the fold's training rows."""
    shared = variant in ("shipped", "no_class_weights", "averaged_with_C1", "averaged_with_softmax", *DISPUTED_WEIGHT)
    if shared and "shipped" in cache:
        return cache["shipped"]
    vectorizer_config = config.vectorizer
    if variant == "word_1_3":
        vectorizer_config = vectorizer_config.model_copy(update={"word_ngram_range": [1, 3]})
    bundle = ModelBundle(config, codebooks)
    bundle.vectorizer_ = build_vectorizer(vectorizer_config)
    if variant == "char_across_words":
        bundle.vectorizer_.transformer_list[1][1].set_params(analyzer="char")
    if variant == "names_masked":
        texts = [NAME.sub("Name", text) for text in texts]
    fitted_on = train_content if variant == "content_vocabulary" else train
    bundle.vectorizer_.fit([texts[i] for i in fitted_on])
    own = sorted_csr(bundle.vectorizer_.transform(texts))
    X = bundle.content_features(texts, layout, roles, own=own).tocsr()
    if shared:
        cache["shipped"] = X
    return X


def fold_scores(variant, config: RunConfig, X, y, train_content, held, cache, name) -> np.ndarray:
    """One set's scores on the held-out rows (the shipped variant's are computed first and reused)."""
    classifier_config = config.classifier
    if variant == "no_class_weights":
        classifier_config = classifier_config.model_copy(update={"class_weight": None})
    if variant in (
        "shipped",
        "no_class_weights",
        "content_vocabulary",
        "names_masked",
        "char_across_words",
        "word_1_3",
    ):
        scores = build_classifier(classifier_config, True, config.seed).fit(X[train_content], y[train_content])
        scores = scores.predict_proba(X[held])
        if variant == "shipped":
            cache["shipped", name] = scores
        return scores
    if ("shipped", name) not in cache:
        raise SystemExit(f"--variants: {variant} averages with the shipped model; list shipped first")
    if variant == "averaged_with_C1":
        other = build_classifier(classifier_config.model_copy(update={"C": 1.0}), True, config.seed)
        other_scores = other.fit(X[train_content], y[train_content]).predict_proba(X[held])
    else:
        other_scores = softmax_scores(X, y, train_content, held, C=10.0)
    return 0.5 * (cache["shipped", name] + other_scores)


def disputed_decisions(ids: list[str], names: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Per set, (rows x labels): whether the two annotation passes disagreed on that label for that row (False for
    rows without two passes)."""
    passes = []
    for path in PASSES:
        with path.open(newline="", encoding="utf-8") as f:
            passes.append({row["id"]: row for row in csv.DictReader(f)})
    out = {}
    for name, labels in names.items():
        matrix = np.zeros((len(ids), len(labels)), dtype=bool)
        for i, row_id in enumerate(ids):
            if row_id in passes[0] and row_id in passes[1]:
                a, b = ({x for x in p[row_id][name].split(";") if x} for p in passes)
                matrix[i] = [label in a ^ b for label in labels]
        out[name] = matrix
        print(f"{name}: {int(matrix.sum())} disputed decisions in {int(matrix.any(axis=1).sum())} rows", flush=True)
    return out


def disputed_scores(config: RunConfig, X, y, disputed, weight, train_content, held) -> np.ndarray:
    """The shipped one-vs-rest model, each label fitted with its disputed decisions at ``weight`` (or, for
    "soft", twice: with the adjudicated label and with the other, at 0.5 each)."""
    base = build_classifier(config.classifier, True, config.seed).estimator
    Xt, yt, dt = X[train_content], y[train_content], disputed[train_content]

    def one_label(j: int) -> np.ndarray:
        if weight == "soft":
            rows = np.flatnonzero(dt[:, j])
            X_fit = sp.vstack([Xt, Xt[rows]], format="csr")
            y_fit = np.concatenate([yt[:, j], 1 - yt[rows, j]])
            w_fit = np.concatenate([np.where(dt[:, j], 0.5, 1.0), np.full(len(rows), 0.5)])
        else:
            keep = ~dt[:, j] | (weight > 0)  # liblinear: a zero weight is leaving the row out
            X_fit, y_fit = Xt[keep], yt[keep, j]
            w_fit = np.where(dt[keep, j], weight, 1.0)
        model = clone(base).fit(X_fit, y_fit, sample_weight=w_fit)
        return model.predict_proba(X[held])[:, 1]

    columns = Parallel(n_jobs=2, prefer="threads")(delayed(one_label)(j) for j in range(y.shape[1]))
    return np.column_stack(columns)


def softmax_scores(X, y, train_content, held, C: float) -> np.ndarray:
    """One multinomial model over the labels plus "none"; each (paragraph, label) pair a sample of weight 1/k."""
    none = y.shape[1]
    pairs = [(i, j, 1.0 / len(labels)) for i in train_content for labels in [np.flatnonzero(y[i])] for j in labels]
    pairs += [(i, none, 1.0) for i in train_content if not y[i].any()]
    rows, classes, weights = zip(*pairs, strict=True)
    model = LogisticRegression(C=C, max_iter=300).fit(X[list(rows)], classes, sample_weight=weights)
    return model.predict_proba(X[held])[:, :none]


if __name__ == "__main__":
    main()
