"""Run configuration as data: one pydantic model, loaded from YAML, flattened into MLflow params.

Every key of `RunConfig` becomes an MLflow param with the same dotted name
(``classifier.C``, ``vectorizer.word_ngram_range``...), so the MLflow compare
view lines runs up by meaning. Unknown keys and bad values are refused with an
error naming the key.
"""

from __future__ import annotations

import codecs
import copy
import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from training.errors import ConfigError

DEFAULT_MODEL_NAME = "topicframe"  # the registered model `topicframe train` creates unless a config names another


Weight = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    train: list[str] = Field(default_factory=lambda: ["labels/paragraphs.csv"])
    test: list[str] = Field(default_factory=lambda: ["labels/paragraphs_test.csv"])
    labels_dir: str = "labels"
    label_sets: list[str] | None = Field(
        None,
        description="label sets to train; unset: every codebook in labels_dir (each needs its CSV column)",
    )
    text_column: str = "text"
    id_column: str = "id"
    article_id_column: str = "article_id"
    split_column: str = "split"
    position_column: str = Field("position", description="optional: order of a paragraph within its article")
    label_columns: dict[str, str] = Field(default_factory=dict, description="label set -> CSV column, when they differ")
    separator: str = ";"
    encoding: str = "utf-8"
    min_positives: int = Field(5, ge=0)
    prefer_feedback: bool = Field(
        False,
        description="a row with the same text as an exported correction (id 'feedback-...') takes the "
        "correction's labels instead of being reported as a conflict",
    )
    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share when no test file or split column")

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        # An unknown name failed at the first file read, as a traceback (LookupError).
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r} (e.g. utf-8, utf-16, cp1252, latin-1)") from None
        return value

    @model_validator(mode="after")
    def _own_data_own_test(self) -> DataConfig:
        # The shipped test file belongs to the shipped training file: given other training data and no
        # test data, the test part is split from the given data (not scored on an unrelated test set).
        if "train" in self.model_fields_set and "test" not in self.model_fields_set:
            self.test = []
        return self


class VectorizerConfig(_Strict):
    word_ngram_range: tuple[int, int] = (1, 2)
    char_ngram_range: tuple[int, int] | None = (2, 5)
    # char_wb: n-grams inside words only; char: across word boundaries too ("e ta" of "trade talks"; explanations then
    # list such n-grams as they are). Not the default: 5-fold CV flat, +46 % columns (docs/quality.md, sixteenth pass).
    char_analyzer: Literal["char_wb", "char"] = "char_wb"
    # 2, not 1: an n-gram seen in one training paragraph only (a name, a typo) almost never helps; dropping them
    # cuts the default model from 106 to 45 MB at equal grouped-CV F1 (experiments/sweep_vocabulary.yaml).
    min_df: int = Field(2, ge=1)
    max_df: float = Field(1.0, gt=0, le=1)
    max_features: int | None = Field(None, ge=1)
    sublinear_tf: bool = True
    stop_words: Literal["english"] | None = None
    lowercase: bool = True

    @model_validator(mode="after")
    def _ranges(self) -> VectorizerConfig:
        for name in ("word_ngram_range", "char_ngram_range"):
            value = getattr(self, name)
            if value is not None and not (1 <= value[0] <= value[1]):
                raise ValueError(f"{name} must be [min, max] with 1 <= min <= max")
        return self


class ClassifierConfig(_Strict):
    type: Literal["logreg", "linear_svm", "sgd", "complement_nb"] = "logreg"
    # 3 with nb_weighting 0.5 (10 before it): docs/quality.md, "Fourth quality pass".
    C: float = Field(3.0, gt=0, description="inverse regularisation (logreg, linear_svm)")
    alpha: float = Field(1e-4, gt=0, description="regularisation (sgd) or smoothing (complement_nb)")
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=1)
    # 0.5: on the adjudicated training sample, topic / frame micro-F1 0.802 / 0.701 -> 0.808 / 0.721 and grouped
    # CV 0.749 / 0.665 -> 0.766 / 0.687 (bench/results/context_validation.md, "Naive-Bayes weighting").
    nb_weighting: float = Field(
        0.5,
        ge=0,
        le=1,
        description="logreg, multi-label: scale each label's features by 1 - w + w x their naive-Bayes log-count ratio",
    )
    # True: on the default corpus (24,547 paragraphs, 670,849 columns, C 3) one label fits in 3.5 s against 9-11 s
    # for the primal solver, to the same model (probabilities within 1e-4; docs/benchmarks.md, "Training speed
    # (issue 16), 2026-12-05"). With weak regularisation it converges slowly: Reuters (C 1000) pins it off.
    dual: bool = Field(
        True,
        description="logreg, multi-label: liblinear's dual solver (fast when columns outnumber rows and C is moderate;"
        " labels are then fitted one at a time, as its coordinate order comes from one process-wide generator)",
    )


class ContextConfig(_Strict):
    """Neighbour context: extra TF-IDF blocks from the same article, weighted (0 turns a block off).

    A paragraph's neighbours are the nearest content paragraphs (role body or headline) before and
    after it; the headline is the article's first headline paragraph. A lone paragraph has none.
    """

    # 0.3 since the article block carries the story's subject: on the adjudicated training sample neighbours 0.6 /
    # 0.3 / 0.15 / 0 scored topic 0.794 / 0.803 / 0.785 / 0.780 and frame 0.695 / 0.701 / 0.705 / 0.694
    # (bench/results/context_validation.md).
    neighbours: float = Field(0.3, ge=0, description="weight of the previous + next content paragraphs' block")
    headline: float = Field(0.3, ge=0, description="weight of the article headline's block")
    # 0.6: on the adjudicated training sample (bench/label_sources.py) topic micro-F1 0.776 -> 0.794 and frame
    # 0.682 -> 0.695 over no article block; 1.5 scored 0.798 / 0.696 there but lower in grouped CV (docs/quality.md).
    article: float = Field(
        0.6, ge=0, description="weight of the word n-grams of the article's other content paragraphs (normalised sum)"
    )
    # A headline takes its story's topics (the codebook), which its few words rarely show. 1.2 for every set raised
    # 5-fold CV topic 0.8273 -> 0.8292 but frame went 0.7172 -> 0.7164 (docs/quality.md, sixteenth pass); for topic
    # only, confirmed on a split never used before (seed 1): CV topic 0.8178 -> 0.8203, frame's features as they
    # were (seventeenth pass). A set named here that the data lacks is refused when given, ignored in the default.
    headline_article: Weight | dict[str, Weight] | None = Field(
        default_factory=lambda: {"topic": 1.2},
        description="the article block's weight for headline paragraphs: one for every content set, or per set"
        " ({topic: 1.2}; a set not named keeps `article`'s); None: `article`'s",
    )

    def headline_article_for(self, label_set: str | None) -> float | None:
        """The article block's weight for headline rows of ``label_set`` (None: the block's own weight)."""
        if isinstance(self.headline_article, dict):
            return self.headline_article.get(label_set) if label_set is not None else None
        return self.headline_article


class RolesConfig(_Strict):
    """Which label set says what a paragraph is, and which of its labels carry topics and frames."""

    label_set: str = Field("role", description="single-label set of paragraph roles (ignored if not trained)")
    content: list[str] = Field(
        default_factory=lambda: ["body", "headline"], description="roles that get labels of the other sets"
    )
    char_ngram_range: tuple[int, int] = (2, 5)
    C: float = Field(10.0, gt=0, description="inverse regularisation of the role model")
    # Off by default: it made the last body paragraph of a short text (a user pasting two or three paragraphs) read
    # as closing matter (byline), and on today's corpus, with short texts read without positions, it lowers
    # style-out CV role accuracy 0.9603 -> 0.9586 (docs/quality.md, "Twelfth pass").
    from_end: bool = Field(
        False, description="the role model also reads how many paragraphs follow (closing matter comes last)"
    )
    # On by default: leave-one-house-style-out CV role accuracy 0.9489 -> 0.9522, non-content paragraphs read as
    # non-content 0.912 -> 0.924 (bench/quality_experiments.py; docs/quality.md). A model saved before this option
    # existed loads with it off (training/artifact.py).
    article_cues: bool = Field(
        True,
        description="the role model also reads how a paragraph relates to its article (shared n-grams, titles inside)",
    )
    # On by default: the role model reads the headlines of other stories linked between an article's paragraphs as
    # headlines (their text looks like one), so they got topics. Of the long title-shaped lines from the fourth
    # paragraph on that are headlines or promos in the training corpus, 1,300 are promos and 11 headlines
    # (training/features.py). Leave-one-house-style-out CV: role accuracy 0.9603 -> 0.9683, non-content recall
    # 0.9142 -> 0.9374 (docs/quality.md, "Fourteenth pass"). A model saved before this option existed loads with it
    # off (training/artifact.py).
    linked_headlines: bool = Field(
        True, description="a long title inside an article that reads as a headline is read as a promo (a linked story)"
    )
    # A pasted excerpt of two or three paragraphs is not an article: its last paragraph is rarely a footer. Below
    # this size the role model judges each paragraph by its text alone (chosen by measurement, docs/quality.md).
    min_article_paragraphs: int = Field(
        5, ge=2, description="position features only for texts of at least this many paragraphs (else text alone)"
    )
    # A user trying the service sends one sentence; body paragraphs are longer, so a short sentence alone read as
    # a byline and lost its labels. First sentences of every role (not only of body text, which cost 0.03 of lone
    # non-content paragraphs read as such): leave-one-house-style-out CV, docs/quality.md.
    first_sentences: bool = Field(
        True, description="the role model is also fitted on each paragraph's first sentence, alone, with its role"
    )
    # On by default: a paragraph read as a caption or footer gets no topic or frame (the decision rule gates it by
    # its predicted role), so fitting the topic and frame classifiers on such paragraphs spent their weights, and
    # the naive-Bayes ratios, mostly on telling boilerplate from content. Grouped 3-fold CV topic micro-F1
    # 0.8132 -> 0.8180, frame 0.7066 -> 0.7072 (experiments/sweep_content_rows.yaml; docs/quality.md,
    # "Thirteenth pass"). A model saved before this option existed loads with it off (training/artifact.py).
    content_rows_only: bool = Field(
        True, description="the other sets' classifiers are fitted on the paragraphs with a content role only"
    )
    # On by default: the content vocabulary (and its idf) is learnt from body and headline paragraphs only, so
    # n-grams seen only in bylines, captions, promos and footers take no columns. Shipped on a tie, for a smaller
    # model, by a rule written before its 5-fold run: 5-fold CV topic 0.8275 -> 0.8273, frame 0.7167 -> 0.7172, role
    # unchanged; saved model 51.7 -> 45.6 MB, worker RSS 330 -> 323 MB (docs/quality.md, "Fifteenth pass"). A
    # model saved before this option existed loads with it off (training/artifact.py).
    content_vocabulary: bool = Field(
        True, description="the other sets' vocabulary and idf are learnt from the paragraphs with a content role only"
    )


class DecisionConfig(_Strict):
    """How scores become labels in multi-label sets, after each label's own threshold."""

    max_labels: int | None = Field(2, ge=1, description="at most this many labels per paragraph and set")
    relative_to_top: float = Field(
        0.5, ge=0, le=1, description="keep a label only if its score is at least this share of the top score"
    )
    # Nearly every body paragraph has a topic (98.7 % of the training corpus's) but only three in four a frame.
    # "tuned": training gives each set the fallback only when it raises that set's out-of-fold micro-F1.
    at_least_one: bool | Literal["tuned"] = Field(
        "tuned",
        description="a content paragraph none of whose labels passes gets its top label: per set when that raises "
        "out-of-fold micro-F1 ('tuned'), always (true) or never (false)",
    )
    # A paragraph in another language shares few words with an English vocabulary, and its scores are noise: on the
    # held-out test every body and headline paragraph knows two thirds of its words or more (training/known_words.py).
    min_known_words: float = Field(
        0.5,
        ge=0,
        le=1,
        description="a paragraph with a smaller share of its lower-case words in the model's vocabulary (names and "
        "numbers aside; training/known_words.py) is not read: it gets no labels and is left out of the summary's "
        "shares (0: off)",
    )


class CVConfig(_Strict):
    folds: int = Field(5, ge=2)


class ThresholdConfig(_Strict):
    strategy: Literal["f1", "fixed"] = "f1"
    fixed: float = Field(0.5, ge=0, le=1)
    # The F1 curve is flat near its top, so the single best cut-off moves with a few out-of-fold scores. The middle
    # of the plateau within 0.05: inner CV on the out-of-fold scores +0.004 topic / +0.004 frame micro-F1, half the
    # paragraphs relabelled between bootstrap retrainings (bench/threshold_stability.py, docs/quality.md).
    f1_tolerance: float = Field(
        0.05,
        ge=0,
        le=0.1,
        description="per label, the median cut-off within this much of the best out-of-fold F1 (0: the best one)",
    )


class PromotionConfig(_Strict):
    """When a candidate may replace the champion (both scored on the candidate's test data)."""

    min_gain: float = Field(
        0.0, ge=0, description="the primary metric must beat the champion's by more than this (0: any gain)"
    )
    max_regression: float = Field(
        0.01, ge=0, description="largest drop allowed in any other label set's headline metric"
    )


class RunConfig(_Strict):
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    vectorizer: VectorizerConfig = Field(default_factory=lambda: VectorizerConfig())
    classifier: ClassifierConfig = Field(default_factory=lambda: ClassifierConfig())
    cv: CVConfig = Field(default_factory=lambda: CVConfig())
    thresholds: ThresholdConfig = Field(default_factory=lambda: ThresholdConfig())
    context: ContextConfig = Field(default_factory=lambda: ContextConfig())
    roles: RolesConfig = Field(default_factory=lambda: RolesConfig())
    decision: DecisionConfig = Field(default_factory=lambda: DecisionConfig())
    promotion: PromotionConfig = Field(default_factory=lambda: PromotionConfig())
    seed: int = 0
    experiment: str = "topicframe"
    model_name: str = Field(
        DEFAULT_MODEL_NAME,
        pattern=r"^[^/@]+$",  # it must fit models:/NAME@ALIAS and models:/NAME/VERSION
        description="registered model name in the MLflow registry",
    )
    run_name: str | None = None


def _first_error(exc: ValidationError) -> tuple[str, Any]:
    """The dotted key and the error to show for the first problem (`shown_error`)."""
    return shown_error(exc, exc.errors()[0])


def shown_error(exc: ValidationError, error: Any, union_members: tuple[str, ...] = ()) -> tuple[str, Any]:
    """The dotted key and the error to show for ``error``. A union (``headline_article``: a weight, or one per set;
    a sweep parameter: a list or a ``Range``) reports one error per member, named in the location
    ("constrained-float", "dict[str,...]", or one of ``union_members``), which the user never wrote; of those, the
    one about the value given is shown, not that it is not of the other member's type."""
    if error["type"].endswith("_type"):
        at = _error_key(error, union_members)
        others = (
            e for e in exc.errors() if _error_key(e, union_members).startswith(at) and not e["type"].endswith("_type")
        )
        error = next(others, error)
    return _error_key(error, union_members), error


def _error_key(error: Any, union_members: tuple[str, ...] = ()) -> str:
    def written(part: Any) -> bool:
        return not (isinstance(part, str) and ("[" in part or "constrained-" in part or part in union_members))

    return ".".join(str(part) for part in error["loc"] if written(part))


def _explain(exc: ValidationError, origin: str) -> ConfigError:
    """Every key's problem on one line (a file with two misspelt keys said only the first)."""
    said: dict[str, str] = {}
    for error in exc.errors():
        key, shown = shown_error(exc, error)
        key = key or "(root)"
        if key not in said:
            unknown = shown["type"] == "extra_forbidden"
            said[key] = (
                f"{key}: unknown key{did_you_mean(key)}"
                if unknown
                else f"{key}: {shown['msg'].removeprefix('Value error, ')}"
            )
    return ConfigError(f"{origin}: {'; '.join(said.values())}")


def did_you_mean(key: str) -> str:
    """`` (did you mean 'classifier.C'?)`` for a dotted key close to a real one (case first), else ``""``."""
    known = sorted(config_keys() | {k.rsplit(".", 1)[0] for k in config_keys() if "." in k})
    same_but_case = [k for k in known if k.lower() == key.lower()]
    close = same_but_case or difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: '{part}' is not a section{did_you_mean(key)}")
    node[parts[-1]] = value


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping (plain YAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first at line {seen[key]})", key_node.start_mark
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str | bytes, origin: str | Path) -> Any:
    """Parse YAML safely; a duplicate key or a syntax error is a `ConfigError` naming ``origin:line``."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{origin}:{mark.line + 1}" if mark is not None else str(origin)
        raise ConfigError(f"{where}: not valid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{origin}: not valid YAML: {exc}") from None


def read_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an empty file is an empty mapping)."""
    try:
        loaded = load_yaml(Path(path).read_text(), path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections")
    return loaded or {}


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults <- YAML file <- overrides (dotted keys such as ``classifier.C``)."""
    if path is None:
        return config_from_mapping({}, overrides, "defaults", "--set")
    return config_from_mapping(read_mapping(path), overrides, str(path), "--set")


def config_from_mapping(
    data: dict[str, Any],
    overrides: dict[str, Any] | None = None,
    origin: str = "config",
    overrides_origin: str | None = None,
) -> RunConfig:
    """Validate a config mapping (plus dotted overrides); errors name ``origin`` and the key, or
    ``overrides_origin`` (``--set``) when the bad key came from the overrides."""
    data = copy.deepcopy(data)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        key, first = _first_error(exc)
        # The override that set the bad key, or a key inside it, or the mapping it sits in.
        related = [k for k in overrides or {} if k == key or k.startswith(key + ".") or key.startswith(k + ".")]
        given = related if overrides_origin else []
        if given and first["type"] == "extra_forbidden":  # name the whole key as typed, suggest the real one
            typed = given[0] if given[0].startswith(key) else key  # not the mapping the unknown key sits in
            raise ConfigError(f"{overrides_origin}: {typed}: unknown key{did_you_mean(typed)}") from None
        raise _explain(exc, overrides_origin if given and overrides_origin else origin) from None


def config_keys() -> set[str]:
    """Every dotted key a config accepts (the names of the MLflow params)."""
    return set(flatten_params(RunConfig()))


def parse_override(item: str) -> tuple[str, Any]:
    """``classifier.C=2`` -> ("classifier.C", 2); values are parsed as YAML scalars/lists."""
    if "=" not in item:
        raise ConfigError(f"--set {item}: expected KEY=VALUE")
    key, raw = item.split("=", 1)
    try:
        return key.strip(), yaml.safe_load(raw)
    except yaml.YAMLError:
        return key.strip(), raw


def flatten_params(config: RunConfig) -> dict[str, str]:
    """Every config key as an MLflow param: ``{"classifier.C": "10.0", ...}``."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif isinstance(value, (list, tuple)):
            flat[prefix] = ",".join(map(str, value))
        else:
            flat[prefix] = "" if value is None else str(value)

    walk("", config.model_dump(mode="python"))
    return flat
