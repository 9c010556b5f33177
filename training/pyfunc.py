"""The MLflow pyfunc wrapper over the `ModelBundle`.

`mlflow.pyfunc.load_model`, `mlflow models serve` and (later) Spark UDFs use
this class; the service calls the bundle directly. The wrapper is a thin
adapter: MLflow hands it a DataFrame, so it flattens the text column into a
list of strings (a one-column frame must give one prediction per row, not one
for the whole frame) and returns one row per paragraph.

Rows are scored alone unless the frame has an ``article_id`` column: then the rows
of each article, in frame order, are scored as that article (positions for the role
model, neighbours for context), as the service scores a request's paragraphs. A ``role``
column gives rows the role the caller knows (empty cells: the role model decides).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature, infer_signature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.pyfunc import PythonModel
from mlflow.types.schema import ColSpec, DataType, Schema

from training.bundle import ModelBundle, load_bundle
from training.features import ArticleLayout
from training.markup import has_text, paragraph_text
from training.scoring import sklearn_checks_off


def input_texts(model_input: Any) -> list[str]:
    """DataFrame (``text`` column or a single column), Series, array or list -> list of str."""
    if isinstance(model_input, pd.DataFrame):
        column = model_input["text"] if "text" in model_input.columns else model_input.iloc[:, 0]
        values = column.tolist()
    elif isinstance(model_input, pd.Series | np.ndarray):
        values = np.asarray(model_input).ravel().tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    else:
        values = list(model_input)
    nested = next((i for i, v in enumerate(values) if isinstance(v, list | tuple | np.ndarray)), None)
    if nested is not None:  # what MLflow makes of `predict({"text": [...]})`: one row holding a list
        raise MlflowException(
            f"text: row {nested} holds {len(values[nested])} values, not one paragraph (MLflow reads a dict of "
            "lists as a single row): pass a DataFrame, e.g. pd.DataFrame({'text': paragraphs})",
            error_code=INVALID_PARAMETER_VALUE,
        )
    # A paragraph's own HTML or Markdown is read as its visible text, as the service reads `paragraphs`. A
    # missing cell (None, NaN, pd.NA) is no text: as str() it was "nan", scored as a headline about the economy.
    texts = ["" if pd.isna(v) else paragraph_text(str(v)) for v in values]
    refuse_rows_without_text(texts)
    return texts


def refuse_rows_without_text(texts: list[str]) -> None:
    """Rows with no letter or digit are refused, as the service refuses such paragraphs: labels for ``!!!``
    or an empty cell would be noise. An MLflow error with this code is a 400 from ``mlflow models serve``."""
    empty = [i for i, text in enumerate(texts) if not has_text(text)]
    if empty:
        rows = ", ".join(map(str, empty[:5])) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        which = f"rows {rows} (counted from 0) have" if len(empty) > 1 else f"row {rows} (counted from 0) has"
        raise MlflowException(
            f"text: {which} no letter or digit to classify once markup is read; leave such rows out",
            error_code=INVALID_PARAMETER_VALUE,
        )


def input_layout(model_input: Any, n: int) -> ArticleLayout:
    """Articles from an ``article_id`` column when there is one; otherwise every row alone."""
    if isinstance(model_input, pd.DataFrame) and "article_id" in model_input.columns:
        ids = [None if pd.isna(v) or v == "" else str(v) for v in model_input["article_id"].tolist()]
        return ArticleLayout.from_article_ids(ids)
    return ArticleLayout.alone(n)


def input_roles(bundle: ModelBundle, model_input: Any, n: int) -> list[str | None] | None:
    """Each row's role from a ``role`` column, when there is one: the caller's (text known to be body, say);
    an empty or missing cell leaves it to the role model. None without the column."""
    if not isinstance(model_input, pd.DataFrame) or "role" not in model_input.columns:
        return None
    roles = [None if pd.isna(v) or not str(v).strip() else str(v).strip() for v in model_input["role"].tolist()]
    try:
        bundle.check_roles(roles, n)
    except ValueError as err:
        raise MlflowException(f"role: {err}", error_code=INVALID_PARAMETER_VALUE) from None
    return roles


def prediction_frame(
    bundle: ModelBundle,
    texts: list[str],
    layout: ArticleLayout | None = None,
    roles: list[str | None] | None = None,
) -> pd.DataFrame:
    """One row per paragraph: ``role`` and ``role_score`` (models with roles; the score is NaN for a role given in
    ``roles``), ``read`` (whether the model knows enough of its words to label it), then ``<set>_labels``
    (';'-joined; empty for non-content roles and paragraphs not read) and ``<set>_score_<label>`` columns."""
    layout = layout if layout is not None else ArticleLayout.alone(len(texts))
    scored = bundle.score(texts, layout=layout, roles=roles)
    names: list[str] = []
    arrays: list[np.ndarray] = []
    if scored.roles is not None and bundle.role_set is not None:
        given = np.full(len(texts), np.nan)  # every role given: the role model did not run
        names += ["role", "role_score"]
        arrays += [_strings(scored.roles), scored.role_scores.max(axis=1) if scored.role_scores is not None else given]
    names.append("read")
    arrays.append(np.asarray(scored.read, dtype=bool))
    for name, scores in scored.scores.items():
        names.append(f"{name}_labels")
        arrays.append(_strings([";".join(labels) for labels in bundle.decide(name, scores, scored.labelled)]))
        names += [f"{name}_score_{label}" for label in bundle.label_names[name]]
        arrays += list(np.ascontiguousarray(scores.T))  # one contiguous row of the transpose per label
    return frame_from_arrays(names, arrays, len(texts))


def pyfunc_signature(bundle: ModelBundle, texts: list[str]) -> ModelSignature:
    """What the logged model takes (``text``; ``article_id`` when rows belong to articles; ``role`` when the caller
    knows it) and gives.

    The input is declared, not inferred from the example: MLflow drops every column the signature does not
    name, so a ``text``-only signature would silently drop ``article_id`` and score every row alone.
    """
    inputs = Schema(
        [
            ColSpec(DataType.string, "text"),
            ColSpec(DataType.string, "article_id", required=False),
            ColSpec(DataType.string, "role", required=False),
        ]
    )
    outputs = infer_signature(pd.DataFrame({"text": texts}), prediction_frame(bundle, texts)).outputs
    return ModelSignature(inputs=inputs, outputs=outputs)


def _strings(values: list[str]) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def frame_from_arrays(names: list[str], arrays: list[np.ndarray], n: int) -> pd.DataFrame:
    """A DataFrame from columns whose dtypes are already final.

    pandas' dict constructor infers and consolidates every column: for a one-paragraph prediction
    (20 columns) that cost more CPU than scoring the paragraph (~0.45 ms against ~0.25 ms). The
    arrays here are already float64 or object, so they go in as they are; the public constructor
    stays as the fallback should the internal one ever change.
    """
    build = getattr(pd.DataFrame, "_from_arrays", None)
    if build is not None:
        try:
            return build(arrays, columns=pd.Index(names), index=pd.RangeIndex(n), verify_integrity=False)
        except TypeError:  # another pandas signature: the slower public way below
            pass
    return pd.DataFrame(dict(zip(names, arrays, strict=True)))


class TopicframePyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        # The digest written at training beside the bundle (models logged before it was, carry it in their
        # MLmodel file's model_config); `load_bundle` refuses the bundle without one or on any mismatch.
        expected = (context.model_config or {}).get("bundle_sha256")
        if expected is None and "bundle_sha256" in context.artifacts:
            expected = Path(context.artifacts["bundle_sha256"]).read_text(encoding="utf-8").strip()
        self.bundle = load_bundle(context.artifacts["bundle"], expected_sha256=expected)

    # MLflow hands the wrapper a DataFrame; this hint is one MLflow does not derive a schema from,
    # so the signature logged with the model (from the input example) is what describes the input.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        texts = input_texts(model_input)
        roles = input_roles(self.bundle, model_input, len(texts))
        with sklearn_checks_off():
            return prediction_frame(self.bundle, texts, input_layout(model_input, len(texts)), roles)
