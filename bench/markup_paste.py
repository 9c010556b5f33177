"""Articles sent as HTML or Markdown: the held-out test rendered as feeds, pages and reader tools deliver it.

    .venv/bin/python -m bench.markup_paste TRACKING_URI [--model models:/topicframe@champion]

Each test article is rendered in page order, its paragraphs marked up by their gold roles as a page or a
Markdown converter would (headline `<h1>` / `#`, byline and footer in emphasis, a caption in a figure after
an image, a promo as a link, an inline link in every other body paragraph; special characters escaped, non-ASCII
as character references in the HTML). Each rendering is sent as one text and split as the service splits
`text`: once read as plain text (how every text was read before `training.markup`), once with its format
detected. Per rendering and reading: how many articles come back with exactly their paragraphs' texts, role
accuracy, and topic and frame micro-F1 on the content paragraphs (gold roles). An article that splits into a
different number of paragraphs scores every gold label as missed and every predicted label as wrong.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.paired_bootstrap import LABEL_SETS, LABELS, TEST, micro_f1
from training.classify import classify, split_paragraphs
from training.codebook import load_codebooks
from training.dataset import load_labelled_data
from training.registry import load_model, tracking_client

RESULTS = Path(__file__).resolve().parent / "results" / "markup_paste.json"
Render = Callable[[str, str, int, bool], str]  # (role, text, position, is the first headline) -> markup


def md_escape(text: str) -> str:
    """Text as a Markdown converter writes it: Markdown's special characters escaped."""
    text = re.sub(r"([\\`*_\[\]<>])", r"\\\1", text)
    return re.sub(r"^(\s*)(\d+)([.)])(\s)", r"\1\2\\\3\4", re.sub(r"^(\s*)([#+-])(\s)", r"\1\\\2\3", text))


def with_link(words: list[str], link: Callable[[str], str]) -> str:
    """The words with the third to fifth made a link (as an article links a name or an earlier story)."""
    if len(words) < 8:
        return " ".join(words)
    return " ".join([*words[:2], link(" ".join(words[2:5])), *words[5:]])


def markdown(role: str, text: str, k: int, first_headline: bool) -> str:
    if role == "headline":
        return ("# " if first_headline else "## ") + md_escape(text)
    if role in ("byline", "footer"):
        return "\n".join(f"*{md_escape(line)}*" for line in text.split("\n"))
    if role == "caption":
        return f"![{md_escape(' '.join(text.split()[:4]))}](https://img.example.com/{k}.jpg)\n\n_{md_escape(text)}_"
    if role == "promo":
        return f"[{md_escape(text)}](https://news.example.com/story-{k})"
    if k % 2:
        return "\n".join(
            with_link(md_escape(line).split(" "), lambda t: f"[{t}](https://news.example.com/{k})")
            for line in text.split("\n")
        )
    return md_escape(text)


def h(text: str) -> str:
    """Escaped, with non-ASCII as numeric character references (as many CMSs write it)."""
    return html.escape(text, quote=False).encode("ascii", "xmlcharrefreplace").decode("ascii").replace("\n", "<br>")


def markdown_without_images(role: str, text: str, k: int, first_headline: bool) -> str:
    """As `markdown`, a caption without its image (the mildest case: the same paragraphs, marked up)."""
    return f"_{md_escape(text)}_" if role == "caption" else markdown(role, text, k, first_headline)


def html_element(role: str, text: str, k: int, first_headline: bool) -> str:
    if role == "headline":
        return f"<h1>{h(text)}</h1>" if first_headline else f"<h2>{h(text)}</h2>"
    if role == "byline":
        return f'<p class="byline"><span>{h(text)}</span></p>'
    if role == "caption":
        image = f'<img src="https://img.example.com/{k}.jpg" alt="photo">'
        return f"<figure>{image}<figcaption>{h(text)}</figcaption></figure>"
    if role == "promo":
        return f'<p class="related"><a href="https://news.example.com/story-{k}">{h(text)}</a></p>'
    if role == "footer":
        return f"<footer><p><small>{h(text)}</small></p></footer>"
    if k % 2:
        return "<p>" + with_link(h(text).split(" "), lambda t: f'<a href="/{k}">{t}</a>') + "</p>"
    return f"<p>{h(text)}</p>"


def html_br(role: str, text: str, k: int, first_headline: bool) -> str:
    """A feed item without <p>: paragraphs separated by two line breaks, the headline in bold."""
    return f"<b>{h(text)}</b>" if role == "headline" else h(text)


def page(body: str, title: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n  <title>{h(title)}</title>\n'
        "  <script>window.dataLayer = [{'section': 'world'}];</script>\n  <style>p { margin: 0 }</style>\n"
        f"</head>\n<body>\n<article>\n{body}\n</article>\n</body>\n</html>\n"
    )


RENDERINGS: dict[str, tuple[Render, str, bool]] = {  # name: (render, separator, wrapped in a page)
    "plain text, blank lines": (lambda role, text, k, first: text, "\n\n", False),
    "Markdown, blank lines": (markdown, "\n\n", False),
    "Markdown, one block per line": (markdown, "\n", False),
    "Markdown without images, blank lines": (markdown_without_images, "\n\n", False),
    "HTML page, one element per line": (html_element, "\n  ", True),
    "HTML feed item, one line": (html_element, "", False),
    "HTML feed item, <br><br> between paragraphs": (html_br, "<br /><br />", False),
}


def figures(bundle, test, articles: dict, render: Render, separator: str, wrapped: bool, text_format: str) -> dict:
    counts = {name: np.zeros(3) for name in LABEL_SETS}
    exact = roles_right = paragraphs = 0
    for members in articles.values():
        roles = [test.labels["role"][i][0] for i in members]
        first = roles.index("headline") if "headline" in roles else -1
        pieces = [render(roles[k], test.texts[i], k, k == first) for k, i in enumerate(members)]
        markup = separator.join(pieces).replace("\n\n", "\n") if separator == "\n" else separator.join(pieces)
        if wrapped:
            markup = page(markup, test.texts[members[first]] if first >= 0 else "")
        split = split_paragraphs(markup, text_format)
        exact += split == [test.texts[i].strip() for i in members]
        paragraphs += len(members)
        out = classify(bundle, split, include_scores=False)["paragraphs"] if split else []
        if len(split) != len(members):  # unaligned: every gold label missed, every predicted label wrong
            for name in LABEL_SETS:
                predicted = sum(len(p["labels"][name]) for p in out)
                counts[name] += (0, predicted, sum(len(test.labels[name][i]) for i in members))
            continue
        for p, i, role in zip(out, members, roles, strict=True):
            roles_right += p["role"] == role
            for name in LABEL_SETS:
                predicted, gold = set(p["labels"][name]), set(test.labels[name][i])
                counts[name] += (len(predicted & gold), len(predicted - gold), len(gold - predicted))
    return {
        "articles_exact": exact,
        "articles": len(articles),
        "role_accuracy": roles_right / paragraphs,
        **{f"{name}_micro_f1": float(micro_f1(counts[name])) for name in LABEL_SETS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracking_uri")
    parser.add_argument("--model", default="models:/topicframe@champion")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    test = load_labelled_data([TEST], load_codebooks(LABELS), min_positives=0)
    articles: dict[str | None, list[int]] = {}
    for i, article in enumerate(test.article_ids):
        articles.setdefault(article, []).append(i)
    with tempfile.TemporaryDirectory(prefix="markup-paste-") as cache:
        bundle, ref = load_model(args.model, Path(cache), None, tracking_client(args.tracking_uri))
    report: dict[str, dict] = {}
    for name, (render, separator, wrapped) in RENDERINGS.items():
        report[name] = {
            reading: figures(bundle, test, articles, render, separator, wrapped, text_format)
            for reading, text_format in (("as plain text", "plain"), ("format detected", "auto"))
        }
        for reading, row in report[name].items():
            print(f"{name:45} {reading:16}", json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    args.out.write_text(json.dumps({"model": f"{ref.name} v{ref.version}", "renderings": report}, indent=1) + "\n")


if __name__ == "__main__":
    main()
