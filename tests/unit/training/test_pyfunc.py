"""The MLflow pyfunc wrapper: one prediction per input row, whatever shape MLflow hands over."""

from __future__ import annotations

from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from training.bundle import ModelBundle
from training.features import ArticleLayout
from training.pyfunc import frame_from_arrays, input_texts, prediction_frame, pyfunc_signature
from training.tracking import PACKAGE_DIR, PYFUNC_DIGEST_FILE

PARAGRAPHS = [
    "The navy sent two destroyers through the strait after the missile test.",
    "Negotiators agreed to cut tariffs on electric vehicles and batteries.",
    "Sign up for the Morning Dispatch, delivered to your inbox at 6am.",
    "Central bank raises interest rates as inflation climbs to a two-year high.",
    "La banca central subió los tipos de interés porque la inflación alcanzó su nivel más alto en dos años.",
]


def test_input_shapes_flatten_to_one_text_per_row() -> None:
    frame = pd.DataFrame({"text": PARAGRAPHS})
    assert input_texts(frame) == PARAGRAPHS
    assert input_texts(pd.DataFrame({"whatever": PARAGRAPHS})) == PARAGRAPHS
    assert input_texts(frame["text"]) == PARAGRAPHS
    assert input_texts(frame.to_numpy()) == PARAGRAPHS
    assert input_texts(PARAGRAPHS[0]) == [PARAGRAPHS[0]]
    # A paragraph's own HTML or Markdown is read as its text, as the service reads `paragraphs`.
    marked_up = [f"<p>{PARAGRAPHS[0]}</p>", f'<a href="/x">{PARAGRAPHS[1]}</a>', f"**{PARAGRAPHS[2]}**"]
    assert input_texts(marked_up) == PARAGRAPHS[:3]


def test_rows_without_a_letter_or_digit_are_refused_by_number() -> None:
    """As the service answers 422 for such a paragraph: no labels for an empty cell, "!!!" or markup alone."""
    with pytest.raises(MlflowException, match=r"text: rows 1, 2, 3, 4 \(counted from 0\) have no letter or digit"):
        input_texts([PARAGRAPHS[0], None, "!!!", "<p></p>", "* * *"])
    with pytest.raises(MlflowException, match=r"text: row 0 \("):
        input_texts(pd.DataFrame({"text": [""]}))
    # Missing cells, however pandas spells them, are missing text (str() made "nan" a paragraph).
    for missing in (None, float("nan"), pd.NA):
        with pytest.raises(MlflowException, match=r"text: row 1 \(counted from 0\) has no letter or digit"):
            input_texts(pd.DataFrame({"text": [PARAGRAPHS[0], missing]}, dtype=object))


@pytest.fixture(scope="module")
def pyfunc_model(bundle: ModelBundle, bundle_dir: Path, bundle_sha256: str, tmp_path_factory: pytest.TempPathFactory):
    """Saved as `topicframe train` logs it: the digest in its own artifact file, not in `model_config`, and
    its signature, which MLflow enforces on every prediction (dropping any column it does not name)."""
    folder = tmp_path_factory.mktemp("pyfunc")
    (folder / PYFUNC_DIGEST_FILE).write_text(bundle_sha256 + "\n", encoding="utf-8")
    path = folder / "model"
    mlflow.pyfunc.save_model(
        path,
        python_model=str(PACKAGE_DIR / "mlflow_model.py"),
        artifacts={"bundle": str(bundle_dir), "bundle_sha256": str(folder / PYFUNC_DIGEST_FILE)},
        signature=pyfunc_signature(bundle, PARAGRAPHS[:3]),
        input_example=pd.DataFrame({"text": PARAGRAPHS[:3]}),
    )
    return path


def test_a_model_logged_with_its_digest_in_model_config_still_loads(
    bundle_dir: Path, bundle_sha256: str, tmp_path: Path
) -> None:
    """Models logged before the digest had its own file carry it in the MLmodel's model_config."""
    path = tmp_path / "model"
    mlflow.pyfunc.save_model(
        path,
        python_model=str(PACKAGE_DIR / "mlflow_model.py"),
        artifacts={"bundle": str(bundle_dir)},
        model_config={"bundle_sha256": bundle_sha256},
    )
    assert len(mlflow.pyfunc.load_model(str(path)).predict(pd.DataFrame({"text": PARAGRAPHS}))) == len(PARAGRAPHS)
    wrong = tmp_path / "wrong"
    mlflow.pyfunc.save_model(
        wrong,
        python_model=str(PACKAGE_DIR / "mlflow_model.py"),
        artifacts={"bundle": str(bundle_dir)},
        model_config={"bundle_sha256": "0" * 64},
    )
    with pytest.raises(Exception, match=r"sha256"):
        mlflow.pyfunc.load_model(str(wrong))


def test_pyfunc_predicts_one_row_per_paragraph(pyfunc_model: Path, bundle: ModelBundle) -> None:
    model = mlflow.pyfunc.load_model(str(pyfunc_model))
    out = model.predict(pd.DataFrame({"text": PARAGRAPHS}))
    assert len(out) == len(PARAGRAPHS)
    expected = bundle.predict(PARAGRAPHS, layout=ArticleLayout.alone(len(PARAGRAPHS)))  # rows are unrelated
    assert out["role"].tolist() == [roles[0] for roles in expected["role"]]
    assert out["role"].tolist()[2] == "promo" and out["topic_labels"][2] == "" and out["frame_labels"][2] == ""
    # The Spanish paragraph is not read (too few words the model knows): no labels, whatever its role.
    assert out["read"].tolist() == [True, True, True, True, False] and out["topic_labels"][4] == ""
    for name in bundle.content_label_sets:
        assert out[f"{name}_labels"].tolist() == [";".join(labels) for labels in expected[name]]
        assert len({tuple(row) for row in out.filter(like=f"{name}_score_").to_numpy()}) == len(PARAGRAPHS)


def test_pyfunc_scores_rows_of_an_article_together(pyfunc_model: Path, bundle: ModelBundle) -> None:
    """With an article_id column, each article's rows are scored as the service scores a request's paragraphs."""
    model = mlflow.pyfunc.load_model(str(pyfunc_model))
    frame = pd.DataFrame({"text": PARAGRAPHS[:4] + PARAGRAPHS[:2], "article_id": ["a"] * 4 + ["b"] * 2})
    out = model.predict(frame)
    first, second = bundle.predict(PARAGRAPHS[:4]), bundle.predict(PARAGRAPHS[:2])
    for name in bundle.content_label_sets:
        assert out[f"{name}_labels"].tolist() == [";".join(x) for x in first[name] + second[name]]
    # The grouping shows in the scores: a row scored with its article's context differs from the row alone.
    alone = model.predict(frame[["text"]])
    assert not np.allclose(out.filter(like="topic_score_").to_numpy(), alone.filter(like="topic_score_").to_numpy())
    # A missing id is a row alone, as in the CLI's CSVs; ids must be strings (MLflow's schema refuses int64).
    mixed = model.predict(pd.DataFrame({"text": PARAGRAPHS[:4], "article_id": ["a", "a", None, "a"]}))
    assert mixed["role"].tolist()[2] == bundle.predict(PARAGRAPHS[2:3])["role"][0][0]
    with pytest.raises(Exception, match=r"article_id"):
        model.predict(pd.DataFrame({"text": PARAGRAPHS[:4], "article_id": [1, 1, 2, 2]}))


def test_a_role_column_gives_rows_the_callers_role_and_empty_cells_the_models(
    pyfunc_model: Path, bundle: ModelBundle
) -> None:
    model = mlflow.pyfunc.load_model(str(pyfunc_model))
    frame = pd.DataFrame({"text": PARAGRAPHS[:4], "role": ["body", None, "caption", ""]})
    out = model.predict(frame)
    alone = ArticleLayout.alone(4)
    expected = bundle.score(PARAGRAPHS[:4], layout=alone, roles=["body", None, "caption", None])
    model_roles = bundle.predict(PARAGRAPHS[:4], layout=alone)["role"]
    assert out["role"].tolist() == ["body", model_roles[1][0], "caption", model_roles[3][0]]
    assert out["role_score"].isna().tolist() == [True, False, True, False]
    for name in bundle.content_label_sets:
        decided = bundle.decide(name, expected.scores[name], expected.labelled)
        assert out[f"{name}_labels"].tolist() == [";".join(labels) for labels in decided]
    assert out["topic_labels"][2] == "" and out["topic_labels"][0] != ""  # a caption given gets no labels
    with pytest.raises(MlflowException, match=r"role: unknown role 'bdy' \(closest: 'body'; valid: body, headline"):
        model.predict(pd.DataFrame({"text": PARAGRAPHS[:2], "role": ["bdy", "body"]}))


def test_pyfunc_refuses_a_tampered_bundle(pyfunc_model: Path) -> None:
    artifact = next(pyfunc_model.rglob("arrays.npz"))
    original = artifact.read_bytes()
    try:
        artifact.write_bytes(original + b"\0")
        with pytest.raises(Exception, match=r"arrays.npz: sha256 does not match"):
            mlflow.pyfunc.load_model(str(pyfunc_model))
    finally:
        artifact.write_bytes(original)


def test_one_paragraph_prediction_frame_equals_pandas_own_construction(bundle: ModelBundle) -> None:
    """The fast frame (columns handed over as they are) holds what the dict constructor would build."""
    fast = prediction_frame(bundle, PARAGRAPHS[:1])
    scored = bundle.score(PARAGRAPHS[:1], layout=ArticleLayout.alone(1))
    assert scored.role_scores is not None
    expected: dict[str, object] = {"role": scored.roles, "role_score": scored.role_scores.max(axis=1)}
    expected["read"] = scored.read
    for name, scores in scored.scores.items():
        expected[f"{name}_labels"] = [";".join(row) for row in bundle.decide(name, scores, scored.labelled)]
        expected.update({f"{name}_score_{label}": scores[:, j] for j, label in enumerate(bundle.label_names[name])})
    slow = pd.DataFrame(expected)
    assert fast.columns.tolist() == slow.columns.tolist() and fast.index.equals(slow.index)
    assert fast.astype(str).to_dict("records") == slow.astype(str).to_dict("records")
    assert all(fast[c].dtype == slow[c].dtype for c in fast.columns if "_score" in c)
    assert fast.iloc[0]["topic_labels"] == slow.iloc[0]["topic_labels"] != ""


def test_frame_from_arrays_falls_back_to_the_public_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pd.DataFrame, "_from_arrays")
    frame = frame_from_arrays(["a", "b"], [np.array(["x", "y"], dtype=object), np.array([1.0, 2.0])], 2)
    assert frame.to_dict("list") == {"a": ["x", "y"], "b": [1.0, 2.0]}


def installed_with(requirements: list[str]) -> set[str]:
    """The distributions that installing ``requirements`` installs: them and their dependencies, recursively
    (dependencies that only an extra or another platform asks for are left out)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: set[str] = set()
    todo = [Requirement(line) for line in requirements]
    seen: set[tuple[str, str]] = set()
    while todo:
        wanted = todo.pop()
        name = canonicalize_name(wanted.name)
        extras = {"", *wanted.extras}  # "lxml[html_clean]" installs lxml and what its extra asks for
        if {(name, extra) for extra in extras} <= seen:
            continue
        seen |= {(name, extra) for extra in extras}
        found.add(name)
        try:
            dependencies = requires(name) or []
        except PackageNotFoundError:
            continue
        for line in dependencies:
            dependency = Requirement(line)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dependency)
    return found


def test_the_pyfunc_requirements_cover_what_loading_and_predicting_imports(pyfunc_model: Path) -> None:
    # A Spark executor or `mlflow models serve` builds its environment from these requirements alone: a module
    # our model's code imports that they do not install fails there, not here. Measured in a fresh interpreter:
    # what loading and predicting imports beyond `mlflow.pyfunc` itself (which imports pyspark, tqdm... when
    # they happen to be installed).
    import json
    import subprocess
    import sys

    from packaging.utils import canonicalize_name

    from training.tracking import _pip_requirements

    script = (
        "import json, sys\n"
        "from importlib.metadata import packages_distributions\n"
        "import mlflow.pyfunc, pandas as pd\n"
        "before = set(sys.modules)\n"
        f"model = mlflow.pyfunc.load_model({str(pyfunc_model)!r})\n"
        "model.predict(pd.DataFrame({'text': ['<p>Talks <a href=\"/x\">resumed</a>.</p>', '**Steel** quotas cut.'],"
        " 'article_id': ['a', 'a']}))\n"
        "owners = packages_distributions()\n"
        "top = {name.split('.')[0] for name in set(sys.modules) - before} - set(sys.stdlib_module_names)\n"
        "print(json.dumps(sorted({d for name in top for d in owners.get(name, [])})))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    imported = {canonicalize_name(name) for name in json.loads(done.stdout.splitlines()[-1])}
    assert {"trafilatura", "markdown-it-py"} <= imported  # the markup readers ran (a linear bundle needs no sklearn)
    assert imported - {"topicframe"} - installed_with(_pip_requirements()) == set()  # topicframe: the code dir
