"""Articles sent as HTML or Markdown: the held-out test as feeds, pages and reader tools deliver it.

    .venv/bin/python -m bench.markup_paste TRACKING_URI [--model models:/topicframe@champion] [--seed 0]
        [--pages bench/data/html_pages_eval.json ...]

Each test article is rendered in page order, its paragraphs marked up by their gold roles:
- as a Markdown converter writes it (headline `#`, byline and footer in emphasis, a caption after its image, a
  promo as a link, an inline link in every other body paragraph, special characters escaped), with and without
  blank lines, and without images;
- as an HTML page with one element per line, a feed item on one line, and a feed item without `<p>`
  (`<br><br>` between paragraphs), non-ASCII as character references;
- inside a whole web page of one of ten invented sites (`--pages`: four sets of ten; the first has WordPress,
  "div soup" without semantic elements, AMP, a wire agency, an Asian daily with related links in the body, a
  tabloid, an ASP.NET page wrapped in a form, a React page, a public broadcaster, a magazine without
  `<article>`; each set written by an annotator blind to the reader's code), each paragraph through the site's
  snippet for its role, the site's after-headline chrome after the headline and one or two of its inline chrome
  blocks between body paragraphs: what a scraper's GET or a browser's "Save page as" gives; and the first set's
  pages converted to Markdown by markdownify, as a reader tool that keeps the whole page gives them.

Then each article is sent as its paragraphs, each in its own HTML or Markdown (a CMS export), read as the service
reads `paragraphs`: as plain text, and read as markup (role accuracy, topic and frame micro-F1).

Each rendering is sent as one text and split as the service splits `text`: once read as plain text (how every
text was read before `training/markup.py`), once with its format detected; then scored as one article. An
extracted paragraph whose text (white space collapsed) is one of the article's own is that paragraph, with its
gold labels; any other is chrome, whose gold is no label. Reported: the share of the articles' paragraphs
recovered (and of their body and headline paragraphs), headline recall, chrome paragraphs per article and how
many are read as content (and so given topics), role accuracy on the recovered paragraphs, and topic and frame
micro-F1 over every extracted paragraph (an article paragraph not recovered counts its gold labels as missed).
"""

from __future__ import annotations

import argparse
import html
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from markdownify import markdownify

from bench.paired_bootstrap import LABEL_SETS, load_test, micro_f1, store_model
from training.bundle import ModelBundle
from training.classify import classify, split_paragraphs
from training.dataset import LabelledData
from training.markup import paragraph_text

DATA = Path(__file__).resolve().parent / "data"
# Ten sites each, written blind to the reader: "eval" chose the HTML rules, "confirm" and "third" came later and
# chose (then confirmed) trafilatura's main text for whole pages, "fourth" its title for the headline
# (docs/quality.md, "Twenty-first pass").
PAGES = [DATA / f"html_pages_{name}.json" for name in ("eval", "confirm", "third", "fourth")]
RESULTS = Path(__file__).resolve().parent / "results" / "markup_paste.json"
Markup = Callable[[str, str, int, bool], str]  # (role, text, position, is the first headline) -> its markup
Article = Callable[[list[str], list[str], np.random.Generator], str]  # (roles, texts, rng) -> the whole text


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
    """A bare page around the article: a head with a script and a style, the article in <article>."""
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n  <title>{h(title)}</title>\n'
        "  <script>window.dataLayer = [{'section': 'world'}];</script>\n  <style>p { margin: 0 }</style>\n"
        f"</head>\n<body>\n<article>\n{body}\n</article>\n</body>\n</html>\n"
    )


def joined(markup: Markup, separator: str, in_page: bool = False) -> Article:
    """An article as its paragraphs' markup joined by ``separator`` (inside a bare HTML page)."""

    def render(roles: list[str], texts: list[str], rng: np.random.Generator) -> str:
        first = roles.index("headline") if "headline" in roles else -1
        pieces = [markup(role, text, k, k == first) for k, (role, text) in enumerate(zip(roles, texts, strict=True))]
        text = separator.join(pieces)
        if separator == "\n":  # one block per line: no blank line anywhere
            text = text.replace("\n\n", "\n")
        return page(text, texts[first] if first >= 0 else "") if in_page else text

    return render


def in_site(sites: list[dict]) -> Article:
    """An article in one of ``sites``' pages (drawn from ``rng``), with the site's chrome around and inside it."""

    def render(roles: list[str], texts: list[str], rng: np.random.Generator) -> str:
        site = sites[int(rng.integers(len(sites)))]
        first = roles.index("headline") if "headline" in roles else -1
        body = [k for k, role in enumerate(roles) if role == "body"]
        after = set(rng.choice(body[:-1], size=min(2, len(body) - 1), replace=False).tolist()) if body else set()
        inline = list(site["inline"])
        rng.shuffle(inline)
        parts = []
        for k, (role, text) in enumerate(zip(roles, texts, strict=True)):
            snippet = site["snippets"]["headline_first" if k == first else role]
            parts.append(snippet.replace("{text}", html.escape(text, quote=False)))
            if k == first:
                parts.extend(site["after_headline"])
            if k in after and inline:
                parts.append(inline.pop())
        # A real page repeats its headline in <title>, og:title, JSON-LD: templates mark those places {headline}.
        headline = html.escape(texts[first], quote=True) if first >= 0 else ""
        return str(site["page"]).replace("{headline}", headline).replace("<!--ARTICLE-->", "\n".join(parts))

    return render


def renderings(site_sets: dict[str, list[dict]]) -> dict[str, Article]:
    sites = next(iter(site_sets.values()))
    return {
        "plain text, blank lines": joined(lambda role, text, k, first: text, "\n\n"),
        "Markdown, blank lines": joined(markdown, "\n\n"),
        "Markdown, one block per line": joined(markdown, "\n"),
        "Markdown without images, blank lines": joined(markdown_without_images, "\n\n"),
        "HTML page, one element per line": joined(html_element, "\n  ", in_page=True),
        "HTML feed item, one line": joined(html_element, ""),
        "HTML feed item, <br><br> between paragraphs": joined(html_br, "<br /><br />"),
        **{f"whole web pages of ten sites ({name})": in_site(pages) for name, pages in site_sets.items()},
        "whole web pages as Markdown (markdownify)": as_markdown(in_site(sites)),
    }


def as_markdown(render: Article) -> Article:
    """The page converted to Markdown by markdownify, as a reader tool that keeps the whole page gives it."""
    return lambda roles, texts, rng: markdownify(render(roles, texts, rng), heading_style="ATX")


def collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def figures(bundle: ModelBundle, test: LabelledData, render: Article, text_format: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    articles: dict[str | None, list[int]] = {}
    for i, article in enumerate(test.article_ids):
        articles.setdefault(article, []).append(i)
    content_roles = set(bundle.config.roles.content)
    counts = {name: np.zeros(3) for name in LABEL_SETS}
    tally: Counter[str] = Counter()
    for members in articles.values():
        roles = [test.labels["role"][i][0] for i in members]
        extracted = split_paragraphs(render(roles, [test.texts[i] for i in members], rng), text_format)
        out = classify(bundle, extracted, include_scores=False)["paragraphs"] if extracted else []
        unmatched: dict[str, list[int]] = {}  # collapsed text -> the article's rows with it, not yet matched
        for i in members:
            unmatched.setdefault(collapse(test.texts[i]), []).append(i)
        headline = next((i for i, role in zip(members, roles, strict=True) if role == "headline"), None)
        tally["paragraphs"] += len(members)
        tally["content_paragraphs"] += sum(role in content_roles for role in roles)
        tally["headlines"] += headline is not None
        for p in out:
            rows = unmatched.get(collapse(p["text"]))
            row = rows.pop(0) if rows else None  # the article row this paragraph is, if any
            if row is None:  # chrome, or a paragraph the reader did not give back as it was
                tally["chrome"] += 1
                tally["chrome_read_as_content"] += p["role"] in content_roles
            else:
                tally["recovered"] += 1
                tally["content_recovered"] += test.labels["role"][row][0] in content_roles
                tally["role_right"] += p["role"] == test.labels["role"][row][0]
                tally["headline_found"] += row == headline and p["role"] == "headline"
            for name in LABEL_SETS:
                predicted, gold = set(p["labels"][name]), set(test.labels[name][row]) if row is not None else set()
                counts[name] += (len(predicted & gold), len(predicted - gold), len(gold - predicted))
        for lost in unmatched.values():  # article paragraphs not given back: their labels are missed
            for i in lost:
                for name in LABEL_SETS:
                    counts[name] += (0, 0, len(test.labels[name][i]))
    return {
        "paragraphs_recovered": tally["recovered"] / tally["paragraphs"],
        "content_paragraphs_recovered": tally["content_recovered"] / tally["content_paragraphs"],
        "headline_recall": tally["headline_found"] / tally["headlines"],
        "chrome_per_article": tally["chrome"] / len(articles),
        "chrome_read_as_content_per_article": tally["chrome_read_as_content"] / len(articles),
        "role_accuracy_recovered": tally["role_right"] / max(tally["recovered"], 1),
        **{f"{name}_micro_f1": float(micro_f1(counts[name])) for name in LABEL_SETS},
    }


def paragraph_figures(bundle: ModelBundle, test: LabelledData, markup: Markup, text_format: str) -> dict:
    """Each test article sent as its paragraphs, each in its own markup (a CMS export's paragraph HTML), read as
    `POST /v1/classify {"paragraphs": ...}` reads them: role accuracy and topic and frame micro-F1."""
    articles: dict[str | None, list[int]] = {}
    for i, article in enumerate(test.article_ids):
        articles.setdefault(article, []).append(i)
    counts = {name: np.zeros(3) for name in LABEL_SETS}
    roles_right = 0
    for members in articles.values():
        roles = [test.labels["role"][i][0] for i in members]
        first = roles.index("headline") if "headline" in roles else -1
        sent = [
            markup(role, test.texts[i], k, k == first) for k, (role, i) in enumerate(zip(roles, members, strict=True))
        ]
        read = [paragraph_text(paragraph, text_format) or paragraph for paragraph in sent]
        for p, i in zip(classify(bundle, read, include_scores=False)["paragraphs"], members, strict=True):
            roles_right += p["role"] == test.labels["role"][i][0]
            for name in LABEL_SETS:
                predicted, gold = set(p["labels"][name]), set(test.labels[name][i])
                counts[name] += (len(predicted & gold), len(predicted - gold), len(gold - predicted))
    return {
        "role_accuracy": roles_right / len(test.texts),
        **{f"{name}_micro_f1": float(micro_f1(counts[name])) for name in LABEL_SETS},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracking_uri")
    parser.add_argument("--model", default="models:/topicframe@champion")
    parser.add_argument("--pages", type=Path, nargs="+", default=PAGES, help="site sets (the first also as Markdown)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    test = load_test()
    site_sets = {
        path.stem.removeprefix("html_pages_"): json.loads(path.read_text(encoding="utf-8")) for path in args.pages
    }
    bundle, ref = store_model(args.model, args.tracking_uri)
    report: dict[str, dict] = {}
    for name, render in renderings(site_sets).items():
        report[name] = {
            reading: figures(bundle, test, render, text_format, args.seed)
            for reading, text_format in (("as plain text", "plain"), ("format detected", "auto"))
        }
        for reading, row in report[name].items():
            print(f"{name:45} {reading:16}", json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    paragraphs: dict[str, dict] = {}
    for name, markup in (("HTML paragraphs", html_element), ("Markdown paragraphs", markdown)):
        paragraphs[name] = {
            reading: paragraph_figures(bundle, test, markup, text_format)
            for reading, text_format in (("as plain text", "plain"), ("format detected", "auto"))
        }
        for reading, row in paragraphs[name].items():
            print(f"{name:45} {reading:16}", json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    record = {
        "model": f"{ref.name} v{ref.version}",
        "seed": args.seed,
        "pages": [str(path) for path in args.pages],
        "renderings": report,
        "paragraphs_sent_one_by_one": paragraphs,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
