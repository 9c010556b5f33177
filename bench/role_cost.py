"""What do role errors cost topic and frame on the held-out test? (docs/quality.md, "What limits the model now")

    .venv/bin/python -m bench.role_cost TRACKING_URI [--model models:/topicframe@champion]

Loads the registered model (digest-checked, as the service does), scores ``labels/paragraphs_test.csv`` as
articles, and decides each set twice from the same scores: gated by the predicted roles (what every consumer
gets) and gated by the gold roles (the rest of the model unchanged: the context blocks still follow the predicted
roles). The difference is what the role model's mistakes cost. Then it lists the non-content paragraphs read as
content, with their house style, gold and predicted role and the topics they were given.
A diagnostic: nothing here is tuned on the test.
"""

from __future__ import annotations

import argparse
import csv

import numpy as np

from bench.paired_bootstrap import LABEL_SETS, LABELS, article_counts, load_test, micro_f1, store_model
from training.features import ArticleLayout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracking_uri")
    parser.add_argument("--model", default="models:/topicframe@champion")
    args = parser.parse_args()

    test = load_test()
    bundle, _ = store_model(args.model, args.tracking_uri)
    scored = bundle.score(test.texts, list(LABEL_SETS), ArticleLayout.from_article_ids(test.article_ids))
    assert scored.roles is not None and scored.content is not None, "the model has no role set"
    gold_roles = [row[0] for row in test.labels[bundle.config.roles.label_set]]
    gold_content = np.isin(gold_roles, bundle.config.roles.content)
    predicted_content = np.asarray(scored.content)

    print(f"{len(test)} test paragraphs; {int(gold_content.sum())} content by the gold roles")
    print(f"content read as non-content: {int((gold_content & ~predicted_content).sum())}")
    print(
        f"non-content read as content: {int((~gold_content & predicted_content).sum())} of {int((~gold_content).sum())}"
    )
    decided = {}
    for name in LABEL_SETS:
        gold = [set(labels) for labels in test.labels[name]]
        figures = []
        for gate in (predicted_content, gold_content):
            decided[name, gate is gold_content] = bundle.decide(name, scored.scores[name], gate)
            counts = article_counts([set(p) for p in decided[name, gate is gold_content]], gold, test.article_ids)
            figures.append(float(micro_f1(counts.sum(0))))
        print(
            f"{name}: micro-F1 gated by predicted roles {figures[0]:.4f}, by gold roles {figures[1]:.4f} "
            f"(role errors cost {figures[1] - figures[0]:+.4f})"
        )

    with (LABELS / "articles.csv").open(newline="", encoding="utf-8") as f:
        styles = {row["article_id"]: row["style"] for row in csv.DictReader(f)}
    print("\nnon-content paragraphs read as content: style, position in article, gold -> predicted role, topics")
    positions = ArticleLayout.from_article_ids(test.article_ids).position
    for i in np.flatnonzero(~gold_content & predicted_content):
        topics = ", ".join(decided["topic", False][i]) or "-"
        style = styles.get(test.article_ids[i] or "", "?")
        print(
            f"  {style:14s} {positions[i]:>3} {gold_roles[i]:>8} -> {scored.roles[i]:<8} [{topics}] "
            f"{test.texts[i][:70]}"
        )


if __name__ == "__main__":
    main()
