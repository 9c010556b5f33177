"""Role-model variants compared by leave-one-house-style-out CV on the training articles (docs/quality.md).

    .venv/bin/python -m bench.quality_experiments [--styles wire,broadsheet,...] [--set roles.from_end=false ...]

The test set's two house styles (live blog, press release) never appear in training, so the honest way to
choose role features for unseen styles is to hold out each training style in turn: fit the role model on
every other style (and the legacy articles), score the held-out style, and average role accuracy and the
exact recall of non-content roles over the styles. Only the role model is fitted (`ModelBundle` with the
role codebook alone), exactly as `topicframe train` fits it. The test set is not read.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from training.bundle import ModelBundle
from training.config import load_config
from training.train import article_layout, prepare_data

ROOT = Path(__file__).resolve().parents[1]
TRAINING_STYLES = ("wire", "broadsheet", "tabloid", "asian_daily", "newsletter", "oped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/default.yaml")
    parser.add_argument("--styles", default=",".join(TRAINING_STYLES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    # The content vectorizer is fitted but unused without content sets: word-only keeps it cheap.
    config = load_config(args.config, {**overrides, "vectorizer.char_ngram_range": None})
    prepared = prepare_data(config)
    train, role_set = prepared.train, config.roles.label_set
    codebooks = {role_set: prepared.codebooks[role_set]}
    names = codebooks[role_set].label_names
    with (ROOT / "labels" / "articles.csv").open(newline="", encoding="utf-8") as f:
        styles = {row["article_id"]: row["style"] for row in csv.DictReader(f)}
    per_style = {}
    started = time.time()
    with threadpool_limits(1, user_api="blas"):
        for style in args.styles.split(","):
            held = [i for i, a in enumerate(train.article_ids) if styles.get(a or "") == style]
            kept = [i for i, a in enumerate(train.article_ids) if styles.get(a or "") != style]
            fit_part, held_part = train.subset(kept), train.subset(held)
            y = fit_part.label_matrix(role_set, names)
            bundle = ModelBundle(config, codebooks).fit(fit_part.texts, {role_set: y}, layout=article_layout(fit_part))
            predicted = np.array(bundle.role_scores(held_part.texts, article_layout(held_part)).argmax(axis=1))
            truth = held_part.label_matrix(role_set, names).argmax(axis=1)
            non_content = ~np.isin(truth, [names.index(r) for r in config.roles.content])
            per_style[style] = {
                "accuracy": round(float((predicted == truth).mean()), 4),
                "non_content_recall": round(float((predicted[non_content] == truth[non_content]).mean()), 4),
            }
            print(style, per_style[style], flush=True)
    summary = {
        "overrides": overrides,
        "mean_accuracy": round(float(np.mean([s["accuracy"] for s in per_style.values()])), 4),
        "mean_non_content_recall": round(float(np.mean([s["non_content_recall"] for s in per_style.values()])), 4),
        "per_style": per_style,
        "seconds": round(time.time() - started),
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
