"""`topicframe batch` and `mlflow.pyfunc.spark_udf` on real Spark: `local[2]` in-process, one `local-cluster` job.

One `local[2]` session serves the module (a session costs ~25 s to start on 2 cores). The
`local-cluster[2,1,1024]` job runs the real CLI in a subprocess — two executor JVMs of their own,
so the scoring function, the task and the model really cross process boundaries — and is started
first, in the background, so that its JVM start-up overlaps the in-process tests.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from typer.testing import CliRunner

from tests.conftest import LABELS, keep_mlflow_uris
from training.batch.inputs import NOT_UTF8, BatchInputError
from training.batch.job import BatchOptions, run_batch
from training.batch.session import spark_session
from training.bundle import BUNDLE_FILE, ModelBundle
from training.classify import classify, split_paragraphs
from training.markup import has_text
from training.pyfunc import pyfunc_signature
from training.registry import tracking_client
from training.tracking import PACKAGE_DIR

from .conftest import child_env, running

pytestmark = pytest.mark.integration

TEST_FILE = LABELS / "paragraphs_test.csv"
CLUSTER_MODEL = "tf-batch-cluster"


@pytest.fixture(scope="module")
def model(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The session model saved by this module, and its digest (what `topicframe train` prints)."""
    directory = tmp_path_factory.mktemp("batch-model") / "bundle"  # MLflow keeps the name under artifacts/
    return directory, bundle.save(directory)


@pytest.fixture(scope="module")
def registry(model: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite tracking store holding the session model as registered version 1 (with its digest tag)."""
    bundle_dir, sha = model
    root = tmp_path_factory.mktemp("batch-registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # MLflow's process-wide URIs and their environment variables are put back afterwards: a later test in this
    # process that loads `models:/...` from its own server would otherwise ask this store (and fail to find it).
    with pytest.MonkeyPatch.context() as monkeypatch:
        keep_mlflow_uris(monkeypatch)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        with mlflow.start_run():
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(PACKAGE_DIR / "mlflow_model.py"),
                artifacts={"bundle": str(bundle_dir)},
                model_config={"bundle_sha256": sha},
            )
        version = mlflow.register_model(info.model_uri, CLUSTER_MODEL).version
        tracking_client(uri).set_model_version_tag(CLUSTER_MODEL, str(version), "bundle_sha256", sha)
        yield uri


ARTICLES = [
    {"id": "a1", "text": "Trade talks collapse\n\nBy Jo Smith\n\nNegotiators walked out after the tariff dispute."},
    {"id": "a2", "text": ""},
    {"id": "a3", "text": "Navy ships sailed through the strait.\n\nPhoto: Reuters"},
]


@pytest.fixture(scope="module")
def cluster_job(registry: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, Path]]:
    """`topicframe batch --master local-cluster[2,1,1024]`, started now and awaited by its test."""
    root = tmp_path_factory.mktemp("batch-cluster")
    lines = [json.dumps(ARTICLES[0]), json.dumps(ARTICLES[1]), "{not json", "", json.dumps(ARTICLES[2])]
    (root / "articles.jsonl").write_text("\n".join(lines) + "\n")
    command = [
        sys.executable, "-m", "training.cli", "batch",
        "--input", str(root / "*.jsonl"), "--output", str(root / "out"), "--format", "jsonl",
        "--master", "local-cluster[2,1,1024]", "--model", f"models:/{CLUSTER_MODEL}/1",
    ]  # fmt: skip
    environment = child_env(MLFLOW_TRACKING_URI=registry, SPARK_LOCAL_IP="127.0.0.1")
    with running(command, root / "batch.log", environment) as process:
        yield process, root


@pytest.fixture(scope="module")
def spark(cluster_job: tuple[subprocess.Popen, Path]) -> Iterator[SparkSession]:
    session = spark_session("local[2]", app_name="topicframe-tests", progress=False)
    yield session
    session.stop()


def read_output(directory: Path) -> pd.DataFrame:
    return pd.read_parquet(directory)


def saved_pyfunc(model: tuple[Path, str], directory: Path, signature: Any = None) -> Path:
    """The bundle saved as an MLflow pyfunc, its digest in the model config (and a signature when given)."""
    mlflow.pyfunc.save_model(
        directory,
        python_model=str(PACKAGE_DIR / "mlflow_model.py"),
        artifacts={"bundle": str(model[0])},
        model_config={"bundle_sha256": model[1]},
        signature=signature,
    )
    return directory


def held_out_articles() -> dict[str, list[dict[str, str]]]:
    """The held-out test file's rows, grouped by article in page order."""
    articles: dict[str, list[dict[str, str]]] = {}
    with TEST_FILE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            articles.setdefault(row["article_id"], []).append(row)
    return articles


def test_batch_labels_equal_the_services_for_every_held_out_paragraph(
    spark: SparkSession, bundle: ModelBundle, model: tuple[Path, str], tmp_path: Path
) -> None:
    options = BatchOptions(
        [str(TEST_FILE)], str(tmp_path / "out"), model_uri=str(model[0]), model_sha256=model[1], unit="paragraph"
    )
    report = run_batch(options, spark=spark)
    out = read_output(tmp_path / "out" / "paragraphs").set_index("input_id")
    articles = held_out_articles()
    # Two press releases end with "###": no letter or digit, so rejected, as the service refuses them (422).
    assert (report.rows_in, report.paragraphs_scored, report.rejected) == (1296, 1294, 2)
    rejected = read_output(tmp_path / "out" / "rejected")
    assert rejected["text"].tolist() == ["###", "###"]
    assert report.articles == len(articles) == 95
    compared = 0
    for article_id, all_rows in articles.items():
        rows = [row for row in all_rows if has_text(row["text"])]
        served = classify(bundle, [row["text"] for row in rows])  # what POST /v1/classify returns
        for index, (row, paragraph) in enumerate(zip(rows, served["paragraphs"], strict=True)):
            got = out.loc[row["id"]]
            assert (got["article_id"], got["paragraph_index"], got["text"]) == (article_id, index, row["text"])
            assert got["role"] == paragraph["role"]
            for name in bundle.content_label_sets:
                assert list(got[name]) == paragraph["labels"][name], (row["id"], name)
                for label, score in paragraph["scores"][name].items():
                    assert abs(got[f"{name}_score_{label}"] - score) < 1e-4
            compared += 1
    assert compared == 1294
    summary = read_output(tmp_path / "out" / "articles").set_index("article_id")
    for article_id, rows in list(articles.items())[:10]:
        served = classify(bundle, [row["text"] for row in rows if has_text(row["text"])])["summary"]
        assert summary.loc[article_id, "content_paragraphs"] == served["content_paragraphs"]
        for label, count in served["label_sets"]["topic"]["counts"].items():
            assert summary.loc[article_id, f"topic_share_{label}"] == pytest.approx(count["share"], abs=1e-4)
    report_file = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report_file["paragraphs_scored"] == 1294
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging directory left


def test_pyfunc_spark_udf_and_lone_paragraphs_give_the_services_labels(
    spark: SparkSession, bundle: ModelBundle, model: tuple[Path, str], tmp_path: Path
) -> None:
    """A one-column frame: every row is a paragraph alone, for the pyfunc, the batch job and the service."""
    # "###" (no letter or digit) is refused by the pyfunc, as by the service: one such row would fail the job.
    texts = [row["text"] for rows in held_out_articles().values() for row in rows if has_text(row["text"])]
    pd.DataFrame({"text": texts}).to_parquet(tmp_path / "texts.parquet")
    model_dir = saved_pyfunc(model, tmp_path / "pyfunc")
    sets = bundle.content_label_sets
    result_type = ", ".join(["role string"] + [f"{name}_labels string" for name in sets])
    udf = mlflow.pyfunc.spark_udf(spark, str(model_dir), result_type=result_type, env_manager="local")
    frame = spark.read.parquet(str(tmp_path / "texts.parquet"))
    predicted = frame.withColumn("p", udf("text")).select("text", "p.*").toPandas()
    run_batch(
        BatchOptions(
            [str(tmp_path / "texts.parquet")],
            str(tmp_path / "out"),
            model_uri=str(model[0]),
            model_sha256=model[1],
            unit="paragraph",
        ),
        spark=spark,
    )
    batch = read_output(tmp_path / "out" / "paragraphs")
    served = classify(bundle, texts, article=False)["paragraphs"]
    assert len(predicted) == len(batch) == len(served) == 1294
    by_text_pyfunc = {row["text"]: row for row in predicted.to_dict("records")}
    by_text_batch = {row["text"]: row for row in batch.to_dict("records")}
    for paragraph in served:
        udf_row, batch_row = by_text_pyfunc[paragraph["text"]], by_text_batch[paragraph["text"]]
        assert udf_row["role"] == batch_row["role"] == paragraph["role"]
        for name in sets:
            assert udf_row[f"{name}_labels"] == ";".join(batch_row[name]) == ";".join(paragraph["labels"][name])


def test_a_blank_article_id_in_jsonl_is_no_article_as_an_empty_csv_cell_is(
    spark: SparkSession, bundle: ModelBundle, model: tuple[Path, str], tmp_path: Path
) -> None:
    texts = ["Customs officers seized the steel exports at the border.", "Beijing called the seizure illegal."]
    source = tmp_path / "in.jsonl"
    blanks = ["", " "]
    rows = [{"id": f"e{i}", "article_id": blanks[i], "text": text} for i, text in enumerate(texts)]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    options = BatchOptions(
        [str(source)], str(tmp_path / "out"), model_uri=str(model[0]), model_sha256=model[1], unit="paragraph"
    )
    run_batch(options, spark=spark)
    out = read_output(tmp_path / "out" / "paragraphs").set_index("input_id").loc[["e0", "e1"]]
    assert out["article_id"].isna().all() and out["paragraph_index"].tolist() == [0, 0]
    alone = classify(bundle, texts, article=False)["paragraphs"]
    assert [list(labels) for labels in out["topic"]] == [p["labels"]["topic"] for p in alone]


def test_a_role_given_for_every_paragraph_replaces_the_role_model_as_the_service_does(
    spark: SparkSession, bundle: ModelBundle, model: tuple[Path, str], tmp_path: Path
) -> None:
    """`--role body` for text known to be body: alone, a sentence describing a scene reads as a caption."""
    texts = [
        "Police arrested three protesters outside parliament.",
        "The Quad leaders met in Tokyo on Tuesday.",
        "Customs officers seized the steel exports at the border, the trade ministry said.",
    ]
    assert {p["role"] for p in classify(bundle, texts, article=False)["paragraphs"]} != {"body"}
    source = tmp_path / "in.csv"
    pd.DataFrame({"id": ["1", "2", "3"], "text": texts}).to_csv(source, index=False)
    options = BatchOptions(
        [str(source)], str(tmp_path / "out"), model_uri=str(model[0]), model_sha256=model[1], unit="paragraph"
    )
    run_batch(options, spark=spark)
    # An earlier result of the command is what --overwrite replaces (it holds nothing else a job does not write).
    run_batch(dataclasses.replace(options, role="body", overwrite=True), spark=spark)
    out = read_output(tmp_path / "out" / "paragraphs").set_index("input_id").loc[["1", "2", "3"]]
    served = classify(bundle, texts, article=False, roles=["body"] * 3)["paragraphs"]
    assert out["role"].tolist() == ["body"] * 3 and out["role_score"].isna().all()
    for name in bundle.content_label_sets:
        assert [list(labels) for labels in out[name]] == [p["labels"][name] for p in served]
    assert all(p["labels"]["topic"] for p in served)
    # The pyfunc way (README): a struct of text and role, the signature `topicframe train` logs.
    model_dir = saved_pyfunc(model, tmp_path / "pyfunc", pyfunc_signature(bundle, texts))
    result_type = "role string, role_score double, topic_labels string"
    udf = mlflow.pyfunc.spark_udf(spark, str(model_dir), result_type=result_type, env_manager="local")
    frame = spark.createDataFrame(pd.DataFrame({"text": texts, "role": ["body", "body", None]}))
    predicted = frame.withColumn("p", udf(F.struct("text", "role"))).select("p.*").toPandas()
    model_role = classify(bundle, texts[2:], article=False)["paragraphs"][0]
    assert predicted["role"].tolist() == ["body", "body", model_role["role"]]
    assert predicted["role_score"].isna().tolist() == [True, True, False]
    assert predicted["topic_labels"].tolist()[:2] == [";".join(p["labels"]["topic"]) for p in served[:2]]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.csv", "id,body\n1,hello\n", "in.csv: no text column 'text'; columns: id, body"),
        ("in.jsonl", '{"id": 1, "body": "hello"}\n', "no text column 'text'; columns: body, id"),
        ("in.parquet", None, "in.parquet: no text column 'text'; columns: id, body"),
        ("in.jsonl", "\n\n", "no rows to score"),
    ],
)
def test_a_missing_text_column_writes_nothing(
    spark: SparkSession, model: tuple[Path, str], tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    source = tmp_path / name
    if content is None:
        pd.DataFrame({"id": [1], "body": ["hello"]}).to_parquet(source)
    else:
        source.write_text(content)
    with pytest.raises(BatchInputError, match=message.replace("(", r"\(")):
        options = BatchOptions([str(source)], str(tmp_path / "out"), model_uri=str(model[0]), model_sha256=model[1])
        run_batch(options, spark=spark)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_paragraph_rows_with_markup_are_scored_as_their_text_as_the_service_reads_them(
    spark: SparkSession, bundle: ModelBundle, model: tuple[Path, str], tmp_path: Path
) -> None:
    # A CMS export: each row one paragraph's HTML, with and without an article id; one row only an image.
    rows = [
        ("1", "a", '<p>Customs officers at the <a href="/port">port</a> seized solar panels &amp; cells.</p>'),
        ("2", "a", "**Beijing** called the seizure a violation of trade rules."),
        ("3", "", "<p>Navy ships sailed through the <em>strait</em>.</p>"),
        ("4", "a", '<p><img src="a.jpg"></p>'),
        ("5", "a", "> " * 21 + "**quoted too deep to read**"),
        ("6", "", "<p>* * *</p>"),  # once read, no letter or digit: refused, as the service and pyfunc refuse it
        # Scored, but not read (too few words the model knows): no labels, as the service gives it.
        ("7", "a", "<p>Die Regierung will die Zölle auf Stahl erhöhen, teilte das Ministerium am Montag mit.</p>"),
    ]
    source = tmp_path / "in.csv"
    pd.DataFrame(rows, columns=["id", "article_id", "text"]).to_csv(source, index=False)
    options = BatchOptions(
        [str(source)], str(tmp_path / "out"), model_uri=str(model[0]), model_sha256=model[1], unit="paragraph"
    )
    report = run_batch(options, spark=spark)
    assert (report.rows_in, report.paragraphs_scored, report.rejected) == (7, 4, 3)
    out = read_output(tmp_path / "out" / "paragraphs").set_index("input_id")
    assert out.loc["1", "text"] == "Customs officers at the port seized solar panels & cells."
    assert out.loc["3", "text"] == "Navy ships sailed through the strait."
    assert out.loc["2", "text"] == "Beijing called the seizure a violation of trade rules."
    served = classify(bundle, [out.loc[i, "text"] for i in ("1", "2", "7")])
    assert [list(out.loc[i, "topic"]) for i in ("1", "2", "7")] == [p["labels"]["topic"] for p in served["paragraphs"]]
    assert out.loc[["1", "2", "7"], "read"].tolist() == [p["read"] for p in served["paragraphs"]] == [True, True, False]
    article = read_output(tmp_path / "out" / "articles").set_index("article_id").loc["a"]
    summary = served["summary"]
    assert (article["content_paragraphs"], article["unread_paragraphs"]) == (
        summary["content_paragraphs"],
        summary["unread_paragraphs"],
    )
    rejected = read_output(tmp_path / "out" / "rejected").sort_values("input_id")
    assert rejected["input_id"].tolist() == ["4", "5", "6"] and "markup" in rejected["reject_reason"].iloc[0]
    assert "Markdown nested more than 20 levels deep" in rejected["reject_reason"].iloc[1]
    assert rejected["reject_reason"].iloc[2] == "no letter or digit once its markup is left out"


def test_csv_files_with_different_headers_are_read_by_their_own_and_csv_output_is_rfc_4180(
    spark: SparkSession, model: tuple[Path, str], tmp_path: Path
) -> None:
    """Files whose columns come in another order (or with one more) failed the job with a long Java trace; and
    the CSV written escaped quotes as \\", which pandas and csv.DictReader misread."""
    quoted = 'Before, "my boat came back full by noon," said the fisherman.'
    pd.DataFrame({"id": ["a1", "a2"], "text": [quoted, "Customs officers seized the steel exports."]}).to_csv(
        tmp_path / "one.csv", index=False
    )
    envoys = pd.DataFrame({"text": ["Envoys met in Doha to reopen talks."], "id": ["b1"]})  # columns reversed
    envoys.to_csv(tmp_path / "two.csv", index=False)
    pd.DataFrame({"id": ["c1"], "article_id": ["C"], "text": ["Navy ships sailed through the strait."]}).to_csv(
        tmp_path / "three.csv", index=False
    )
    options = BatchOptions(
        [str(tmp_path / "*.csv")], str(tmp_path / "out"), output_format="csv", model_uri=str(model[0]),
        model_sha256=model[1], unit="paragraph",
    )  # fmt: skip
    report = run_batch(options, spark=spark)
    assert (report.rows_in, report.paragraphs_scored, report.rejected) == (4, 4, 0)
    written = pd.concat(pd.read_csv(part) for part in sorted((tmp_path / "out" / "paragraphs").glob("part-*.csv")))
    assert sorted(written["input_id"]) == ["a1", "a2", "b1", "c1"]
    assert quoted in written["text"].tolist()  # read back whole by pandas: quotes doubled, not backslashed


def test_a_row_whose_bytes_are_not_utf8_is_rejected_with_its_line_not_scored_as_damaged_text(
    spark: SparkSession, model: tuple[Path, str], tmp_path: Path
) -> None:
    """Spark read the bad byte as U+FFFD without a word, and the damaged text was scored."""
    (tmp_path / "rows.csv").write_bytes(b"id,text\na1,Tariffs on steel rose.\na2,Tariffs \xff rose again.\n")
    (tmp_path / "rows.jsonl").write_bytes(
        b'{"id": "j1", "text": "Envoys \xfe met."}\n{"id": "j2", "text": "Envoys met."}\n'
    )
    options = BatchOptions(
        [str(tmp_path / "rows.csv"), str(tmp_path / "rows.jsonl")], str(tmp_path / "out"), model_uri=str(model[0]),
        model_sha256=model[1], unit="paragraph",
    )  # fmt: skip
    report = run_batch(options, spark=spark)
    assert (report.rows_in, report.paragraphs_scored, report.rejected) == (4, 2, 2)
    rejected = read_output(tmp_path / "out" / "rejected").sort_values("input_id")
    assert rejected["input_id"].tolist() == ["a2", "j1"] and rejected["source_line"].tolist() == [3, 1]
    assert set(rejected["reject_reason"]) == {NOT_UTF8}
    assert sorted(read_output(tmp_path / "out" / "paragraphs")["input_id"]) == ["a1", "j2"]


@pytest.mark.parametrize("name", ["in.csv", "in.parquet"])
def test_an_input_with_no_rows_is_an_error_and_writes_nothing(
    spark: SparkSession, model: tuple[Path, str], tmp_path: Path, name: str
) -> None:
    source = tmp_path / name
    if name.endswith(".csv"):
        source.write_text("id,text\n")
    else:
        pd.DataFrame({"id": pd.Series([], dtype="int64"), "text": pd.Series([], dtype="str")}).to_parquet(source)
    options = BatchOptions([str(source)], str(tmp_path / "out"), model_uri=str(model[0]), model_sha256=model[1])
    with pytest.raises(BatchInputError, match=f"{name}: no rows to score"):
        run_batch(options, spark=spark)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_a_column_named_that_no_input_has_and_an_unreadable_file_are_one_line(
    spark: SparkSession, model: tuple[Path, str], tmp_path: Path
) -> None:
    """A misspelt --id-column gave null ids and a misspelt --article-column scored every row alone (both exit 0);
    a Parquet file that is not one printed a 546-line traceback."""
    from training.batch.commands import _spark_error

    source = tmp_path / "in.csv"
    source.write_text("id,article_id,text\n1,a,Tariffs rose.\n2,a,Envoys met.\n")
    base = BatchOptions([str(source)], str(tmp_path / "out"), model_uri=str(model[0]), model_sha256=model[1])
    for given, message in (
        ({"id_column": "nope"}, "--id-column nope: no input has a column 'nope'"),
        ({"article_column": "articel_id", "unit": "paragraph"}, "--article-column articel_id: no input has a column"),
    ):
        with pytest.raises(BatchInputError, match=message):
            run_batch(dataclasses.replace(base, **given), spark=spark)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]

    # A JSON text that is not a string was scored as its JSON ('["Tariffs rose.","Troops massed."]' a headline).
    records = tmp_path / "records.jsonl"
    records.write_text(
        '{"id": "s", "text": "Tariffs rose."}\n{"id": "a", "text": ["Tariffs rose.", "Troops massed."]}\n'
        '{"id": "n", "text": 12345}\n{"id": "o", "text": {"a": "b"}}\n'
    )
    options = dataclasses.replace(base, inputs=[str(records)], unit="paragraph", output=str(tmp_path / "scored"))
    report = run_batch(options, spark=spark)
    assert (report.rows_in, report.paragraphs_scored, report.rejected) == (4, 1, 3)
    rejected = read_output(tmp_path / "scored" / "rejected").sort_values("input_id")
    assert rejected["reject_reason"].tolist() == [
        "text is not a string but a JSON ARRAY<STRING>",
        "text is not a string but a JSON BIGINT",
        "text is not a string but a JSON OBJECT<a: STRING>",
    ]
    assert read_output(tmp_path / "scored" / "paragraphs")["text"].tolist() == ["Tariffs rose."]
    shutil.rmtree(tmp_path / "scored")

    broken = tmp_path / "broken.parquet"
    broken.write_text("this is not a Parquet file\n")
    with pytest.raises(Exception) as raised:
        run_batch(dataclasses.replace(base, inputs=[str(broken)]), spark=spark)
    said = _spark_error(raised.value)
    assert said is not None and "broken.parquet" in said and "\n" not in said, said
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.tmp-*"))


def test_bad_input_is_one_line_and_exit_1_before_spark_starts(
    model: tuple[Path, str], tmp_path: Path, registry: str
) -> None:
    from training.cli import app

    bundle_dir, sha = model
    good = tmp_path / "in.csv"
    good.write_text("id,text\n1,hello\n")
    (tmp_path / "exists").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "appended.csv").write_bytes(b"id,text\r\n1,hello\r\n2,rows added by another tool\n")
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    shutil.copytree(bundle_dir, tampered, dirs_exist_ok=True)
    (tampered / BUNDLE_FILE).write_bytes((bundle_dir / BUNDLE_FILE).read_bytes() + b"\0")
    cases = [
        (["--input", str(tmp_path / "nope.csv")], "nope.csv: input not found"),
        (["--input", str(tmp_path / "*.parquet")], "*.parquet: the glob matches no file"),
        (["--input", str(tmp_path / "notes.txt")], "notes.txt: unknown input format '.txt'"),
        (["--input", str(tmp_path / "appended.csv")], "appended.csv:3: this line ends with LF"),
        (["--input", str(good), "--format", "xml"], "--format xml: unknown output format"),
        (["--input", str(good), "--role", "Body"], "--role Body: unknown role 'Body' (closest: 'body'; valid: body,"),
        (["--input", str(good), "--output", str(tmp_path / "exists")], "output exists; pass --overwrite"),
        (["--input", str(good), "--model", "models:/no-such-model/3"], "registered model 'no-such-model' has no"),
        (["--input", str(good), "--model", str(tampered), "--model-sha256", sha], "sha256 does not match"),
        (["--input", str(good), "--model", str(bundle_dir), "--model-sha256", "0" * 64], "does not match the trusted"),
    ]
    runner = CliRunner()
    for args, message in cases:
        if "--output" not in args:
            args = [*args, "--output", str(tmp_path / "out")]
        if "--model" not in args:
            args = [*args, "--model", str(bundle_dir), "--model-sha256", sha]
        result = runner.invoke(app, ["batch", *args], env={"MLFLOW_TRACKING_URI": registry})
        assert result.exit_code == 1, (args, result.output)
        lines = result.output.strip().splitlines()
        assert lines[-1].startswith("error: ") and message in lines[-1], (args, result.output)
        assert len([line for line in lines if line.startswith("error")]) == 1
        assert not (tmp_path / "out").exists()


def test_sigterm_while_spark_starts_leaves_no_jvm_behind(model: tuple[Path, str], tmp_path: Path) -> None:
    """Interrupted while PySpark launched the JVM, the command exited 130 and the JVM ran on, orphaned."""
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,Tariff talks resumed.\n")
    command = [
        sys.executable, "-m", "training.cli", "batch", "--input", str(source), "--output", str(tmp_path / "out"),
        "--master", "local[1]", "--model", str(model[0]), "--model-sha256", model[1],
    ]  # fmt: skip
    log = tmp_path / "batch.log"
    with running(command, log, child_env(SPARK_LOCAL_IP="127.0.0.1")) as process:
        deadline = time.monotonic() + 120
        while "starting Spark" not in log.read_text() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        time.sleep(0.5)  # the JVM is being launched
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 130, log.read_text()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(process.pid, 0)  # anything left in the command's process group (the JVM)?
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"a process of the job outlived it\n{log.read_text()[-2000:]}")
    assert "interrupted: nothing was written" in log.read_text() and not (tmp_path / "out").exists()


def test_local_cluster_job_scores_articles_and_rejects_bad_rows(
    cluster_job: tuple[subprocess.Popen, Path], bundle: ModelBundle
) -> None:
    process, root = cluster_job
    process.wait(timeout=240)
    log = (root / "batch.log").read_text()
    assert process.returncode == 0, log
    assert "4 rows in, 5 paragraphs scored, 2 rejected, 2 articles" in log
    out = root / "out"
    assert sorted(p.name for p in out.iterdir()) == ["articles", "paragraphs", "rejected", "report.json"]
    assert not [p.name for p in root.iterdir() if p.name.startswith(".")]  # no staging directory left
    paragraphs = pd.concat([pd.read_json(f, lines=True) for f in sorted((out / "paragraphs").glob("part-*.json"))])
    assert set(paragraphs["model_name"]) == {CLUSTER_MODEL} and set(paragraphs["model_version"].astype(str)) == {"1"}
    for article in (ARTICLES[0], ARTICLES[2]):
        served = classify(bundle, split_paragraphs(article["text"]))["paragraphs"]
        rows = paragraphs[paragraphs["input_id"] == article["id"]].sort_values("paragraph_index")
        assert rows["text"].tolist() == [p["text"] for p in served]
        assert rows["role"].tolist() == [p["role"] for p in served]
        for name in bundle.content_label_sets:
            assert rows[name].tolist() == [p["labels"][name] for p in served]
    rejected = pd.concat([pd.read_json(f, lines=True) for f in (out / "rejected").glob("part-*.json")])
    reasons = sorted(zip(rejected["source_line"], rejected["reject_reason"], strict=True))
    assert reasons == [(2, "empty text"), (3, "not a JSON object on one line")]
    assert all(str(f).endswith("articles.jsonl") for f in rejected["source_file"])
    # Every record has every key: a null field (the id of a line that is not JSON) is written as null, not left out.
    records = [json.loads(line) for f in (out / "rejected").glob("part-*.json") for line in f.read_text().splitlines()]
    keys = {"input_id", "article_id", "source_file", "source_line", "reject_reason", "text"}
    assert len(records) == 2 and all(set(record) == keys for record in records)
    assert any(record["input_id"] is None for record in records)
