"""The MLflow pyfunc wrapper over the joblib `ModelBundle`.

`mlflow.pyfunc.load_model`, `mlflow models serve` and (later) Spark UDFs use
this class; the service calls the bundle directly. The wrapper is a thin
adapter: MLflow hands it a DataFrame, so it flattens the text column into a
list of strings (a one-column frame must give one prediction per row, not one
for the whole frame) and returns one row per paragraph.

Rows are scored alone unless the frame has an ``article_id`` column: then the rows
of each article, in frame order, are scored as that article (positions for the role
model, neighbours for context), as the service scores a request's paragraphs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from training.bundle import ModelBundle, load_bundle
from training.features import ArticleLayout


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
    return ["" if v is None else str(v) for v in values]


def input_layout(model_input: Any, n: int) -> ArticleLayout:
    """Articles from an ``article_id`` column when there is one; otherwise every row alone."""
    if isinstance(model_input, pd.DataFrame) and "article_id" in model_input.columns:
        ids = [None if pd.isna(v) or v == "" else str(v) for v in model_input["article_id"].tolist()]
        return ArticleLayout.from_article_ids(ids)
    return ArticleLayout.alone(n)


def prediction_frame(bundle: ModelBundle, texts: list[str], layout: ArticleLayout | None = None) -> pd.DataFrame:
    """One row per paragraph: ``role`` and ``role_score`` (models with roles), then ``<set>_labels``
    (';'-joined; empty for non-content roles) and ``<set>_score_<label>`` columns."""
    scored = bundle.score(texts, layout=layout if layout is not None else ArticleLayout.alone(len(texts)))
    columns: dict[str, Any] = {}
    if scored.roles is not None and scored.role_scores is not None:
        columns["role"] = scored.roles
        columns["role_score"] = scored.role_scores.max(axis=1)
    for name, scores in scored.scores.items():
        columns[f"{name}_labels"] = [";".join(labels) for labels in bundle.decide(name, scores, scored.content)]
        for j, label in enumerate(bundle.label_names[name]):
            columns[f"{name}_score_{label}"] = scores[:, j]
    return pd.DataFrame(columns)


class TopicframePyfunc(PythonModel):
    def load_context(self, context: Any) -> None:
        # The digest comes from the MLmodel file's model_config, written at training.
        expected = (context.model_config or {}).get("bundle_sha256")
        self.bundle = load_bundle(context.artifacts["bundle"], expected_sha256=expected)

    # MLflow hands the wrapper a DataFrame; this hint is one MLflow does not derive a schema from,
    # so the signature logged with the model (from the input example) is what describes the input.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        texts = input_texts(model_input)
        return prediction_frame(self.bundle, texts, input_layout(model_input, len(texts)))
