"""Classification results in the service's response shape, shared by the API and the CLI.

`classify` scores the paragraphs as one article (or each alone), applies the
model's decision rules (roles first: non-content paragraphs get no labels, then
each label's threshold), optionally explains each predicted label, and builds the
article-level summary over the content paragraphs.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

import numpy as np

from training.bundle import ModelBundle
from training.features import ArticleLayout
from training.known_words import MIN_LOWER_CASE_WORDS, MIN_WORD_CHARACTERS
from training.markup import has_text, html_paragraphs, markdown_blocks, resolve_text_format
from training.role_features import LINKED_HEADLINE_FROM, LINKED_HEADLINE_WORDS

_BLANK_LINES = re.compile(r"\n[ \t]*\n+")
# Unicode's own breaks, as some editors and feeds write them: the paragraph separator is a blank line.
_NEWLINES = str.maketrans({"\r": "\n", "\u2028": "\n", "\x85": "\n", "\u2029": "\n\n"})
# How a line that ends a paragraph can end: a sentence, a colon or semicolon, a closing quotation or bracket.
_ENDS_A_PARAGRAPH = re.compile(r"""[.!?:;…"'”’»)\]]$""")
# Text whose lines are all at most this long, and half of them within `_WRAP_SLACK` of the longest, was wrapped
# at a fixed width: news paragraphs one per line run to 200-300 characters.
_WRAP_WIDTH, _WRAP_SLACK = 100, 12


def split_paragraphs(text: str, text_format: str = "auto") -> list[str]:
    """An article's paragraphs. ``text_format`` is ``plain``, ``markdown``, ``html`` or ``auto``
    (`training.markup.detect_text_format`): HTML and Markdown become their blocks' visible text (`training.markup`).

    In plain text, paragraphs are separated by blank lines; single newlines inside one are kept.

    Text with no blank line at all is split at its line breaks instead: a word processor's copy or a feed with
    one paragraph per line would otherwise be one paragraph, read as one role with one set of labels. A line
    continues the one before when it reads as the rest of its sentence (it starts in lower case after a line
    that does not end one), or, in text wrapped at a fixed width, when its first word would not have fitted on
    the line before (how a wrapped paragraph's lines break) and the two do not read as two sentences.
    Measured on the corpus's articles, one paragraph per line: every paragraph comes back; wrapped at 72
    characters: 88 % come back exactly (docs/quality.md, "Nineteenth pass"). Markdown with no blank line is
    split at its line breaks the same way, within each of its blocks.

    A paragraph with no letter or digit (a section break such as ``* * *``, an end mark such as ``###``) is left
    out, in every format; in plain text such a line inside a paragraph separates two.
    """
    # "* * *", "###" or "—" between sections is typography: inside an article it would be read as a headline.
    return [paragraph for paragraph in _split(text, text_format) if has_text(paragraph)]


def _split(text: str, text_format: str) -> list[str]:
    chosen = resolve_text_format(text, text_format)
    if chosen == "html":
        return html_paragraphs(text)
    if chosen == "markdown":
        normalised = _normalise_newlines(text)
        if _BLANK_LINES.search(normalised):
            return markdown_blocks(normalised)
        return [
            paragraph for block in markdown_blocks(normalised, one_per_line=True) for paragraph in _split_lines(block)
        ]
    paragraphs = split_on_blank_lines(text)
    if len(paragraphs) == 1:
        return _split_lines(paragraphs[0])
    return [part for paragraph in paragraphs for part in _split_at_section_breaks(paragraph)]


def _split_lines(paragraph: str) -> list[str]:
    """One paragraph per line of text with no blank line, but for lines that continue the one before."""
    lines = [line.strip() for line in paragraph.split("\n") if line.strip()]
    width = max(len(line) for line in lines)
    filled = sum(len(line) >= width - _WRAP_SLACK for line in lines)
    wrap_width = width if len(lines) >= 3 and width <= _WRAP_WIDTH and filled * 2 >= len(lines) else None
    joined = lines[:1]
    for line in lines[1:]:
        if _continues(joined[-1].rsplit("\n", 1)[-1], line, wrap_width):
            joined[-1] += "\n" + line  # the newline is kept, as inside a blank-line paragraph
        else:
            joined.append(line)
    return joined


def _split_at_section_breaks(paragraph: str) -> list[str]:
    """A line with no letter or digit ("* * *", "###", "—") inside a paragraph is a section break between two
    (a tester's article had one with no blank line around it: the two paragraphs came back as one)."""
    parts: list[list[str]] = [[]]
    for line in paragraph.split("\n"):
        if has_text(line):
            parts[-1].append(line)
        elif parts[-1]:
            parts.append([])
    return ["\n".join(lines) for lines in parts if lines]


def split_on_blank_lines(text: str) -> list[str]:
    """Paragraphs between blank lines only (one paragraph may hold single newlines: a correction's text)."""
    return [p.strip() for p in _BLANK_LINES.split(_normalise_newlines(text)) if p.strip()]


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").translate(_NEWLINES)


def _continues(before: str, line: str, wrap_width: int | None) -> bool:
    """Whether ``line`` is the rest of the paragraph whose last line so far is ``before``."""
    mid_sentence = not _ENDS_A_PARAGRAPH.search(before)
    if wrap_width is None:
        return mid_sentence and _starts_with_lower_case_word(line)
    next_word_fits = len(before) + 1 + len(line.split()[0]) <= wrap_width
    return not next_word_fits and (mid_sentence or _starts_with_lower_case_word(line))


def _starts_with_lower_case_word(line: str) -> bool:
    """A lower-case word, as the rest of a sentence starts; not an address (a byline's e-mail) or a link."""
    first = line.split()[0]
    return unicodedata.category(first[0]) == "Ll" and "@" not in first and not first.startswith(("http", "www."))


DECISION_RULE_TEXT = (
    "Decision rule: a paragraph whose role is not a content role ({content}) gets no labels of the other "
    "sets, whatever its scores{linked}. Otherwise, in a multi-label set a label is given when its score reaches that "
    "label's own threshold (tuned on out-of-fold scores: the middle of the cut-offs near the label's best F1; "
    "the margin is score minus threshold), then only labels scoring at least {relative} of the paragraph's top "
    "score are kept, at most {max_labels} per set, highest score first; {at_least_one}. In a single-label set the "
    "label with the top score wins. {unread}"
)


def label_thresholds(bundle: ModelBundle) -> dict[str, dict[str, float]]:
    """Each multi-label set's per-label thresholds (single-label sets have none: the top score wins)."""
    return {name: bundle.thresholds(name) for name in bundle.label_sets if bundle.multi_label[name]}


def decision_rule(bundle: ModelBundle) -> dict[str, Any]:
    """What turns scores into labels after the thresholds: caps, and which roles carry labels."""
    decision = bundle.config.decision
    return {
        "max_labels": decision.max_labels,
        "relative_to_top": decision.relative_to_top or None,
        "content_roles": list(bundle.config.roles.content) if bundle.role_set is not None else [],
        "linked_headlines": bundle.reads_linked_headlines,
        "at_least_one": {name: bundle.at_least_one(name) for name in bundle.label_sets if bundle.multi_label[name]},
        "min_known_words": decision.min_known_words or None,
    }


def describe_decision_rule(bundle: ModelBundle) -> str:
    """`DECISION_RULE_TEXT` filled in with this model's own settings."""
    rule = decision_rule(bundle)
    return DECISION_RULE_TEXT.format(
        content=", ".join(rule["content_roles"]) or "every paragraph counts: this model has no roles",
        linked=(
            f" (a title-shaped line of at least {LINKED_HEADLINE_WORDS} words from paragraph "
            f"{LINKED_HEADLINE_FROM + 1} of an article of at least {bundle.config.roles.min_article_paragraphs} "
            "paragraphs on, counted from the first paragraph read as its headline, that the role model reads as a "
            "headline is read as a promo: another story's headline linked in the page)"
            if rule["linked_headlines"]
            else ""
        ),
        relative=f"{rule['relative_to_top']:.0%}" if rule["relative_to_top"] else "0%",
        max_labels=rule["max_labels"] or "any number of labels",
        at_least_one=(
            f"in {', '.join(fallback)} a content paragraph none of whose labels passes gets its top label"
            if (fallback := [name for name, on in rule["at_least_one"].items() if on])
            else "a paragraph none of whose labels passes gets none"
        ),
        unread=(
            f"A paragraph fewer than {rule['min_known_words']:.0%} of whose lower-case words are in the model's "
            "vocabulary (names and numbers aside) is not read (another language, garbled text): it gets no labels "
            f"and is left out of the summary's shares (Latin-script text of under {MIN_WORD_CHARACTERS} word "
            f"characters or {MIN_LOWER_CASE_WORDS} lower-case words is always read)."
            if rule["min_known_words"]
            else "Every paragraph is read, whatever share of its words the model knows."
        ),
    )


def classify(
    bundle: ModelBundle,
    paragraphs: list[str],
    label_sets: list[str] | None = None,
    explain: int = 0,
    include_scores: bool = True,
    article: bool = True,
    roles: list[str] | None = None,
) -> dict[str, Any]:
    """``{"paragraphs": [...], "summary": {...}}`` for a list of paragraphs.

    With ``article`` (the default) the paragraphs are one article in page order: the role model
    sees their positions and the other sets their neighbours. Otherwise each is scored alone.
    ``label_sets`` names content sets (``topic``, ``frame``); the role, when the model has one,
    is always given as ``role`` and ``role_score``. ``roles``: each paragraph's role as the caller knows it
    (`ModelBundle.score`; None: the model decides); a given role's ``role_score`` is None.
    """
    label_sets = [name for name in (label_sets or bundle.content_label_sets) if name != bundle.role_set]
    layout = ArticleLayout.single_article(len(paragraphs)) if article else ArticleLayout.alone(len(paragraphs))
    scored = bundle.score(paragraphs, label_sets, layout, roles)
    scores = scored.scores
    decided = {name: bundle.decide(name, s, scored.labelled) for name, s in scores.items()}
    # None where the share was not judged (too little Latin-script prose): the paragraph is read.
    known_words = [None if np.isnan(share) else share for share in np.round(scored.known_words, 4).tolist()]
    read = scored.read.tolist()
    # The full feature matrices are built only for explanations (one per headline weight of the article block).
    X = {name: scored.features_of(name).tocsr() for name in label_sets} if explain else None
    # Rounded in numpy and turned into lists once: per-score Python rounding was most of a large request.
    rounded = {name: np.round(s, 4).tolist() for name, s in scores.items()} if include_scores else {}
    # Margins to each label's threshold say how near a label was to being given (or taken away).
    margin_sets = [name for name in label_sets if bundle.multi_label[name]] if include_scores else []
    margins = {
        name: np.round(scores[name] - np.fromiter(bundle.thresholds(name).values(), float), 4).tolist()
        for name in margin_sets
    }
    roles, role_scores = scored.roles, None
    if scored.role_scores is not None:  # NaN where the caller gave the role: no score, as with every role given
        role_scores = [None if np.isnan(s) else s for s in np.round(scored.role_scores.max(axis=1), 4).tolist()]
    results = []
    for i, text in enumerate(paragraphs):
        item: dict[str, Any] = {"index": i, "text": text}
        if roles is not None:
            item["role"], item["role_score"] = roles[i], role_scores[i] if role_scores is not None else None
        item["known_words"], item["read"] = known_words[i], read[i]
        item["labels"] = {name: decided[name][i] for name in label_sets}
        if include_scores:
            item["scores"] = {
                name: dict(zip(bundle.label_names[name], rounded[name][i], strict=True)) for name in label_sets
            }
            if margin_sets:
                item["margins"] = {
                    name: dict(zip(bundle.label_names[name], margins[name][i], strict=True)) for name in margin_sets
                }
        if X is not None:
            explained = bundle.explain_row({name: rows[i] for name, rows in X.items()}, explain, item["labels"], text)
            item["explanations"] = {
                name: {
                    label: [{"term": term, "weight": weight} for term, weight in terms]
                    for label, terms in per_label.items()
                }
                for name, per_label in explained.items()
            }
        results.append(item)
    content = scored.labelled
    counted = {name: [row for row, keep in zip(rows, content, strict=True) if keep] for name, rows in decided.items()}
    summary = summarize(bundle, counted, {name: s[content] for name, s in scores.items()})
    summary["paragraphs"], summary["content_paragraphs"] = len(paragraphs), int(content.sum())
    # Every paragraph not read, whatever its role: the role model's reading of a language it was not trained on
    # (often "promo" or "caption") is a guess too.
    summary["unread_paragraphs"] = int((~scored.read).sum())
    if roles is not None:
        summary["roles"] = dict(Counter(roles))
    return {"paragraphs": results, "summary": summary}


def summarize(
    bundle: ModelBundle, decided: dict[str, list[list[str]]], scores: dict[str, np.ndarray]
) -> dict[str, Any]:
    """Article view over the content paragraphs (body and headline; all of them for a model without
    roles): label counts and shares, the primary label, and topic x frame co-occurrence."""
    n = len(next(iter(decided.values()), []))
    summary: dict[str, Any] = {"paragraphs": n, "label_sets": {}}
    for name, rows in decided.items():
        counts = Counter(label for row in rows for label in row)
        totals = dict(zip(bundle.label_names[name], scores[name].sum(axis=0).tolist(), strict=True))
        present = [label for label in bundle.label_names[name] if counts[label]]  # codebook order
        # Most paragraphs wins; ties go to the label with the higher total score.
        primary = max(present, key=lambda label: (counts[label], totals[label])) if present else None
        summary["label_sets"][name] = {
            "primary": primary,
            "counts": {
                label: {"paragraphs": counts[label], "share": round(counts[label] / n, 4) if n else 0.0}
                for label in present
            },
        }
    if "topic" in decided and "frame" in decided:
        with_topic = Counter(topic for row in decided["topic"] for topic in row)
        pairs = Counter(
            (topic, frame)
            for topics, frames in zip(decided["topic"], decided["frame"], strict=True)
            for topic in topics
            for frame in frames
        )
        summary["topic_frames"] = {
            topic: {
                frame: {
                    "paragraphs": pairs[topic, frame],
                    "of": with_topic[topic],
                    "share": round(pairs[topic, frame] / with_topic[topic], 4),
                }
                for frame in bundle.label_names["frame"]
                if pairs[topic, frame]
            }
            for topic in bundle.label_names["topic"]
            if with_topic[topic]
        }
    return summary
