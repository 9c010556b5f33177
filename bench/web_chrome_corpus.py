"""How training articles got web-page chrome (labels/CHANGELOG.md, 2026-12-06; docs/quality.md, "Nineteenth pass").

    .venv/bin/python -m bench.web_chrome_corpus labels/annotations/web_chrome_train.json [--share 0.2] [--seed 19]

A browser's copy of an article brings the page's navigation, advertising markers, share controls, "Most read"
lists and site footer with it; the corpus's articles had none, so the role model read such lines as headlines.
This gives a seeded share of the training articles one invented site's chrome each (30 sites, written from the
role codebook by an annotator who never saw the evaluation pool of `bench.web_paste`), inserted the way
`bench.web_paste` inserts its own. The lines become rows of ``labels/paragraphs.csv`` in page order, with ids
``<article_id>-web<k>``, their role and no topic or frame. The file is rewritten atomically; a corpus that already
has such rows is refused, so the command runs once.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from bench.web_paste import chrome_layout

CORPUS = Path(__file__).resolve().parent.parent / "labels" / "paragraphs.csv"
MARK = "-web"


def with_chrome(rows: list[dict[str, str]], sites: list[dict], share: float, seed: int) -> list[dict[str, str]]:
    """``rows`` (one article's rows together, in page order) with chrome around a seeded share of the articles."""
    articles: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        articles.setdefault(row["article_id"], []).append(row)
    rng = np.random.default_rng(seed)
    names = list(articles)
    chosen = set(rng.choice(len(names), size=round(share * len(names)), replace=False).tolist())
    out: list[dict[str, str]] = []
    for index, name in enumerate(names):
        members = articles[name]
        if index not in chosen:
            out.extend(members)
            continue
        site = sites[int(rng.integers(len(sites)))]
        lines = 0
        for item in chrome_layout([row["role"] for row in members], site, rng):
            if isinstance(item, dict):
                out.append({"id": f"{name}{MARK}{lines:02d}", "article_id": name, "text": item["text"],
                            "topic": "", "frame": "", "role": item["role"]})  # fmt: skip
                lines += 1
            else:
                out.append(members[item])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sites", type=Path, help="the training pool of site profiles (JSON)")
    parser.add_argument("--share", type=float, default=0.2, help="share of the training articles given chrome")
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    with args.corpus.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header, rows = list(reader.fieldnames or []), list(reader)
    if any(MARK in row["id"] for row in rows):
        raise SystemExit(f"{args.corpus}: already has web chrome rows (ids with '{MARK}'); nothing changed")
    out = with_chrome(rows, json.loads(args.sites.read_text(encoding="utf-8")), args.share, args.seed)
    with tempfile.NamedTemporaryFile("w", newline="", encoding="utf-8", dir=args.corpus.parent, delete=False) as tmp:
        writer = csv.DictWriter(tmp, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
    os.replace(tmp.name, args.corpus)
    added = len(out) - len(rows)
    print(
        f"{args.corpus}: {added} chrome rows added to {len({r['article_id'] for r in out if MARK in r['id']})} articles"
    )


if __name__ == "__main__":
    main()
