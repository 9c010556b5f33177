"""Articles as a browser copies them: the held-out test with web-page chrome around it (docs/quality.md).

    .venv/bin/python -m bench.web_paste TRACKING_URI [TRACKING_URI ...] [--model models:/topicframe@champion]
        [--chrome bench/data/web_chrome_eval.json] [--seed 0]

An analyst who copies an article from a news site gets the page's chrome with it: navigation ("Skip to main
content"), section labels, advertising markers, share and listen controls, image credits, "Most read" lists,
site footers. The test articles carry bylines, captions, promos and footers of their own house styles, but no
page chrome. This puts chrome from `--chrome` (12 invented sites, written blind to the role model's code; a
site per article, seeded) around and between each test article's paragraphs and scores the result as articles,
as the service does. Per model (each store's `--model`, digest-checked): role accuracy on the chrome lines and
on the article's own paragraphs, how many chrome lines get topics, whether the article's headline is still
read as one, and topic and frame micro-F1 on the article's content paragraphs (gold roles; chrome carries no
labels, so a topic on a chrome line is a false positive) — next to the same figures on the plain test.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.paired_bootstrap import LABEL_SETS, article_counts, load_test, micro_f1, store_model
from training.bundle import ModelBundle
from training.dataset import LabelledData
from training.features import ArticleLayout

CHROME = Path(__file__).resolve().parent / "data" / "web_chrome_eval.json"
RESULTS = Path(__file__).resolve().parent / "results" / "web_paste.json"


@dataclass
class Pasted:
    """The test articles with chrome: texts, gold labels per set (chrome: none), gold roles, and which rows are
    chrome and which are an article's own headline (its first headline paragraph)."""

    texts: list[str]
    article_ids: list[str | None]
    labels: dict[str, list[set[str]]]
    roles: list[str]
    chrome: np.ndarray
    own_headline: np.ndarray


def chrome_layout(roles: list[str], site: dict, rng: np.random.Generator) -> list[int | dict]:
    """One article's page order with a site's chrome: an int is the article's own paragraph ``k``, a dict a
    chrome line. Some of the site's top lines come before the article, some of its after-headline lines after
    the headline, one or two inline lines after body paragraphs, some bottom lines after the end; subsets keep
    the site's order. (`bench.web_chrome_corpus` put training chrome into the corpus the same way.)"""

    def some(lines: list[dict], low: int) -> list[dict]:
        count = int(rng.integers(min(low, len(lines)), len(lines) + 1))
        return [lines[j] for j in sorted(rng.choice(len(lines), size=count, replace=False))]

    headline = roles.index("headline") if "headline" in roles else None
    body = [k for k, role in enumerate(roles) if role == "body"]
    inline_after = set(rng.choice(body[1:], size=min(2, len(body) - 1), replace=False).tolist()) if body else set()
    inline = iter(some(site["inline"], 1))
    order: list[int | dict] = list(some(site["top"], 2))
    for k in range(len(roles)):
        order.append(k)
        if k == headline:
            order.extend(some(site["after_headline"], 1))
        if k in inline_after and (line := next(inline, None)) is not None:
            order.append(line)
    order.extend(some(site["bottom"], 2))
    return order


def paste(test: LabelledData, sites: list[dict], seed: int) -> Pasted:
    """Each article with one site's chrome (`chrome_layout`; the site and the subsets drawn from ``seed``)."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str | None, dict[str, set[str]], str, bool, bool]] = []
    articles: dict[str | None, list[int]] = {}
    for i, article in enumerate(test.article_ids):
        articles.setdefault(article, []).append(i)
    for article, members in articles.items():
        site = sites[int(rng.integers(len(sites)))]
        roles = [test.labels["role"][i][0] for i in members]
        headline = roles.index("headline") if "headline" in roles else None
        for item in chrome_layout(roles, site, rng):
            if isinstance(item, dict):
                rows.append((item["text"], article, {name: set() for name in LABEL_SETS}, item["role"], True, False))
            else:
                i = members[item]
                labels = {name: set(test.labels[name][i]) for name in LABEL_SETS}
                rows.append((test.texts[i], article, labels, roles[item], False, item == headline))
    return Pasted(
        texts=[r[0] for r in rows],
        article_ids=[r[1] for r in rows],
        labels={name: [r[2][name] for r in rows] for name in LABEL_SETS},
        roles=[r[3] for r in rows],
        chrome=np.array([r[4] for r in rows]),
        own_headline=np.array([r[5] for r in rows]),
    )


def figures(bundle: ModelBundle, pasted: Pasted) -> dict[str, float]:
    scored = bundle.score(pasted.texts, list(LABEL_SETS), ArticleLayout.from_article_ids(pasted.article_ids))
    assert scored.roles is not None and scored.content is not None, "the model has no role set"
    predicted_roles = np.array(scored.roles)
    gold_roles = np.array(pasted.roles)
    content = set(bundle.config.roles.content)
    chrome, own = pasted.chrome, ~pasted.chrome
    out = {
        "paragraphs": len(pasted.texts),
        "chrome_lines": int(chrome.sum()),
        "role_accuracy_chrome": float((predicted_roles == gold_roles)[chrome].mean()) if chrome.any() else 1.0,
        "chrome_read_as_content": int((np.isin(predicted_roles, list(content)) & chrome).sum()),
        "role_accuracy_article": float((predicted_roles == gold_roles)[own].mean()),
        "headline_recall": float((predicted_roles[pasted.own_headline] == "headline").mean()),
    }
    for name in LABEL_SETS:
        decided = [set(labels) for labels in bundle.decide(name, scored.scores[name], scored.labelled)]
        out[f"chrome_lines_with_{name}"] = int(sum(bool(d) for d, c in zip(decided, chrome, strict=True) if c))
        out[f"{name}_micro_f1"] = float(
            micro_f1(article_counts(decided, pasted.labels[name], pasted.article_ids).sum(0))
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracking_uris", nargs="+")
    parser.add_argument("--model", default="models:/topicframe@champion")
    parser.add_argument("--chrome", type=Path, default=CHROME)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    test = load_test()
    plain = paste(test, [{"top": [], "after_headline": [], "inline": [], "bottom": []}], args.seed)  # no chrome
    pasted = paste(test, json.loads(args.chrome.read_text(encoding="utf-8")), args.seed)
    report: dict[str, dict[str, Any]] = {}
    for uri in args.tracking_uris:
        bundle, ref = store_model(args.model, uri)
        report[uri] = {
            "model": f"{ref.name} v{ref.version}",
            "plain": figures(bundle, plain),
            "pasted": figures(bundle, pasted),
        }
        for kind in ("plain", "pasted"):
            print(uri, kind, json.dumps({k: round(v, 4) for k, v in report[uri][kind].items()}), flush=True)
    args.out.write_text(json.dumps({"seed": args.seed, "chrome": str(args.chrome), "models": report}, indent=1) + "\n")


if __name__ == "__main__":
    main()
