"""Batch benchmark (issue 15): the model object, `topicframe batch` on Spark, and `mlflow.pyfunc.spark_udf`.

    .venv/bin/python -m bench.bench_batch --tracking-uri sqlite:////path/mlflow.db      # models:/topicframe@champion
    .venv/bin/python -m bench.bench_batch --rows 200000 --tracking-uri http://127.0.0.1:5000

N paragraphs are sampled with replacement from the shipped corpus (``labels/paragraphs.csv`` and
``labels/paragraphs_test.csv``) with a recorded seed and written as one Parquet file (row groups of
10,000 rows, columns ``id`` and ``text``: unrelated paragraphs, each scored alone). Then, one after
the other on the same machine:
  (a) the model object in this process, one thread: read the Parquet file, `ModelBundle.score` +
      `decide` in chunks of 4,096 paragraphs (what a Python worker of the batch job does);
  (b) ``topicframe batch --master local[2] --unit paragraph`` as a subprocess, timed from launch to
      exit (JVM start-up, model loading, reading, scoring, writing Parquet, the report);
  (c) a PySpark script on ``local[2]`` that reads the same file, applies
      ``mlflow.pyfunc.spark_udf(spark, models:/topicframe/<version>, env_manager="local")`` and writes Parquet,
      timed the same way.
Peak RSS of each process tree (driver JVM, Python workers) is sampled from /proc every 0.5 s.
Prints a markdown table and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench.load_tools import process_tree, rss_mb
from training.sqlite_store import sqlite_file

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
MODEL_URI = "models:/topicframe@champion"
SEED = 20261202
CHUNK = 4096


@dataclass
class Row:
    setup: str
    paragraphs: int
    seconds: float
    peak_rss_mb: float
    peak_process_mb: float
    note: str = ""

    @property
    def per_second(self) -> float:
        return self.paragraphs / self.seconds


def sample_corpus(rows: int, seed: int, path: Path) -> None:
    """``rows`` paragraphs drawn with replacement from the corpus, as Parquet (id, text)."""
    import numpy as np
    import pandas as pd

    texts: list[str] = []
    for name in ("paragraphs.csv", "paragraphs_test.csv"):
        with (ROOT / "labels" / name).open(newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)]
    picked = np.random.default_rng(seed).integers(0, len(texts), size=rows)
    frame = pd.DataFrame({"id": [f"p{i:07d}" for i in range(rows)], "text": [texts[i] for i in picked]})
    frame.to_parquet(path, row_group_size=10_000, index=False)


class PeakRss:
    """Peak total RSS of a process tree (and of its largest process), sampled in a thread."""

    def __init__(self, pid: int):
        self.pid, self.total, self.largest = pid, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = [rss_mb(p) for p in process_tree(self.pid)]
            self.total, self.largest = max(self.total, sum(sizes)), max(self.largest, max(sizes, default=0.0))
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def timed(command: list[str], env: dict[str, str], log: Path) -> tuple[float, PeakRss]:
    # In the embedded store's folder: MLflow's own loaders (`spark_udf`) resolve its relative artifact paths
    # (`mlartifacts/<id>`, README "Training") against the working directory; topicframe's resolve them anywhere.
    store = sqlite_file(env.get("MLFLOW_TRACKING_URI", ""))
    cwd = store.parent if store is not None else log.parent
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        peak = PeakRss(process.pid)
        code = process.wait()
    seconds = time.perf_counter() - started
    peak.stop()
    if code != 0:
        sys.exit(f"{command[:4]} failed ({code}); see {log}")
    return seconds, peak


def model_object(parquet: Path, env: dict[str, str]) -> Row:
    """(a) in a fresh process so its RSS is its own; one BLAS thread (OMP_NUM_THREADS=1)."""
    script = f"""
import json, time, resource
import pandas as pd, sklearn
from training.registry import load_model
from training.features import ArticleLayout
started = time.perf_counter()
bundle, ref = load_model({MODEL_URI!r})
texts = pd.read_parquet({str(parquet)!r}, columns=["text"])["text"].tolist()
n = 0
with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
    for i in range(0, len(texts), {CHUNK}):
        chunk = texts[i : i + {CHUNK}]
        scored = bundle.score(chunk, layout=ArticleLayout.alone(len(chunk)))
        for name, scores in scored.scores.items():
            bundle.decide(name, scores, scored.labelled)
        n += len(chunk)
print(json.dumps({{"paragraphs": n, "version": ref.version,
                   "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""
    log = parquet.parent / "model_object.log"
    seconds, peak = timed([sys.executable, "-c", script], env, log)
    result = json.loads(log.read_text().strip().splitlines()[-1])
    return Row("(a) model object, 1 process, 1 thread", result["paragraphs"], seconds, peak.total, peak.largest)


def batch_job(parquet: Path, env: dict[str, str]) -> Row:
    out = parquet.parent / "batch-out"
    command = [
        str(VENV_BIN / "topicframe"), "batch", "--input", str(parquet), "--output", str(out),
        "--master", "local[2]", "--unit", "paragraph", "--model", MODEL_URI, "--overwrite",
    ]  # fmt: skip
    log = parquet.parent / "batch.log"
    seconds, peak = timed(command, env, log)
    report = json.loads((out / "report.json").read_text())
    note = f"job report: {report['wall_seconds']} s, {report['paragraphs_per_second']:,.0f}/s after JVM start"
    return Row("(b) `topicframe batch`, local[2]", report["paragraphs_scored"], seconds, peak.total, peak.largest, note)


def spark_udf(parquet: Path, version: str, env: dict[str, str]) -> Row:
    script = f"""
import json, time
import mlflow.pyfunc
from training.batch.session import spark_session
from training.registry import load_model
bundle, _ = load_model({MODEL_URI!r})
fields = ["role string"] + [f"{{n}}_labels string" for n in bundle.content_label_sets]
fields += [f"{{n}}_score_{{l}} double" for n in bundle.content_label_sets for l in bundle.label_names[n]]
spark = spark_session("local[2]", progress=False)
udf = mlflow.pyfunc.spark_udf(spark, "models:/topicframe/{version}", result_type=", ".join(fields), env_manager="local")
df = spark.read.parquet({str(parquet)!r})
df.withColumn("p", udf("text")).select("id", "p.*").write.mode("overwrite").parquet({str(parquet.parent / "udf-out")!r})
print(json.dumps({{"paragraphs": spark.read.parquet({str(parquet.parent / "udf-out")!r}).count()}}))
"""
    log = parquet.parent / "spark_udf.log"
    seconds, peak = timed([sys.executable, "-c", script], env, log)
    result = json.loads(log.read_text().strip().splitlines()[-1])
    return Row("(c) `mlflow.pyfunc.spark_udf`, local[2]", result["paragraphs"], seconds, peak.total, peak.largest)


def report(rows: list[Row], n: int, seed: int, load_before: str, load_after: str) -> str:
    a, b, c = rows
    lines = [
        f"Batch scoring, {n:,} paragraphs (seed {seed}), {platform.node()}: {os.cpu_count()} cores, "
        f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"load average before: {load_before}; after: {load_after}",
        "",
        "| setup | paragraphs | wall s | paragraphs/s | peak RSS, process tree | largest process | note |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.setup} | {row.paragraphs:,} | {row.seconds:.1f} | {row.per_second:,.0f} | "
            f"{row.peak_rss_mb:,.0f} MB | {row.peak_process_mb:,.0f} MB | {row.note} |"
        )
    ab, bc = b.per_second / a.per_second, b.per_second / c.per_second
    lines += [
        "",
        f"- (b) / (a) = {ab:.2f}× (target ≥ 1.5×: {'met' if ab >= 1.5 else 'NOT met'})",
        f"- (b) / (c) = {bc:.2f}× (target ≥ 3×: {'met' if bc >= 3 else 'NOT met'})",
        f"- peak RSS under 4 GB: {'yes' if max(r.peak_rss_mb for r in rows) < 4096 else 'NO'}",
    ]
    return "\n".join(lines) + "\n"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tracking-uri", required=True, help=f"tracking store/server holding {MODEL_URI}")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--only", default="abc", help="which setups to run (default abc)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "batch.md")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="topicframe-batch-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": args.tracking_uri,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
    }
    os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    from training.registry import resolve_model

    version = resolve_model(MODEL_URI).version
    parquet = workdir / f"paragraphs-{args.rows}-{args.seed}.parquet"
    if not parquet.exists():
        sample_corpus(args.rows, args.seed, parquet)
    load_before = load_average()
    runners = {
        "a": lambda: model_object(parquet, env),
        "b": lambda: batch_job(parquet, env),
        "c": lambda: spark_udf(parquet, str(version), env),
    }
    rows = []
    for key in args.only:
        print(f"running ({key}) ...", file=sys.stderr)
        rows.append(runners[key]())
        print(rows[-1], file=sys.stderr)
    if len(rows) == 3:
        table = report(rows, args.rows, args.seed, load_before, load_average())
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
        print(table)
    print(f"(logs in {workdir})", file=sys.stderr)


if __name__ == "__main__":
    main()
