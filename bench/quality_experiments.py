"""Role-model variants compared by leave-one-house-style-out CV on the training articles (docs/quality.md).

    .venv/bin/python -m bench.quality_experiments [--styles wire,broadsheet,...] [--set KEY=VALUE ...] [--on-test]

The test set's two house styles (live blog, press release) never appear in training, so the honest way to
choose role features for unseen styles is to hold out each training style in turn: fit the role model on
every other style (and the legacy articles), score the held-out style, and average role accuracy and the
exact recall of non-content roles over the styles. Only the role model is fitted (`ModelBundle` with the
role codebook alone), exactly as `topicframe train` fits it. The test set is not read, except with
``--on-test``: the role model fitted on every training article, scored on the test set (to confirm a choice).
Each figure comes twice: on whole articles, and on excerpts of three consecutive paragraphs scored as texts of
their own (what a user pasting a few paragraphs sends).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from pathlib import Path

import numpy as np
import yaml
from threadpoolctl import threadpool_limits

from training.bundle import ModelBundle
from training.config import load_config
from training.features import ArticleLayout
from training.train import article_layout, prepare_data

ROOT = Path(__file__).resolve().parents[1]
# The six styles the test set also has (comparable across corpus versions); the corpus now has more.
TRAINING_STYLES = ("wire", "broadsheet", "tabloid", "asian_daily", "newsletter", "oped")
HELD_OUT_STYLES = ("liveblog", "press_release")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/default.yaml")
    parser.add_argument("--styles", default=",".join(TRAINING_STYLES))
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    parser.add_argument("--on-test", action="store_true", help="fit on all training articles, score the test set")
    args = parser.parse_args()
    overrides = {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in args.set)}
    # The content vectorizer is fitted but unused without content sets: word-only keeps it cheap.
    # Without content sets, a per-set article weight (`context.headline_article: {topic: ...}`) names a set the
    # role-only bundle does not have, so it is dropped (it never touches the role model).
    config = load_config(
        args.config, {"context.headline_article": None, **overrides, "vectorizer.char_ngram_range": None}
    )
    prepared = prepare_data(config)
    train, role_set = prepared.train, config.roles.label_set
    codebooks = {role_set: prepared.codebooks[role_set]}
    names = codebooks[role_set].label_names
    with (ROOT / "labels" / "articles.csv").open(newline="", encoding="utf-8") as f:
        styles = {row["article_id"]: row["style"] for row in csv.DictReader(f)}
    per_style = {}
    started = time.time()
    with threadpool_limits(1, user_api="blas"):
        if args.on_test:  # confirmation only, after the choice was made on the style-out CV
            fitted = fit_roles(config, codebooks, train)
            test = prepared.test
            for scope, keep in (
                ("all test articles", lambda s: True),
                ("held-out styles", lambda s: s in HELD_OUT_STYLES),
                ("styles seen in training", lambda s: s not in HELD_OUT_STYLES),
            ):
                rows = [i for i, a in enumerate(test.article_ids) if keep(styles.get(a or ""))]
                print(
                    scope, len(rows), role_figures(fitted, test.subset(rows), names, config.roles.content), flush=True
                )
            return
        for style in args.styles.split(","):
            held = [i for i, a in enumerate(train.article_ids) if styles.get(a or "") == style]
            kept = [i for i, a in enumerate(train.article_ids) if styles.get(a or "") != style]
            fitted = fit_roles(config, codebooks, train.subset(kept))
            per_style[style] = role_figures(fitted, train.subset(held), names, config.roles.content)
            print(style, per_style[style], flush=True)
    summary = {
        "overrides": overrides,
        "mean_excerpt_accuracy": round(float(np.mean([s["excerpt_accuracy"] for s in per_style.values()])), 4),
        "mean_excerpt_content_kept": round(float(np.mean([s["excerpt_content_kept"] for s in per_style.values()])), 4),
        "mean_accuracy": round(float(np.mean([s["accuracy"] for s in per_style.values()])), 4),
        "mean_non_content_recall": round(float(np.mean([s["non_content_recall"] for s in per_style.values()])), 4),
        "mean_non_content_gated": round(float(np.mean([s["non_content_gated"] for s in per_style.values()])), 4),
        **{
            f"mean_{key}": round(float(np.mean([s[key] for s in per_style.values()])), 4)
            for key in ("alone_content_kept", "alone_non_content_gated", "first_sentence_content_kept")
        },
        "per_style": per_style,
        "seconds": round(time.time() - started),
    }
    print(json.dumps(summary, indent=1))


def fit_roles(config, codebooks, data) -> ModelBundle:
    """The role model alone, fitted as `topicframe train` fits it."""
    (role_set,) = codebooks
    y = data.label_matrix(role_set, codebooks[role_set].label_names)
    return ModelBundle(config, codebooks).fit(data.texts, {role_set: y}, layout=article_layout(data))


def role_figures(bundle, held_part, names, content_roles) -> dict[str, float]:
    """Role accuracy and exact recall of non-content roles on whole articles, then on excerpts of them."""
    predicted = np.array(bundle.role_scores(held_part.texts, article_layout(held_part)).argmax(axis=1))
    truth = held_part.label_matrix(bundle.role_set, names).argmax(axis=1)
    content = [names.index(r) for r in content_roles]
    non_content = ~np.isin(truth, content)
    return {
        "accuracy": round(float((predicted == truth).mean()), 4),
        "non_content_recall": round(float((predicted[non_content] == truth[non_content]).mean()), 4),
        # what the decision rule needs: a non-content paragraph read as any non-content role gets no labels
        "non_content_gated": round(float((~np.isin(predicted[non_content], content)).mean()), 4),
        **excerpt_scores(bundle, held_part, truth, names, content_roles),
        **short_text_scores(bundle, held_part, truth, names, content_roles),
    }


def excerpt_scores(bundle, held_part, truth, names, content_roles) -> dict[str, float]:
    """The held-out articles cut into excerpts of three consecutive paragraphs, each scored as a text of its own
    (what a user who pastes a few paragraphs sends): role accuracy, and the share of content paragraphs (body,
    headline) still read as content, i.e. still given topics and frames."""
    excerpt_ids: list[str] = []
    seen: dict[str | None, int] = {}
    for article in held_part.article_ids:
        k = seen[article] = seen.get(article, -1) + 1
        excerpt_ids.append(f"{article}#{k // EXCERPT}")
    predicted = np.array(
        bundle.role_scores(held_part.texts, ArticleLayout.from_article_ids(excerpt_ids)).argmax(axis=1)
    )
    content = np.isin(truth, [names.index(r) for r in content_roles])
    kept = np.isin(predicted[content], [names.index(r) for r in content_roles])
    return {
        "excerpt_accuracy": round(float((predicted == truth).mean()), 4),
        "excerpt_content_kept": round(float(kept.mean()), 4),
    }


EXCERPT = 3
# The measurement's own naive sentence split (every . ! ? before a capital), not the model's
# `training.role_features.first_sentence`: the figure should not be defined by the rule the role model is fitted with.
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“‘'])")


def short_text_scores(bundle, held_part, truth, names, content_roles) -> dict[str, float]:
    """Each paragraph sent alone, and the first sentence of each multi-sentence content paragraph sent alone
    (what a user trying the service with one sentence sends): the share of content still read as content, and
    of non-content paragraphs read as some non-content role (so given no labels)."""
    content_ids = [names.index(r) for r in content_roles]
    alone = np.array(bundle.role_scores(held_part.texts, ArticleLayout.alone(len(held_part.texts))).argmax(axis=1))
    content = np.isin(truth, content_ids)
    firsts = [
        parts[0]
        for text, is_content in zip(held_part.texts, content, strict=True)
        if is_content and len(parts := _SENTENCE.split(text.strip())) > 1
    ]
    sentence = np.array(bundle.role_scores(firsts, ArticleLayout.alone(len(firsts))).argmax(axis=1))
    return {
        "alone_accuracy": round(float((alone == truth).mean()), 4),
        "alone_content_kept": round(float(np.isin(alone[content], content_ids).mean()), 4),
        "alone_non_content_gated": round(float((~np.isin(alone[~content], content_ids)).mean()), 4),
        "first_sentence_content_kept": round(float(np.isin(sentence, content_ids).mean()), 4),
        "first_sentences": len(firsts),
    }


if __name__ == "__main__":
    main()
