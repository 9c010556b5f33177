"""Lists in Markdown and HTML articles: each item its own paragraph (shipped) or joined to its lead-in.

    .venv/bin/python -m bench.markup_lists TRACKING_URI [SET.json ...] [--model models:/topicframe@champion]

Each set is original articles with bulleted and numbered lists, written and annotated block by block by one
helper (role, and topics per the codebook, for every paragraph and every list item; a link item is a link on
the page). The bench renders each article as Markdown (blank lines between blocks, ``-``/``1.`` items) and as an
HTML fragment (``<ul>``/``<ol>``), reads it with `training.classify.split_paragraphs`, maps each paragraph back
to the blocks it holds, applies a list policy to those blocks and scores the result as one article:

- ``items`` (shipped): each item its own paragraph;
- ``lead_in``: a list joins the paragraph before it when that paragraph ends with a colon, items one per line;
- ``lead_in_short``: as ``lead_in``, only when every item has at most `SHORT_ITEM_WORDS` words;
- ``short_lists``: ``lead_in_short``, and a list of such items with no lead-in is one paragraph.

Each join in two forms: ``lines`` (items one per line) and ``run_in`` (one sentence: the items after the lead-in
joined with "; ", or a space after an item that ends a sentence, a full stop after the last).

Reported per policy and rendering: list items' topic micro-F1 (each item's gold topics against the topics of
the paragraph that holds it), their role accuracy, and the same for lead-ins and for every other block.
"""

from __future__ import annotations

import argparse
import html
import json
from collections import Counter
from pathlib import Path

import numpy as np

from bench.markup_paste import collapse, md_escape
from bench.paired_bootstrap import micro_f1, store_model
from training.bundle import ModelBundle
from training.classify import classify, split_paragraphs

POLICIES = ("items", "lead_in", "lead_in_short", "short_lists")
JOINS = ("lines", "run_in")
SHORT_ITEM_WORDS = 30
RESULTS = Path(__file__).resolve().parent / "results" / "markup_lists.json"
# Ten articles each (25 lists, 85 and 89 items), written and annotated by two helpers who did not see each
# other's set: the first chose the policy, the second was to confirm it (docs/quality.md, "Twenty-seventh pass").
SETS = [Path(__file__).resolve().parent / "data" / f"lists_{name}.json" for name in ("design", "confirm")]


def flat_blocks(article: dict) -> list[dict]:
    """The article's blocks with each list's items as blocks of their own, tagged with their list's number."""
    blocks: list[dict] = []
    for k, block in enumerate(article["blocks"]):
        if block["kind"] == "list":
            blocks.extend(
                {**item, "kind": "item", "list": k, "ordered": block.get("ordered", False)} for item in block["items"]
            )
        else:
            blocks.append({**block, "list": None})
    return blocks


def as_markdown(blocks: list[dict]) -> str:
    parts: list[str] = []
    for k, block in enumerate(blocks):
        text = md_escape(block["text"])
        if block["kind"] == "item":
            number = sum(b["list"] == block["list"] for b in blocks[:k]) + 1
            marker = f"{number}." if block["ordered"] else "-"
            line = f"{marker} " + (f"[{text}](https://news.example.com/story-{k})" if block.get("link") else text)
            same_list = k > 0 and blocks[k - 1]["list"] == block["list"]
            parts.append(("\n" if same_list else "\n\n") + line)
            continue
        mark = {"headline": "# " if k == 0 else "## ", "crosshead": "## "}.get(block["kind"], "")
        text = f"_{text}_" if block["kind"] == "caption" else mark + text
        parts.append(("\n\n" if parts else "") + text)
    return "".join(parts) + "\n"


def as_html(blocks: list[dict]) -> str:
    parts: list[str] = []
    for k, block in enumerate(blocks):
        text = html.escape(block["text"], quote=False)
        if block["kind"] == "item":
            tag = "ol" if block["ordered"] else "ul"
            if k == 0 or blocks[k - 1]["list"] != block["list"]:
                parts.append(f"<{tag}>")
            parts.append(f'<li><a href="/story-{k}">{text}</a></li>' if block.get("link") else f"<li>{text}</li>")
            if k + 1 == len(blocks) or blocks[k + 1]["list"] != block["list"]:
                parts.append(f"</{tag}>")
        elif block["kind"] == "headline":
            parts.append(f"<h1>{text}</h1>" if k == 0 else f"<h2>{text}</h2>")
        elif block["kind"] == "crosshead":
            parts.append(f"<h2>{text}</h2>")
        elif block["kind"] == "caption":
            parts.append(f"<figure><figcaption>{text}</figcaption></figure>")
        else:
            parts.append(f"<p>{text}</p>")
    return "\n".join(parts) + "\n"


def read_back(paragraphs: list[str], blocks: list[dict]) -> list[list[int]]:
    """For each paragraph the reader gave, the blocks it holds (matched in order by their text)."""
    held: list[list[int]] = []
    next_block = 0
    for paragraph in paragraphs:
        text = collapse(paragraph)
        k = next((k for k in range(next_block, len(blocks)) if collapse(blocks[k]["text"]) == text), None)
        if k is None:
            raise SystemExit(f"paragraph not found among the blocks: {paragraph!r}")
        held.append([k])
        next_block = k + 1
    return held


def apply_policy(held: list[list[int]], blocks: list[dict], policy: str) -> list[list[int]]:
    """The paragraphs (as lists of blocks) after joining lists as ``policy`` says."""
    if policy == "items":
        return held
    groups: list[list[int]] = []
    k = 0
    while k < len(held):
        number = blocks[held[k][0]]["list"]
        if number is None:
            groups.append(list(held[k]))
            k += 1
            continue
        end = k
        while end < len(held) and blocks[held[end][0]]["list"] == number:
            end += 1
        items = [held[j][0] for j in range(k, end)]
        short = all(len(blocks[j]["text"].split()) <= SHORT_ITEM_WORDS for j in items)
        before = blocks[groups[-1][-1]] if groups else None
        lead_in = (
            before is not None
            and before["kind"] == "paragraph"
            and before["list"] is None
            and before["text"].rstrip().endswith(":")
        )
        if lead_in and (policy == "lead_in" or short):
            groups[-1].extend(items)
        elif policy == "short_lists" and short:
            groups.append(items)
        else:
            groups.extend([j] for j in items)
        k = end
    return groups


def joined_text(texts: list[str], join: str) -> str:
    if join == "lines" or len(texts) == 1:
        return "\n".join(texts)
    text = texts[0]
    for item in texts[1:]:
        text += " " if text.endswith((":", ";", ",", ".", "!", "?")) else "; "
        text += item
    return text if text.endswith((".", "!", "?", ";", ":")) else text + "."


def figures(bundle: ModelBundle, articles: list[dict], render: str, policy: str, join: str = "lines") -> dict:
    counts = {scope: np.zeros(3) for scope in ("items", "lead_ins", "others")}
    tally: Counter[str] = Counter()
    for article in articles:
        blocks = flat_blocks(article)
        text = as_markdown(blocks) if render == "markdown" else as_html(blocks)
        held = apply_policy(read_back(split_paragraphs(text, render), blocks), blocks, policy)
        out = classify(
            bundle, [joined_text([blocks[k]["text"] for k in group], join) for group in held], include_scores=False
        )
        lead_ins = {
            k - 1 for k, b in enumerate(blocks) if b["list"] is not None and k and blocks[k - 1]["list"] is None
        }
        read = {k: p for group, p in zip(held, out["paragraphs"], strict=True) for k in group}
        for k, block in enumerate(blocks):
            scope = "items" if block["list"] is not None else "lead_ins" if k in lead_ins else "others"
            gold = set(block["topic"])
            paragraph = read.get(k)
            if paragraph is None:  # a block the reader left out (a link-only item): right when it has no labels
                counts[scope] += (0, 0, len(gold))
                tally[f"{scope}_blocks"] += 1
                tally[f"{scope}_role_right"] += block["role"] != "body"
                continue
            predicted = set(paragraph["labels"]["topic"])
            counts[scope] += (len(predicted & gold), len(predicted - gold), len(gold - predicted))
            tally[f"{scope}_blocks"] += 1
            tally[f"{scope}_role_right"] += paragraph["role"] == block["role"]
            tally[f"{scope}_headline_read"] += paragraph["role"] == "headline"
        tally["paragraphs"] += len(held)
    return {
        **{f"{scope}_topic_micro_f1": round(float(micro_f1(counts[scope])), 4) for scope in counts},
        **{
            f"{scope}_role_accuracy": round(tally[f"{scope}_role_right"] / tally[f"{scope}_blocks"], 4)
            for scope in counts
        },
        "items_read_as_headlines": tally["items_headline_read"],
        "items": tally["items_blocks"],
        "paragraphs": tally["paragraphs"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracking_uri")
    parser.add_argument("sets", nargs="*", type=Path, default=SETS)
    parser.add_argument("--model", default="models:/topicframe@champion")
    args = parser.parse_args()
    bundle, ref = store_model(args.model, args.tracking_uri)
    results: dict = {"model": f"{ref.name} v{ref.version}"}
    for path in args.sets:
        articles = json.loads(path.read_text(encoding="utf-8"))
        for render in ("markdown", "html"):
            for policy in POLICIES:
                for join in JOINS if policy != "items" else JOINS[:1]:
                    row = figures(bundle, articles, render, policy, join)
                    results[f"{path.stem} {render} {policy} {join}"] = row
                    print(f"{path.stem:6} {render:8} {policy:13} {join:6}", json.dumps(row), flush=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
