"""POST /v1/classify: labels, scores and evidence per paragraph, plus the article summary.

This is the hot path, kept lean on purpose (measured on a one-paragraph
request, about 1 ms in all): the body is parsed and validated in one step by
pydantic's JSON parser and the app state is read directly instead of through
dependencies (FastAPI's body handling and three dependencies cost ~0.16 ms),
the response is built by `training.classify.classify` (one vectorizer pass over
all paragraphs) and written straight to JSON bytes, without response-model
validation. `ClassifyResponse` only documents it.

`training.classify` is imported on first use (the model loader imports it in the
background at start-up), so the server binds its port without waiting for it.
A linear model scores without scikit-learn (`training.scoring`), so a worker never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from service.dependencies import serving_model
from service.encoding import to_json
from service.errors import ClientError, limit_error
from service.metrics import Metrics
from service.middleware import MODEL_VERSION, N_PARAGRAPHS, TEXT
from service.schemas import ClassifyRequest, ClassifyResponse, ErrorResponse, example_response
from service.settings import Settings

if TYPE_CHECKING:
    from training.bundle import ModelBundle

router = APIRouter(tags=["classify"])

# Up to this many characters (32 typical paragraphs) a request is classified on
# the event loop: the thread hop and the GIL hand-offs cost more than they save
# (measured, 1 worker, 16 connections: 1-paragraph requests 765/s inline vs 417/s
# in the thread pool; 32-paragraph requests 171/s vs 104/s). Bigger requests go
# to the thread pool so they do not hold up /healthz and small requests for long.
INLINE_MAX_CHARS = 8_000
# The same for requests that are heavy for their size: many short paragraphs (1,000 of ~10 characters,
# under INLINE_MAX_CHARS, took ~100 ms), and explanations (40 paragraphs with explain=20: ~85 ms, and
# /healthz waited ~170 ms behind two clients sending them; 4 paragraphs with explain: ~15 ms).
INLINE_MAX_PARAGRAPHS = 64
INLINE_MAX_EXPLAINED_PARAGRAPHS = 4


def runs_inline(paragraphs: list[str], explain: int) -> bool:
    """Whether a request is small enough to classify on the event loop (see INLINE_MAX_*)."""
    if len(paragraphs) > (INLINE_MAX_EXPLAINED_PARAGRAPHS if explain > 0 else INLINE_MAX_PARAGRAPHS):
        return False
    return sum(map(len, paragraphs)) <= INLINE_MAX_CHARS


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "API key missing (when TOPICFRAME_API_KEY is set)"},
    403: {"model": ErrorResponse, "description": "API key not valid"},
    413: {"model": ErrorResponse, "description": "Body larger than TOPICFRAME_MAX_BODY_BYTES"},
    415: {"model": ErrorResponse, "description": "A compressed body (Content-Encoding other than identity)"},
    422: {"model": ErrorResponse, "description": "Invalid request: `loc` is the field, `limit` the limit exceeded"},
    503: {"model": ErrorResponse, "description": "No model loaded yet; see Retry-After"},
}


# The body is parsed in the route, so FastAPI cannot describe it: document it here.
REQUEST_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": ClassifyRequest.model_json_schema()}},
    }
}


def parse_request(raw: bytes) -> ClassifyRequest:
    """Parse and validate the JSON body; errors become 422s located under "body"."""
    try:
        return ClassifyRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        ) from None


async def text_paragraphs(body: ClassifyRequest, settings: Settings) -> tuple[list[str], str]:
    """``text`` split into paragraphs as its format says, within the limits, and the format it was read as.

    A large text is read in the thread pool: reading Markdown especially (~0.8 ms per KB) would hold up the
    event loop.
    """
    assert body.text is not None  # the request model guarantees one of text and paragraphs
    if len(body.text) > INLINE_MAX_CHARS:
        return await anyio.to_thread.run_sync(split_text, body.text, body.text_format, settings)
    return split_text(body.text, body.text_format, settings)


def split_text(text: str, given_format: str, settings: Settings) -> tuple[list[str], str]:
    """The paragraphs of ``text`` within the configured limits (422 naming the limit otherwise), and how it
    was read."""
    from training.classify import split_paragraphs
    from training.markup import MarkdownTooDeep, resolve_text_format

    text_format = resolve_text_format(text, given_format)
    if text_format == "markdown" and len(text) > settings.max_markdown_chars:
        raise limit_error(
            ["body", "text"],
            f"{len(text)} characters read as Markdown; at most {settings.max_markdown_chars} allowed "
            "(text_format 'plain' reads it as plain text)",
            "max_markdown_chars",
        )
    try:
        paragraphs = split_paragraphs(text, text_format)
    except MarkdownTooDeep as err:
        raise ClientError(422, ["body", "text"], str(err), "markdown_too_deep") from None
    if not paragraphs:  # markup with nothing but tags, images, links or navigation
        raise ClientError(
            422,
            ["body", "text"],
            f"read as {text_format}, the text has no paragraph to classify (tags, images, scripts, navigation "
            "and blocks that are only links are left out); text_format 'plain' classifies it as it is",
            "no_text",
        )
    check_paragraph_limits(paragraphs, "text", settings)
    return paragraphs, text_format


def visible_text(paragraph: str, text_format: str, loc: list[str | int], no_text: str) -> str:
    """One paragraph read as its visible text when it is markup (a CMS's paragraph HTML), as training reads it;
    a 422 at ``loc`` when its Markdown is nested too deep to read, or when no letter or digit is left (``no_text``
    says so). Classify's ``paragraphs`` and a correction's ``text`` are both read here."""
    from training.markup import MarkdownTooDeep, has_text, paragraph_text

    try:
        text = paragraph_text(paragraph, text_format)
    except MarkdownTooDeep as err:
        raise ClientError(422, loc, str(err), "markdown_too_deep") from None
    if not has_text(text):
        raise ClientError(422, loc, no_text, "no_text")
    return text


def read_paragraph_markup(given: list[str], text_format: str) -> list[str]:
    """``paragraphs`` as sent, each read as its visible text (`visible_text`); 422 naming the paragraph."""
    return [
        visible_text(
            paragraph,
            text_format,
            ["body", "paragraphs", i],
            f"paragraph {i} has no letter or digit once read as markup (tags, images and scripts are left out); "
            "text_format 'plain' classifies it as it is",
        )
        for i, paragraph in enumerate(given)
    ]


def check_paragraph_limits(paragraphs: list[str], field: str, settings: Settings) -> None:
    """422 naming the limit: too many paragraphs, or one too long (as sent, before any markup is read)."""
    if len(paragraphs) > settings.max_paragraphs:
        raise limit_error(
            ["body", field],
            f"{len(paragraphs)} paragraphs; at most {settings.max_paragraphs} allowed",
            "max_paragraphs",
        )
    for i, paragraph in enumerate(paragraphs):
        if len(paragraph) > settings.max_paragraph_chars:
            # `paragraphs[i]` is named by its JSON index; a paragraph of `text` has none, so it is counted as a
            # reader counts (the web page's ¶ numbers), from 1.
            loc: list[str | int] = ["body", "paragraphs", i] if field == "paragraphs" else ["body", "text"]
            which = f"paragraph {i}" if field == "paragraphs" else f"paragraph {i + 1} of the text (counting from 1)"
            raise limit_error(
                loc,
                f"{which} has {len(paragraph)} characters; at most {settings.max_paragraph_chars} allowed",
                "max_paragraph_chars",
            )


def label_sets_of(body: ClassifyRequest, bundle: ModelBundle) -> list[str]:
    """The requested label sets in request order, duplicates dropped; 422 listing the valid ones otherwise.

    The role set is not one to ask for: every paragraph's role comes with it when the model has roles.
    """
    if body.label_sets is None:
        return bundle.content_label_sets
    for i, name in enumerate(body.label_sets):
        if name not in bundle.content_label_sets:
            valid = ", ".join(bundle.content_label_sets)
            raise ClientError(
                422, ["body", "label_sets", i], f"unknown label set '{name}'; valid: {valid}", "unknown_label_set"
            )
    return list(dict.fromkeys(body.label_sets))


def role_of(body: ClassifyRequest, bundle: ModelBundle) -> str | None:
    """The role the client gives every paragraph (`role`), checked by the model against its role codebook."""
    if body.role is not None:
        try:
            bundle.check_roles([body.role], 1)
        except ValueError as err:
            raise ClientError(
                422, ["body", "role"], str(err), "unknown_label" if bundle.role_set is not None else "no_roles"
            ) from None
    return body.role


def run_classifier(
    bundle: ModelBundle,
    paragraphs: list[str],
    label_sets: list[str],
    explain: int,
    include_scores: bool,
    article: bool = True,
    markup_format: str | None = None,
    role: str | None = None,
) -> dict:
    """The response's paragraphs and summary. With ``markup_format``, ``paragraphs`` are as the client sent
    them and are read as text first, here, so that a heavy request reads its markup in the thread pool too."""
    from training.classify import classify
    from training.scoring import sklearn_checks_off

    if markup_format is not None:
        paragraphs = read_paragraph_markup(paragraphs, markup_format)
    with sklearn_checks_off():
        roles = [role] * len(paragraphs) if role is not None else None
        return classify(bundle, paragraphs, label_sets, explain, include_scores, article, roles)


@router.post(
    "/v1/classify",
    summary="Classify paragraphs or an article",
    response_model=ClassifyResponse,
    responses={200: {"content": {"application/json": {"example": example_response()}}}, **ERRORS},
    openapi_extra=REQUEST_BODY_DOC,
)
async def classify_paragraphs(request: Request) -> Response:
    """Per paragraph: the labels that passed their thresholds (highest score first), optionally every
    label's score and the top terms behind each label; plus the article summary."""
    model = await serving_model(request)  # taken once: a reload during this request does not affect it
    settings: Settings = request.app.state.settings
    metrics: Metrics = request.app.state.metrics
    body = parse_request(await request.body())
    text_format: str | None = None  # how `text` was read; None for `paragraphs`
    markup_format: str | None = None  # how `paragraphs` are still to be read (by run_classifier)
    if body.paragraphs is not None:
        check_paragraph_limits(body.paragraphs, "paragraphs", settings)
        paragraphs, markup_format = body.paragraphs, body.text_format
    else:
        paragraphs, text_format = await text_paragraphs(body, settings)
    label_sets = label_sets_of(body, model.bundle)
    role = role_of(body, model.bundle)
    if body.explain > settings.max_explain:
        raise limit_error(
            ["body", "explain"], f"explain is {body.explain}; at most {settings.max_explain} allowed", "max_explain"
        )
    request.scope[N_PARAGRAPHS] = len(paragraphs)
    request.scope[MODEL_VERSION] = model.ref.version
    args = (model.bundle, paragraphs, label_sets, body.explain, body.include_scores, body.article, markup_format, role)
    # Heavy or not is judged on the paragraphs as sent: reading their markup costs by its length too.
    if runs_inline(paragraphs, body.explain):
        result = run_classifier(*args)
    else:
        result = await anyio.to_thread.run_sync(run_classifier, *args)
    metrics.paragraphs.inc(len(paragraphs))
    if settings.log_level == "debug":  # the paragraphs as classified: `paragraphs`' markup is read by now
        request.scope[TEXT] = [paragraph["text"] for paragraph in result["paragraphs"]]
    return Response(
        to_json({"model": model.describe(), "text_format": text_format, **result}), media_type="application/json"
    )
