"""The MLflow pyfunc wrapper over the joblib `ModelBundle`.

`mlflow.pyfunc.load_model`, `mlflow models serve` and (later) Spark UDFs use
this class; the service calls the bundle directly. The wrapper is a thin
adapter: MLflow hands it a DataFrame, so it flattens the text column into a
list of strings (a one-column frame must give one prediction per row, not one
for the whole frame) and returns one row per paragraph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

from training.bundle import ModelBundle, load_bundle


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


def prediction_frame(bundle: ModelBundle, texts: list[str]) -> pd.DataFrame:
    """One row per paragraph: ``<set>_labels`` (';'-joined) and ``<set>_score_<label>`` columns."""
    columns: dict[str, Any] = {}
    for name, scores in bundle.predict_proba(texts).items():
        columns[f"{name}_labels"] = [";".join(labels) for labels in bundle.decide(name, scores)]
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
        return prediction_frame(self.bundle, input_texts(model_input))
