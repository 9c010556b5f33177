"""The MLflow pyfunc wrapper: one prediction per input row, whatever shape MLflow hands over."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import pandas as pd
import pytest

from training.bundle import ModelBundle
from training.features import ArticleLayout
from training.pyfunc import input_texts
from training.tracking import PACKAGE_DIR

PARAGRAPHS = [
    "The navy sent two destroyers through the strait after the missile test.",
    "Negotiators agreed to cut tariffs on electric vehicles and batteries.",
    "Sign up for the Morning Dispatch, delivered to your inbox at 6am.",
    "Central bank raises interest rates as inflation climbs to a two-year high.",
]


def test_input_shapes_flatten_to_one_text_per_row() -> None:
    frame = pd.DataFrame({"text": PARAGRAPHS})
    assert input_texts(frame) == PARAGRAPHS
    assert input_texts(pd.DataFrame({"whatever": PARAGRAPHS})) == PARAGRAPHS
    assert input_texts(frame["text"]) == PARAGRAPHS
    assert input_texts(frame.to_numpy()) == PARAGRAPHS
    assert input_texts(PARAGRAPHS[0]) == [PARAGRAPHS[0]]


@pytest.fixture(scope="module")
def pyfunc_model(bundle: ModelBundle, bundle_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("pyfunc") / "model"
    sha = (bundle_dir / "model.json").read_text().split('"sha256": "')[1].split('"')[0]
    mlflow.pyfunc.save_model(
        path,
        python_model=str(PACKAGE_DIR / "mlflow_model.py"),
        artifacts={"bundle": str(bundle_dir)},
        model_config={"bundle_sha256": sha},
    )
    return path


def test_pyfunc_predicts_one_row_per_paragraph(pyfunc_model: Path, bundle: ModelBundle) -> None:
    model = mlflow.pyfunc.load_model(str(pyfunc_model))
    out = model.predict(pd.DataFrame({"text": PARAGRAPHS}))
    assert len(out) == len(PARAGRAPHS)
    expected = bundle.predict(PARAGRAPHS, layout=ArticleLayout.alone(len(PARAGRAPHS)))  # rows are unrelated
    assert out["role"].tolist() == [roles[0] for roles in expected["role"]]
    assert out["role"].tolist()[2] == "promo" and out["topic_labels"][2] == "" and out["frame_labels"][2] == ""
    for name in bundle.content_label_sets:
        assert out[f"{name}_labels"].tolist() == [";".join(labels) for labels in expected[name]]
        assert len({tuple(row) for row in out.filter(like=f"{name}_score_").to_numpy()}) == len(PARAGRAPHS)


def test_pyfunc_scores_rows_of_an_article_together(pyfunc_model: Path, bundle: ModelBundle) -> None:
    """With an article_id column, each article's rows are scored as the service scores a request's paragraphs."""
    model = mlflow.pyfunc.load_model(str(pyfunc_model))
    frame = pd.DataFrame({"text": PARAGRAPHS + PARAGRAPHS[:2], "article_id": ["a"] * 4 + ["b"] * 2})
    out = model.predict(frame)
    first, second = bundle.predict(PARAGRAPHS), bundle.predict(PARAGRAPHS[:2])
    for name in bundle.content_label_sets:
        assert out[f"{name}_labels"].tolist() == [";".join(x) for x in first[name] + second[name]]


def test_pyfunc_refuses_a_tampered_bundle(pyfunc_model: Path) -> None:
    artifact = next(pyfunc_model.rglob("model.joblib"))
    original = artifact.read_bytes()
    try:
        artifact.write_bytes(original + b"\0")
        with pytest.raises(Exception, match="does not match the digest recorded at training"):
            mlflow.pyfunc.load_model(str(pyfunc_model))
    finally:
        artifact.write_bytes(original)
