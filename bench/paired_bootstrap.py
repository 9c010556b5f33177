"""Is one registered model better than another on the held-out test, or is the gap noise?

    .venv/bin/python -m bench.paired_bootstrap BASELINE_URI OTHER_URI [OTHER_URI ...] [--resamples 2000]

Each argument is an MLflow tracking URI (``sqlite:////abs/mlflow.db`` or ``http://…``) whose
``models:/topicframe@champion`` is loaded (digest-checked, as the service does) and run on
``labels/paragraphs_test.csv`` as articles. Per label set it prints each model's micro-F1 and, for every model
after the first, the difference to the first with a 95 % interval from a paired bootstrap over test *articles*
(paragraphs of one article are not independent, so whole articles are resampled, the same ones for both models).
An interval that holds zero means the test cannot tell the two apart.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from training.bundle import ModelBundle
from training.codebook import load_codebooks
from training.dataset import LabelledData, load_labelled_data
from training.features import ArticleLayout
from training.registry import ModelRef, load_model, tracking_client

LABELS = Path(__file__).resolve().parent.parent / "labels"
TEST = LABELS / "paragraphs_test.csv"
LABEL_SETS = ("topic", "frame")


def load_test(path: Path = TEST) -> LabelledData:
    """The held-out test as the CLI reads it: the same validation, rows in article order as training scores them."""
    return load_labelled_data([path], load_codebooks(LABELS), min_positives=0)


def store_model(model_uri: str, tracking_uri: str) -> tuple[ModelBundle, ModelRef]:
    """``model_uri`` from the store at ``tracking_uri``, digest-checked as the service does, through a download
    cache of its own: every store's first model is version 1, so a shared cache would mix stores up."""
    with tempfile.TemporaryDirectory(prefix="topicframe-bench-") as cache:
        return load_model(model_uri, Path(cache), None, tracking_client(tracking_uri))


def article_counts(predicted: list[set[str]], gold: list[set[str]], articles: list[str | None]) -> np.ndarray:
    """(articles x 3): true positives, false positives and false negatives summed per article, in sorted order."""
    order = {a: i for i, a in enumerate(sorted(set(map(str, articles))))}
    counts = np.zeros((len(order), 3))
    for p, g, a in zip(predicted, gold, articles, strict=True):
        counts[order[str(a)]] += (len(p & g), len(p - g), len(g - p))
    return counts


def micro_f1(counts: np.ndarray) -> np.ndarray:
    """Micro-F1 from summed (tp, fp, fn) on the last axis."""
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    return 2 * tp / np.maximum(2 * tp + fp + fn, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracking_uris", nargs="+", help="the baseline's store first, then the others")
    parser.add_argument("--model", default="models:/topicframe@champion")
    parser.add_argument("--test", type=Path, default=TEST)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    test = load_test(args.test)
    texts, articles = test.texts, test.article_ids
    layout = ArticleLayout.from_article_ids(articles)
    gold = {s: [set(labels) for labels in test.labels[s]] for s in LABEL_SETS}

    counts: dict[str, dict[str, np.ndarray]] = {s: {} for s in LABEL_SETS}
    for uri in args.tracking_uris:
        bundle, _ = store_model(args.model, uri)
        predicted = bundle.predict(texts, label_sets=list(LABEL_SETS), layout=layout)
        for s in LABEL_SETS:
            counts[s][uri] = article_counts([set(p) for p in predicted[s]], gold[s], articles)

    n_articles = len(set(articles))
    samples = np.random.default_rng(args.seed).integers(0, n_articles, size=(args.resamples, n_articles))
    baseline = args.tracking_uris[0]
    print(f"{len(texts)} test paragraphs in {n_articles} articles; {args.resamples} paired resamples of articles")
    for s in LABEL_SETS:
        base = counts[s][baseline]
        print(f"{s}: {baseline} micro-F1 {micro_f1(base.sum(0)):.4f}")
        for uri in args.tracking_uris[1:]:
            other = counts[s][uri]
            diff = micro_f1(other[samples].sum(1)) - micro_f1(base[samples].sum(1))
            low, high = np.percentile(diff, [2.5, 97.5])
            gap = micro_f1(other.sum(0)) - micro_f1(base.sum(0))
            print(
                f"{s}: {uri} micro-F1 {micro_f1(other.sum(0)):.4f}, difference {gap:+.4f} "
                f"[{low:+.4f}, {high:+.4f}], resamples at or below zero {np.mean(diff <= 0):.1%}"
            )


if __name__ == "__main__":
    main()
