"""Request and response bodies, as documented in the OpenAPI schema.

Requests are validated with these models. Responses are *not* validated on the
hot path: the classify route returns `training.classify.classify`'s dict
serialized with orjson; the response models here describe that dict for the
docs and for the schema tests, which check real responses against them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator
from pydantic_core import PydanticCustomError

ARTICLE_EXAMPLE = (
    "Washington and Beijing agreed to extend the tariff truce, with China pledging to buy more soybeans.\n\n"
    "Photograph: Kim Lee for the Daily Ledger"
)


def _document_request(schema: dict[str, Any]) -> None:
    """The JSON schema says what the validators enforce: no nulls, exactly one of paragraphs/text."""
    for name in ("paragraphs", "text", "label_sets"):
        prop = schema["properties"][name]
        prop.update(next(branch for branch in prop.pop("anyOf") if branch.get("type") != "null"))
        prop.pop("default", None)
    schema["oneOf"] = [{"required": ["paragraphs"]}, {"required": ["text"]}]
    schema["examples"] = [
        {"paragraphs": ["Customs officers detained three shipments of solar panels at the port"], "explain": 3},
        {"text": ARTICLE_EXAMPLE, "label_sets": ["topic"], "include_scores": False},
    ]


def _has_text(value: str) -> str:
    # The pattern below lets through what JSON Schema (and pydantic's regex engine) do not call white space:
    # "\x1c\x1d", a zero-width space, "* * *". Nothing to classify there either, by the rule every consumer
    # applies (imported here, not at start-up: training.markup brings the HTML and Markdown readers).
    from training.markup import has_text

    if not has_text(value):
        raise PydanticCustomError(
            "no_text", "must contain a letter or a digit, not only white space, control characters or punctuation"
        )
    return value


# How a request's `text` is read (training.markup); the response says which of the last three was used.
TextFormatIn = Literal["auto", "plain", "markdown", "html"]
TextFormatOut = Literal["plain", "markdown", "html"]

# Text to classify: at least one letter or digit. A blank or control-character-only "paragraph" is a
# client mistake (a 422 naming the field), not something to classify.
NonBlank = Annotated[str, StringConstraints(min_length=1, pattern=r"\S"), AfterValidator(_has_text)]


class ClassifyRequest(BaseModel):
    """Exactly one of ``paragraphs`` or ``text``."""

    # strict: "3" is not an int and 1 is not a bool; extra="forbid": a misspelt option is an error, not ignored.
    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_document_request)

    paragraphs: list[NonBlank] | None = Field(
        None,
        min_length=1,
        description="The paragraphs to classify, in order (at most TOPICFRAME_MAX_PARAGRAPHS, "
        "each at most TOPICFRAME_MAX_PARAGRAPH_CHARS characters and with at least one letter or digit).",
    )
    text: NonBlank | None = Field(
        None,
        description="A whole article, with at least one letter or digit; split into paragraphs on blank lines "
        "(single newlines stay inside a paragraph), or, in text with no blank line, one paragraph per line "
        "(a line that continues a sentence, or a fixed-width wrap, stays with the one before). The same limits "
        "apply to the paragraphs it splits into.",
    )
    text_format: TextFormatIn = Field(
        "auto",
        description="How to read `text`: HTML (a feed item, a saved page) and Markdown become one paragraph per "
        "block of their visible text (tags, link targets, images and emphasis marks dropped; <br><br> separates "
        "paragraphs); 'auto' reads text with an HTML block tag (or an inline element's end tag, such as </a>) as "
        "HTML, else text with Markdown headings, links, **strong** text or a whole line in *emphasis* as Markdown, "
        "else as plain text. The response's text_format says which was used. With `paragraphs`, each paragraph is "
        "read so (detected one by one for 'auto') and stays one paragraph: its `text` in the response is what was "
        "classified.",
    )
    label_sets: list[str] | None = Field(
        None,
        min_length=1,
        description="Label sets to predict (see GET /v1/labels); default all.",
    )
    explain: int = Field(0, ge=0, description="Top-k terms per predicted label (at most TOPICFRAME_MAX_EXPLAIN).")
    include_scores: bool = Field(True, description="Include every label's score for every paragraph.")
    article: bool = Field(
        True,
        description="Treat the paragraphs as one article in page order: the role model sees their positions and "
        "the label sets their neighbours' context. false scores each paragraph alone (unrelated paragraphs).",
    )
    role: str | None = Field(
        None,
        description='Every paragraph\'s role as you know it, for text already taken from an article ("body"): '
        "the role model is not run, so a lone sentence it would read as a photo caption is labelled; each "
        "paragraph's role is this one and its role_score null. A role of GET /v1/labels' role codebook.",
        examples=["body"],
    )

    @field_validator("paragraphs", "text", "label_sets", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null: leave the field out instead")
        return value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> ClassifyRequest:
        if (self.paragraphs is None) == (self.text is None):
            raise ValueError("give exactly one of 'paragraphs' or 'text'")
        return self


class ModelRefOut(BaseModel):
    name: str = Field(examples=["topicframe"])
    version: str | None = Field(examples=["3"], description="registry version; null for a local model directory")
    alias: str | None = Field(examples=["champion"])
    run_id: str | None = Field(examples=["4f0c2a9e8b7d4c1e9a6b3d2f1e0c9b8a"])


class Term(BaseModel):
    term: str
    weight: float = Field(description="TF-IDF value x the label's weight for the term")


class ParagraphResult(BaseModel):
    index: int
    text: str
    role: str | None = Field(
        None,
        description="What the paragraph is on the page: body, headline, byline, caption, promo or footer "
        "(absent for a model trained without roles). Only body and headline paragraphs get labels.",
        examples=["body"],
    )
    role_score: float | None = Field(None, description="The role model's probability for that role")
    known_words: float | None = Field(
        description="The share of the paragraph's distinct lower-case words (names and numbers aside) in the "
        "model's vocabulary; null where there is too little to judge (Latin-script text of fewer than 20 word "
        "characters or 3 such words), which is read",
        examples=[0.96],
    )
    read: bool = Field(
        description="Whether the model knows enough of its words to label it (`decision_rule.min_known_words`). "
        "A paragraph in another language, or garbled text, is not read: it gets no labels and is left out of the "
        "summary's shares; its role is the role model's guess",
        examples=[True],
    )
    labels: dict[str, list[str]] = Field(
        description="Per label set, the labels whose score passed the label's threshold, highest score first",
        examples=[{"topic": ["trade"], "frame": ["economic_consequences"]}],
    )
    scores: dict[str, dict[str, float]] | None = Field(
        None,
        description="Per label set, every label's score in [0, 1] (absent when include_scores is false)",
    )
    margins: dict[str, dict[str, float]] | None = Field(
        None,
        description="Multi-label sets only: per label, score minus the label's threshold (>= 0 passed the "
        "threshold; the caps of the decision rule, the paragraph's role or its not being read may still drop it). "
        "Present when include_scores is true",
        examples=[{"topic": {"trade": 0.47, "diplomacy": -0.02}}],
    )
    explanations: dict[str, dict[str, list[Term]]] | None = Field(
        None,
        description="Per label set and predicted label, the top terms behind it (present when explain > 0)",
    )


class LabelCount(BaseModel):
    paragraphs: int
    share: float = Field(description="paragraphs with the label / content paragraphs")


class LabelSetSummary(BaseModel):
    primary: str | None = Field(description="the label on most paragraphs (ties: higher total score); null if none")
    counts: dict[str, LabelCount] = Field(description="labels present on at least one paragraph")


class FrameShare(BaseModel):
    paragraphs: int = Field(description="paragraphs with both the topic and the frame")
    of: int = Field(description="paragraphs with the topic")
    share: float


class Summary(BaseModel):
    paragraphs: int = Field(description="all paragraphs of the request")
    content_paragraphs: int = Field(
        description="paragraphs whose role carries labels (body, headline) and that the model read; shares use these"
    )
    unread_paragraphs: int = Field(
        0,
        description="paragraphs the model did not read (`read` is false: another language, garbled text), whatever "
        "their role",
    )
    roles: dict[str, int] | None = Field(None, description="paragraphs per role (absent for a model without roles)")
    label_sets: dict[str, LabelSetSummary]
    topic_frames: dict[str, dict[str, FrameShare]] | None = Field(
        None,
        description="topic -> frames it co-occurs with (when both 'topic' and 'frame' are predicted)",
    )


class ClassifyResponse(BaseModel):
    model: ModelRefOut
    text_format: TextFormatOut | None = Field(
        None,
        description="how `text` was read (as given, or detected for 'auto'); null for `paragraphs` (each is read "
        "on its own; its `text` in the response is what was classified)",
    )
    paragraphs: list[ParagraphResult]
    summary: Summary


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description='where the problem is, e.g. ["body", "paragraphs", 3]')
    msg: str
    type: str
    limit: str | None = Field(None, description="the setting whose limit was exceeded, e.g. TOPICFRAME_MAX_PARAGRAPHS")
    reason: str | None = Field(
        None,
        description="why no model is served (503 model_not_ready only): loading, registry_unreachable, "
        "alias_not_set, model_not_found, integrity_failed or load_failed",
        examples=["registry_unreachable"],
    )


class ErrorResponse(BaseModel):
    detail: list[ErrorItem]


class LabelOut(BaseModel):
    name: str
    description: str
    include: list[str]
    exclude: list[str]
    examples: list[str]


class CodebookOut(BaseModel):
    name: str
    multi_label: bool
    description: str
    sha256: str
    labels: list[LabelOut]


class DecisionRule(BaseModel):
    max_labels: int | None = Field(description="at most this many labels per paragraph and multi-label set")
    relative_to_top: float | None = Field(
        description="a label must score at least this share of the paragraph's top score in its set"
    )
    content_roles: list[str] = Field(
        description="roles whose paragraphs get labels of the other sets (empty: a model without roles)"
    )
    linked_headlines: bool = Field(
        description="whether a title-shaped line of at least 8 words from an article's fourth paragraph on that the "
        "role model reads as a headline is read as a promo (another story's headline linked in the page), so it "
        "gets no labels (articles of at least the model's minimum length; `roles.linked_headlines`)"
    )
    at_least_one: dict[str, bool] = Field(
        description="per multi-label set: whether a content paragraph none of whose labels passes its threshold "
        "gets its top-scoring label (chosen at training by out-of-fold micro-F1)",
        examples=[{"topic": True, "frame": False}],
    )
    min_known_words: float | None = Field(
        description="a paragraph with a smaller share of its lower-case words in the model's vocabulary (`known_words`)"
        " is not read: no labels, not in the summary's shares (null: every paragraph is read)",
        examples=[0.5],
    )


class LabelsResponse(BaseModel):
    label_sets: dict[str, CodebookOut] = Field(description="the codebooks the served model was trained with")
    thresholds: dict[str, dict[str, float]] = Field(
        description="multi-label sets: each label's threshold, tuned near its best F1 on out-of-fold scores "
        "(single-label sets are absent: the label with the top score wins)",
        examples=[{"topic": {"trade": 0.41, "diplomacy": 0.37}}],
    )
    decision_rule: DecisionRule = Field(description="how scores become labels after the thresholds")


class ModelDetails(ModelRefOut):
    uri: str = Field(description="the configured model URI")
    data_digest: str = Field(description="digest of the training data")
    codebook_sha256: str
    bundle_sha256: str | None = Field(description="sha256 of the model artifact, as recorded in the registry")
    metrics: dict[str, float] = Field(description="test metrics recorded at training")
    label_sets: list[str]
    created_at: str = Field(description="when the model was trained")
    loaded_at: str = Field(description="when this worker loaded it")
    versions: dict[str, str] = Field(description="library versions the model was trained with")


class ReloadResponse(BaseModel):
    changed: bool = Field(description="whether the served version changed")
    previous: ModelRefOut | None
    model: ModelRefOut
    loaded_at: str


class ReloadFailed(BaseModel):
    detail: list[ErrorItem]
    serving: ModelRefOut | None = Field(description="the model that keeps serving")


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class LoadFailureOut(BaseModel):
    reason: str = Field(examples=["integrity_failed"], description="as in the 503s: `registry_unreachable`, ...")
    msg: str = Field(description="what went wrong, in words")
    at: str = Field(examples=["2026-12-07T13:05:00+00:00"], description="when (UTC)")


class Readiness(BaseModel):
    status: str = Field(examples=["ready"])
    model: ModelRefOut
    last_load_failure: LoadFailureOut | None = Field(
        default=None,
        description="The last load since this model was loaded failed (an admin reload, or the alias moved to a "
        "version that does not load): this model keeps serving, and is not the one the alias names. Null once a "
        "load succeeds.",
    )


def example_response() -> dict[str, Any]:
    """A response example for the docs (the shape `training.classify.classify` returns)."""
    return {
        "model": {"name": "topicframe", "version": "3", "alias": "champion", "run_id": "4f0c2a9e8b7d4c1e"},
        "text_format": None,
        "paragraphs": [
            {
                "index": 0,
                "text": "Washington and Beijing agreed to extend the tariff truce...",
                "role": "body",
                "role_score": 0.97,
                "known_words": 0.96,
                "read": True,
                "labels": {"topic": ["trade", "diplomacy"], "frame": ["economic_consequences"]},
                "scores": {"topic": {"trade": 0.91, "diplomacy": 0.64, "security": 0.03}},
                "explanations": {"topic": {"trade": [{"term": "tariff", "weight": 0.42}]}},
            }
        ],
        "summary": {
            "paragraphs": 1,
            "content_paragraphs": 1,
            "unread_paragraphs": 0,
            "roles": {"body": 1},
            "label_sets": {"topic": {"primary": "trade", "counts": {"trade": {"paragraphs": 1, "share": 1.0}}}},
            "topic_frames": {"trade": {"economic_consequences": {"paragraphs": 1, "of": 1, "share": 1.0}}},
        },
    }


class RegisteredVersion(BaseModel):
    version: str | None = Field(examples=["3"], description="registry version; null for a local model directory")
    aliases: list[str] = Field(examples=[["champion"]])
    run_id: str | None
    created_at: str | None = Field(description="when the version was registered (the model's training time locally)")
    metrics: dict[str, float] = Field(
        description="the run's headline test metrics: `<set>.micro_f1`, `<set>.macro_f1`, `<set>.accuracy`",
        examples=[{"topic.micro_f1": 0.713, "frame.micro_f1": 0.675, "role.accuracy": 0.945}],
    )
    serving: bool = Field(description="whether this is the version the service is serving")


class ModelsResponse(BaseModel):
    name: str = Field(examples=["topicframe"])
    registry: bool = Field(description="false when the service serves a local model directory (listed alone)")
    versions: list[RegisteredVersion] = Field(description="newest first")


class CompareRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")

    text: NonBlank = Field(description="A whole article, split into paragraphs as in /v1/classify.")
    text_format: TextFormatIn = Field("auto", description="How to read `text`, as in /v1/classify.")
    a: str = Field(
        min_length=1,
        max_length=100,
        examples=["champion"],
        description="A version number ('3'), an alias ('champion'), or 'current' (the served model).",
    )
    b: str = Field(min_length=1, max_length=100, examples=["3"], description="The other one, in the same forms.")
    label_sets: list[str] | None = Field(None, min_length=1, description="Label sets to compare; default all.")
    role: str | None = Field(
        None, examples=["body"], description="Every paragraph's role as you know it, as in /v1/classify, for both."
    )


class CompareSide(BaseModel):
    model: ModelRefOut
    paragraphs: list[ParagraphResult]
    summary: Summary


class CompareResponse(BaseModel):
    text_format: TextFormatOut = Field(description="how `text` was read, as in /v1/classify")
    a: CompareSide
    b: CompareSide
    differences: list[int] = Field(description="indexes of the paragraphs whose role or labels differ")
