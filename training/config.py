"""Run configuration as data: one pydantic model, loaded from YAML, flattened into MLflow params.

Every key of `RunConfig` becomes an MLflow param with the same dotted name
(``classifier.C``, ``vectorizer.word_ngram_range``...), so the MLflow compare
view lines runs up by meaning. Unknown keys and bad values are refused with an
error naming the key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.errors import ConfigError

DEFAULT_MODEL_NAME = "topicframe"  # the registered model `topicframe train` creates unless a config names another


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    train: list[str] = Field(default_factory=lambda: ["labels/paragraphs.csv"])
    test: list[str] = Field(default_factory=lambda: ["labels/paragraphs_test.csv"])
    labels_dir: str = "labels"
    label_sets: list[str] = Field(default_factory=lambda: ["role", "topic", "frame"])
    text_column: str = "text"
    id_column: str = "id"
    article_id_column: str = "article_id"
    split_column: str = "split"
    position_column: str = Field("position", description="optional: order of a paragraph within its article")
    label_columns: dict[str, str] = Field(default_factory=dict, description="label set -> CSV column, when they differ")
    separator: str = ";"
    encoding: str = "utf-8"
    min_positives: int = Field(5, ge=0)
    test_size: float = Field(0.2, gt=0, lt=1, description="held-out share when no test file or split column")


class VectorizerConfig(_Strict):
    word_ngram_range: tuple[int, int] = (1, 2)
    char_ngram_range: tuple[int, int] | None = (2, 5)
    min_df: int = Field(1, ge=1)
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
    C: float = Field(10.0, gt=0, description="inverse regularisation (logreg, linear_svm)")
    alpha: float = Field(1e-4, gt=0, description="regularisation (sgd) or smoothing (complement_nb)")
    class_weight: Literal["balanced"] | None = "balanced"
    max_iter: int = Field(2000, ge=1)


class ContextConfig(_Strict):
    """Neighbour context: extra TF-IDF blocks from the same article, weighted (0 turns a block off).

    A paragraph's neighbours are the nearest content paragraphs (role body or headline) before and
    after it; the headline is the article's first headline paragraph. A lone paragraph has none.
    """

    neighbours: float = Field(0.6, ge=0, description="weight of the previous + next content paragraphs' block")
    headline: float = Field(0.3, ge=0, description="weight of the article headline's block")


class RolesConfig(_Strict):
    """Which label set says what a paragraph is, and which of its labels carry topics and frames."""

    label_set: str = Field("role", description="single-label set of paragraph roles (ignored if not trained)")
    content: list[str] = Field(
        default_factory=lambda: ["body", "headline"], description="roles that get labels of the other sets"
    )
    char_ngram_range: tuple[int, int] = (2, 5)
    C: float = Field(10.0, gt=0, description="inverse regularisation of the role model")


class DecisionConfig(_Strict):
    """How scores become labels in multi-label sets, after each label's own threshold."""

    max_labels: int | None = Field(2, ge=1, description="at most this many labels per paragraph and set")
    relative_to_top: float = Field(
        0.5, ge=0, le=1, description="keep a label only if its score is at least this share of the top score"
    )


class CVConfig(_Strict):
    folds: int = Field(5, ge=2)


class ThresholdConfig(_Strict):
    strategy: Literal["f1", "fixed"] = "f1"
    fixed: float = Field(0.5, ge=0, le=1)


class RunConfig(_Strict):
    data: DataConfig = Field(default_factory=lambda: DataConfig())
    vectorizer: VectorizerConfig = Field(default_factory=lambda: VectorizerConfig())
    classifier: ClassifierConfig = Field(default_factory=lambda: ClassifierConfig())
    cv: CVConfig = Field(default_factory=lambda: CVConfig())
    thresholds: ThresholdConfig = Field(default_factory=lambda: ThresholdConfig())
    context: ContextConfig = Field(default_factory=lambda: ContextConfig())
    roles: RolesConfig = Field(default_factory=lambda: RolesConfig())
    decision: DecisionConfig = Field(default_factory=lambda: DecisionConfig())
    seed: int = 0
    experiment: str = "topicframe"
    model_name: str = Field(
        DEFAULT_MODEL_NAME,
        pattern=r"^[^/@]+$",  # it must fit models:/NAME@ALIAS and models:/NAME/VERSION
        description="registered model name in the MLflow registry",
    )
    run_name: str | None = None


def _explain(exc: ValidationError, origin: str) -> ConfigError:
    first = exc.errors()[0]
    key = ".".join(str(p) for p in first["loc"]) or "(root)"
    message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
    return ConfigError(f"{origin}: {key}: {message}")


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: '{part}' is not a section")
    node[parts[-1]] = value


def read_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping (an empty file is an empty mapping)."""
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if loaded is not None and not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections")
    return loaded or {}


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Defaults <- YAML file <- overrides (dotted keys such as ``classifier.C``)."""
    if path is None:
        return config_from_mapping({}, overrides, "defaults")
    return config_from_mapping(read_mapping(path), overrides, str(path))


def config_from_mapping(
    data: dict[str, Any], overrides: dict[str, Any] | None = None, origin: str = "config"
) -> RunConfig:
    """Validate a config mapping (plus dotted overrides); errors name ``origin`` and the key."""
    data = copy.deepcopy(data)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise _explain(exc, origin) from None


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
