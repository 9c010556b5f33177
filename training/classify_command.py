"""`topicframe classify`: one article's paragraphs through a registered or local model, in four output formats.

``training.cli`` registers the command. Only typer and the package's light modules are imported at the
top (``--help`` stays fast): the model and the scoring code are imported in the body.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from training.cli_options import ConfigOption, ModelOption, ModelSha256Option
from training.console import console, write_classification
from training.errors import TopicframeError
from training.paragraph_input import INPUT_FORMATS, read_paragraphs

OUTPUT_FORMATS = ("table", "json", "jsonl", "csv")


def classify(
    file: Annotated[
        Path,
        typer.Argument(
            help="- (stdin), .txt (paragraphs separated by blank lines, or one per line; HTML or Markdown is "
            "detected), .md, .html, .jsonl ('text' and optional 'id' per line) or .csv ('text' and optional 'id' "
            "columns)"
        ),
    ],
    model: ModelOption = None,
    config: ConfigOption = None,
    explain: Annotated[int, typer.Option("--explain", min=0, max=50, help="top-k terms per predicted label")] = 0,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table, json (the service's response schema), jsonl (one paragraph per line) or csv "
            "[default: table on a terminal, else json]",
            show_default=False,
        ),
    ] = None,
    input_format: Annotated[
        str | None,
        typer.Option(
            "--input-format",
            help="txt (plain text), md, html, jsonl or csv [default: from the suffix; stdin: jsonl if it starts "
            "with '{'; other text: HTML or Markdown when it looks like it, else plain]",
            show_default=False,
        ),
    ] = None,
    model_sha256: ModelSha256Option = None,
    role: Annotated[
        str | None,
        typer.Option(
            "--role",
            help="every paragraph's role as you know it (body, for text taken from an article's body): the role "
            "model is not run, so a lone sentence it would read as a caption is labelled",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Classify the paragraphs of one article, in page order; ids given in the input are echoed.

    Decision rule: a paragraph whose role is not body or headline, or that the model cannot read (fewer than
    decision.min_known_words of its lower-case words in its vocabulary: another language), gets no topic and
    no frame; otherwise a label is given when its score reaches that label's own threshold (tuned on
    out-of-fold scores near its best F1), then at most decision.max_labels labels, each scoring at least
    decision.relative_to_top of the top one (in sets trained with decision.at_least_one, a paragraph with
    none gets its top label);
    single-label sets take the top score. GET /v1/labels shows the thresholds.
    """
    from training.classify import classify as classify_paragraphs
    from training.registry import champion_uri, load_model

    chosen = output_format or ("table" if console.is_terminal else "json")
    if chosen not in OUTPUT_FORMATS:
        raise TopicframeError(f"--format {chosen}: expected one of {', '.join(OUTPUT_FORMATS)}")
    if input_format is not None and input_format not in INPUT_FORMATS:
        raise TopicframeError(f"--input-format {input_format}: expected one of {', '.join(INPUT_FORMATS)}")
    paragraphs, ids, text_format = read_paragraphs(file, input_format)
    bundle, ref = load_model(model or champion_uri(config), expected_sha256=model_sha256)
    roles = None
    if role is not None:
        try:
            bundle.check_roles([role], 1)
        except ValueError as err:
            raise TopicframeError(f"--role {role}: {err}") from None
        roles = [role] * len(paragraphs)
    result = {"text_format": text_format, **classify_paragraphs(bundle, paragraphs, explain=explain, roles=roles)}
    if ids is not None:
        for item, paragraph_id in zip(result["paragraphs"], ids, strict=True):
            item["id"] = paragraph_id
    model_info = {"name": ref.name, "version": ref.version, "alias": ref.alias, "run_id": ref.run_id}
    write_classification(chosen, {"model": model_info, **result}, bundle)
