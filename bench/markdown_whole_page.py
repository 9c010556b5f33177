"""A whole web page sent as Markdown, filtered by trafilatura's main text as whole HTML pages are: measured, not
taken (docs/quality.md, "Twenty-third pass"; rule pre-registered before the figures were read).

    .venv/bin/python -m bench.markdown_whole_page TRACKING_URI [--model models:/topicframe@champion]

A reader tool or markdownify that converts a whole page keeps its chrome as text. The candidate reads such
Markdown (at least 5 lines that are nothing but links: menus, story lists) rendered to HTML by markdown-it, and
keeps the blocks trafilatura also finds in its main text, the first level-1 heading and the page's title, as
`training.markup` does for an HTML page. Reported with `bench.markup_paste.figures` (seed 0) for the shipped
reader and the candidate, on three site sets converted by markdownify (`eval` to design, `third` and `fourth` to
confirm) and on the article-only Markdown renderings, where the candidate must not fire.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import bench.markup_paste as paste
from training import markup
from training.classify import split_paragraphs

RESULTS = Path(__file__).resolve().parent / "results" / "markdown_whole_page.json"
# A line that is nothing but a link, maybe in a list or after a rank number ("1[Story](/path)").
_LINK_ONLY_LINE = re.compile(r"^\s*(?:[*+-]|\d+[.)])?\s*(?:\d+)?\[[^\]\n]*\]\([^)\n]*\)\s*$", re.MULTILINE)


def _first_h1(text: str) -> str | None:
    tokens = markup._COMMONMARK.parse(text)
    for k, token in enumerate(tokens):
        if token.type == "heading_open" and token.tag == "h1":
            return markup._collapse("\n".join(markup.markdown_blocks("# " + tokens[k + 1].content)))
    return None


def candidate_split(text: str, text_format: str = "auto") -> list[str]:
    paragraphs = split_paragraphs(text, text_format)
    if markup.resolve_text_format(text, text_format) != "markdown" or len(_LINK_ONLY_LINE.findall(text)) < 5:
        return paragraphs
    page = "<html><body>" + markup._COMMONMARK.render(text) + "</body></html>"
    return markup._article_only(page, paragraphs, _first_h1(text))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tracking_uri")
    parser.add_argument("--model", default="models:/topicframe@champion")
    args = parser.parse_args()
    test = paste.load_test()
    bundle, ref = paste.store_model(args.model, args.tracking_uri)
    renderings = {
        **{
            f"whole pages as Markdown ({name})": paste.as_markdown(
                paste.in_site(json.loads((paste.DATA / f"html_pages_{name}.json").read_text(encoding="utf-8")))
            )
            for name in ("eval", "third", "fourth")
        },
        "Markdown, blank lines": paste.joined(paste.markdown, "\n\n"),
        "Markdown, one block per line": paste.joined(paste.markdown, "\n"),
        "Markdown without images, blank lines": paste.joined(paste.markdown_without_images, "\n\n"),
    }
    report: dict[str, dict[str, dict[str, float]]] = {}
    for reader, split in (("shipped", split_paragraphs), ("candidate", candidate_split)):
        paste.split_paragraphs = split  # what paste.figures splits each rendering with
        for name, render in renderings.items():
            row = paste.figures(bundle, test, render, "auto", seed=0)
            report.setdefault(name, {})[reader] = row
            print(f"{reader:9} {name:45}", json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    paste.split_paragraphs = split_paragraphs
    RESULTS.write_text(json.dumps({"model": f"{ref.name} v{ref.version}", "renderings": report}, indent=1) + "\n")


if __name__ == "__main__":
    main()
