"""Serving benchmark (issue 4 "Performance"): the model in-process, this service, and `mlflow models serve`.

    .venv/bin/python -m bench.bench_service            # trains + registers the default model first (~1-2 min)
    .venv/bin/python -m bench.bench_service --duration 5 --tracking-uri http://127.0.0.1:5000

Same registered model, same machine, one run, side by side:
  (a) the model object's in-process ``predict`` on batches of paragraphs (the limit);
  (b) ``topicframe serve``, 1 and 32 paragraphs per request, 1 and 2 workers;
  (c) ``mlflow models serve --env-manager local`` of the same version (the pyfunc wrapper), same requests;
  (d) the fair peer: the same fitted vectorizer (word, and char n-grams when configured) and linear
      classifiers as one plain scikit-learn ``Pipeline`` logged with ``mlflow.sklearn`` and served by
      ``mlflow models serve`` (1 worker): what an MLflow user does without topicframe. It scores every
      paragraph alone, without the role model and context blocks, so it does less work per paragraph
      than (b); its scores equal the bundle's for a paragraph alone (checked before it is logged).
Load: wrk (Debian package ``wrk``), one thread, 16 keep-alive connections on loopback, in its own
process; its CPU use is reported because on 2 cores it competes with the server. Prints a markdown
table with the ratios against the issue's targets and writes it to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load_tools import cpu_seconds, free_port, memory, started, wrk
from training.sqlite_store import sqlite_file

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
MODEL_URI = "models:/topicframe@champion"
CONNECTIONS = 16
LOAD_BEFORE = os.getloadavg()[0]

# Targets from issue 4, checked in the summary.
TARGET_VS_MLFLOW = 4.0  # (b) / (d) (issue 12; (c) before it), 1 paragraph per request, 1 worker each
TARGET_VS_INPROCESS = 0.70  # (b) / (a), 32 paragraphs per request, 1 worker
SKLEARN_PEER = "topicframe-sklearn-peer"  # registered model name of (d)
TARGET_P99_MS = 5.0  # 1 paragraph, 1 connection
TARGET_RSS_MB = 300.0  # per worker


@dataclass
class Row:
    setup: str
    workers: int
    per_request: int
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float  # CPU time the server (all its processes) spent per request
    loadgen_cpu: float | None = None  # wrk's CPU, as a share of one core
    errors: int = 0

    @property
    def paragraphs_per_s(self) -> float:
        return self.requests_per_s * self.per_request

    @property
    def cpu_ms_per_paragraph(self) -> float:
        return self.server_cpu_ms / self.per_request


@dataclass
class Server:
    name: str
    workers: int
    startup_s: float
    rss_worker_mb: float = 0.0
    rss_total_mb: float = 0.0


# ---------------------------------------------------------------- the paragraphs and request bodies


def test_paragraphs(n: int) -> list[str]:
    """The first ``n`` news-like paragraphs of the held-out test CSV (cycled if it is short)."""
    import csv

    with (ROOT / "labels" / "paragraphs_test.csv").open(encoding="utf-8", newline="") as f:
        texts = [row["text"] for row in csv.DictReader(f) if len(row["text"]) > 80]
    return [texts[i % len(texts)] for i in range(n)]


def service_body(paragraphs: list[str]) -> str:
    return json.dumps({"paragraphs": paragraphs})


def mlflow_body(paragraphs: list[str]) -> str:
    return json.dumps({"dataframe_split": {"columns": ["text"], "data": [[p] for p in paragraphs]}})


def sklearn_body(paragraphs: list[str]) -> str:
    # A 1-D array of strings, what a scikit-learn text Pipeline takes (a DataFrame would be iterated by column).
    return json.dumps({"inputs": paragraphs})


def load(
    setup: str,
    pid: int,
    workers: int,
    url: str,
    body: str,
    per_request: int,
    connections: int,
    seconds: float,
    workdir: Path,
) -> Row:
    """Warm up, then one measured wrk run; the server's CPU time is read around the measured run."""
    wrk(url, body, connections, 2, workdir)  # warm-up: first-request imports, caches, connection set-up
    cpu_before = cpu_seconds(pid)
    rps, p50, p99, cpu, errors = wrk(url, body, connections, seconds, workdir)
    server_ms = (cpu_seconds(pid) - cpu_before) * 1e3 / max(1.0, rps * round(seconds))
    return Row(setup, workers, per_request, connections, rps, p50, p99, server_ms, cpu, errors)


# ---------------------------------------------------------------- (a) in-process


def in_process(bundle: object, per_request: int, seconds: float) -> Row:
    """The model object's own ``predict`` on batches, in this process, one thread."""
    batch = test_paragraphs(per_request)
    predict = bundle.predict  # type: ignore[attr-defined]
    for _ in range(20):
        predict(batch)
    timings = []
    cpu_before = time.process_time()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        started_at = time.perf_counter()
        predict(batch)
        timings.append(time.perf_counter() - started_at)
    cpu_ms = (time.process_time() - cpu_before) * 1e3 / len(timings)
    q = statistics.quantiles(timings, n=100)
    rate = len(timings) / sum(timings)
    return Row("(a) in-process `bundle.predict`", 1, per_request, 1, rate, q[49] * 1e3, q[98] * 1e3, cpu_ms)


# ---------------------------------------------------------------- (d) the plain scikit-learn peer


def sklearn_pipeline(bundle: Any) -> Any:
    """The bundle's fitted word vectorizer and each content set's linear classifier as one plain Pipeline.

    Each label becomes a fitted `LogisticRegression` over the vectorizer's columns (the weights of the
    paragraph's own block: a paragraph alone has no context blocks), joined by `MultiOutputClassifier`;
    ``predict`` gives one column per label (0/1 for a multi-label set's label, the class for a single-label set).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.multioutput import MultiOutputClassifier
    from sklearn.pipeline import Pipeline

    vectorizer = bundle.vectorizer_
    if hasattr(vectorizer, "to_sklearn"):  # a loaded model's vectorizer is scikit-learn-free
        vectorizer = vectorizer.to_sklearn()
    parts = (
        [part for _, part in vectorizer.transformer_list] if hasattr(vectorizer, "transformer_list") else [vectorizer]
    )
    n = sum(len(part.vocabulary_) for part in parts)  # the paragraph's own block (word, and char n-grams)

    def fitted(coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray) -> LogisticRegression:
        model = LogisticRegression()
        model.coef_, model.intercept_, model.classes_, model.n_features_in_ = coef, intercept, classes, n
        return model

    estimators = []
    for name in bundle.content_label_sets:
        scorer = bundle.label_sets_[name].scorer
        assert scorer is not None, f"{name}: the peer needs a logistic model (the default config)"
        weights, intercepts = scorer.weights[:n].T, scorer.intercepts
        if scorer.link == "sigmoid":  # one binary model per label
            estimators += [fitted(w[None, :], intercepts[j : j + 1], np.array([0, 1])) for j, w in enumerate(weights)]
        else:
            estimators.append(fitted(weights, intercepts, np.arange(len(intercepts))))
    classify = MultiOutputClassifier(LogisticRegression())
    classify.estimators_ = estimators
    pipeline = Pipeline([("tfidf", vectorizer), ("classify", classify)])
    check_peer(bundle, pipeline, test_paragraphs(200))
    return pipeline


def log_sklearn_peer(bundle: Any, tracking_uri: str, workdir: Path) -> str:
    """Log and register the peer Pipeline with `mlflow.sklearn`; its models:/ URI."""
    import mlflow
    import mlflow.sklearn

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = mlflow.MlflowClient(tracking_uri)
    if client.get_experiment_by_name("bench-sklearn-peer") is None:  # artifacts at an absolute path: the
        # model server runs in another directory, and a file store's default location is relative
        client.create_experiment("bench-sklearn-peer", artifact_location=str(workdir / "sklearn-peer"))
    mlflow.set_experiment("bench-sklearn-peer")
    with mlflow.start_run(run_name="plain sklearn Pipeline"):
        info = mlflow.sklearn.log_model(sklearn_pipeline(bundle), name="model", registered_model_name=SKLEARN_PEER)
    return f"models:/{SKLEARN_PEER}/{info.registered_model_version}"


def peer_columns(bundle: Any) -> list[str]:
    """The peer's output columns: each label of a multi-label set, one per single-label set."""
    return [
        f"{name}.{label}" if bundle.multi_label[name] else name
        for name in bundle.content_label_sets
        for label in (bundle.label_names[name] if bundle.multi_label[name] else [""])
    ]


def check_peer(bundle: Any, pipeline: Any, texts: list[str]) -> None:
    """The peer's probabilities equal the bundle's for each paragraph alone (no context, no roles needed)."""
    import numpy as np

    from training.features import ArticleLayout

    ours = bundle.predict_proba(texts, bundle.content_label_sets, ArticleLayout.alone(len(texts)))
    X = pipeline.named_steps["tfidf"].transform(texts)
    theirs, estimators = [], iter(pipeline.named_steps["classify"].estimators_)
    for name in bundle.content_label_sets:
        if bundle.multi_label[name]:
            theirs.append(np.column_stack([next(estimators).predict_proba(X)[:, 1] for _ in ours[name].T]))
        else:
            theirs.append(next(estimators).predict_proba(X))
    assert np.allclose(np.hstack(theirs), np.hstack([ours[n] for n in bundle.content_label_sets]), atol=1e-6)


# ---------------------------------------------------------------- the run


def train_default_model(tracking_uri: str, log: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    labels = ROOT / "labels"
    command = [
        str(VENV_BIN / "topicframe"),
        "train",
        "--promote",
        "--data",
        str(labels / "paragraphs.csv"),
        "--test-data",
        str(labels / "paragraphs_test.csv"),
        "--labels",
        str(labels),
    ]
    with log.open("ab") as out:  # run in the log's directory: MLflow puts local artifacts under the cwd
        subprocess.run(command, cwd=log.parent, env=env, stdout=out, stderr=subprocess.STDOUT, check=True, timeout=1800)


def load_runs(
    setup: str, pid: int, workers: int, url: str, bodies: dict[int, str], seconds: float, workdir: Path
) -> list[Row]:
    """Each body with 16 connections; with 1 worker, the single paragraph with 1 connection too (for p99)."""
    rows = [load(setup, pid, workers, url, body, n, CONNECTIONS, seconds, workdir) for n, body in bodies.items()]
    if workers == 1:
        rows.append(load(setup, pid, 1, url, bodies[1], 1, 1, seconds, workdir))
    return rows


def run(tracking_uri: str, seconds: float, workdir: Path) -> tuple[list[Row], list[Server], str]:
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    from training.registry import load_model

    bundle, ref = load_model(MODEL_URI, workdir / "cache")
    rows = [in_process(bundle, 1, seconds), in_process(bundle, 32, seconds)]
    servers: list[Server] = []
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",  # `mlflow models serve` runs `uvicorn` from PATH
        "MLFLOW_TRACKING_URI": tracking_uri,
        "TOPICFRAME_MODEL_URI": MODEL_URI,
        "TOPICFRAME_MODEL_CACHE_DIR": str(workdir / "cache"),
        "TOPICFRAME_MODEL_REFRESH_SECONDS": "0",
        "MLFLOW_LOGGING_LEVEL": "WARNING",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    bodies = {1: test_paragraphs(1), 32: test_paragraphs(32)}
    # A SQLite store records its artifacts relative to its own folder (`training.registry` resolves them there);
    # `mlflow models serve` resolves them against its working directory, so it runs in that folder.
    store = sqlite_file(tracking_uri)
    serve_cwd = store.parent if store is not None else ROOT
    for workers in (1, 2):
        port = free_port()
        serve = [str(VENV_BIN / "topicframe"), "serve", "--port", str(port), "--workers", str(workers)]
        with started("topicframe serve", serve, f"http://127.0.0.1:{port}/readyz", env, workdir / "service.log") as (
            process,
            startup,
        ):
            server = Server("topicframe serve", workers, startup)
            rows += load_runs(
                "(b) topicframe serve",
                process.pid,
                workers,
                f"http://127.0.0.1:{port}/v1/classify",
                {n: service_body(p) for n, p in bodies.items()},
                seconds,
                workdir,
            )
            server.rss_worker_mb, server.rss_total_mb = memory(process.pid)
            servers.append(server)
        port = free_port()
        serve = [
            str(VENV_BIN / "mlflow"),
            "models",
            "serve",
            "-m",
            MODEL_URI,
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-w",
            str(workers),
        ]
        with started(
            "mlflow models serve", serve, f"http://127.0.0.1:{port}/ping", env, workdir / "mlflow-serve.log", serve_cwd
        ) as (process, startup):
            server = Server("mlflow models serve", workers, startup)
            url = f"http://127.0.0.1:{port}/invocations"
            # The pyfunc trap: a one-column frame must give one prediction per row.
            check = httpx.post(
                url, content=mlflow_body(bodies[32]), headers={"content-type": "application/json"}, timeout=60
            )
            assert len(check.json()["predictions"]) == 32, check.text[:300]
            rows += load_runs(
                "(c) mlflow models serve",
                process.pid,
                workers,
                url,
                {n: mlflow_body(p) for n, p in bodies.items()},
                seconds,
                workdir,
            )
            server.rss_worker_mb, server.rss_total_mb = memory(process.pid)
            servers.append(server)
    rows += sklearn_peer(bundle, tracking_uri, env, bodies, seconds, workdir, servers)
    return rows, servers, f"{ref.name} version {ref.version}"


def sklearn_peer(
    bundle: Any,
    tracking_uri: str,
    env: dict[str, str],
    bodies: dict[int, list[str]],
    seconds: float,
    workdir: Path,
    servers: list[Server],
) -> list[Row]:
    """(d): the plain Pipeline under `mlflow models serve`, 1 worker."""
    uri = log_sklearn_peer(bundle, tracking_uri, workdir)
    port = free_port()
    serve = [str(VENV_BIN / "mlflow"), "models", "serve", "-m", uri, "--env-manager", "local"]
    serve += ["-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    with started("mlflow models serve (sklearn)", serve, f"http://127.0.0.1:{port}/ping", env, workdir / "sk.log") as (
        process,
        startup,
    ):
        server = Server("mlflow models serve, plain sklearn Pipeline", 1, startup)
        url = f"http://127.0.0.1:{port}/invocations"
        check = httpx.post(url, content=sklearn_body(bodies[32]), headers={"content-type": "application/json"})
        predictions = check.json()["predictions"]
        assert len(predictions) == 32, check.text[:300]
        assert len(predictions[0]) == len(peer_columns(bundle)), predictions[0]
        rows = load_runs(
            "(d) mlflow models serve, plain sklearn Pipeline",
            process.pid,
            1,
            url,
            {n: sklearn_body(p) for n, p in bodies.items()},
            seconds,
            workdir,
        )
        server.rss_worker_mb, server.rss_total_mb = memory(process.pid)
        servers.append(server)
    return rows


def find(rows: list[Row], setup: str, workers: int, per_request: int, connections: int = CONNECTIONS) -> Row:
    prefix = setup[:3]
    return next(
        r
        for r in rows
        if r.setup.startswith(prefix)
        and r.workers == workers
        and r.per_request == per_request
        and (prefix == "(a)" or r.connections == connections)
    )


def report(rows: list[Row], servers: list[Server], model: str, seconds: float) -> str:
    lines = [
        f"Model: {model} (default config). Machine: {os.cpu_count()} cores; 1-minute load average "
        f"{LOAD_BEFORE:.2f} before the run, {os.getloadavg()[0]:.2f} after (above the core count = other work "
        f"competed for the CPU). Each load run: {seconds:g} s after a 2 s warm-up, wrk -t1, keep-alive, loopback.",
        "",
        "| setup | workers | paragraphs/request | connections | requests/s | paragraphs/s | p50 ms | p99 ms "
        "| server CPU ms/request | wrk CPU (1 core = 100%) | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        cpu = f"{r.loadgen_cpu:.0%}" if r.loadgen_cpu is not None else "-"
        lines.append(
            f"| {r.setup} | {r.workers} | {r.per_request} | {r.connections} | {r.requests_per_s:,.0f} "
            f"| {r.paragraphs_per_s:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.server_cpu_ms:.2f} | {cpu} "
            f"| {r.errors} |"
        )
    lines += [
        "",
        "| server | workers | start-up s (launch to ready) | RSS per worker MB | RSS all processes MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in servers:
        lines.append(f"| {s.name} | {s.workers} | {s.startup_s:.1f} | {s.rss_worker_mb:.0f} | {s.rss_total_mb:.0f} |")

    def verdict(ok: bool) -> str:
        return "met" if ok else "**not met**"

    b1, c1, d1, b32, a32 = (
        find(rows, "(b)", 1, 1),
        find(rows, "(c)", 1, 1),
        find(rows, "(d)", 1, 1),
        find(rows, "(b)", 1, 32),
        find(rows, "(a)", 1, 32),
    )
    vs_peer = b1.paragraphs_per_s / d1.paragraphs_per_s
    vs_mlflow = b1.paragraphs_per_s / c1.paragraphs_per_s
    vs_a_1 = b32.paragraphs_per_s / a32.paragraphs_per_s
    vs_a_2 = find(rows, "(b)", 2, 32).paragraphs_per_s / find(rows, "(a)", 1, 32).paragraphs_per_s
    p99 = find(rows, "(b)", 1, 1, connections=1).p99_ms
    rss = max(s.rss_worker_mb for s in servers if s.name == "topicframe serve")
    lines += [
        "",
        "| target (issue 4) | measured | |",
        "|---|---:|---|",
        f"| (b) ≥ {TARGET_VS_MLFLOW:g}× (d), 1 paragraph/request, 1 worker each | {vs_peer:.2f}× "
        f"| {verdict(vs_peer >= TARGET_VS_MLFLOW)} |",
        f"| (for reference: (b) / (c), topicframe's own pyfunc) | {vs_mlflow:.2f}× | |",
        f"| (b) ≥ {TARGET_VS_INPROCESS:.0%} of (a), 32 paragraphs/request | 1 worker {vs_a_1:.0%}, "
        f"2 workers {vs_a_2:.0%} | {verdict(vs_a_1 >= TARGET_VS_INPROCESS)} (1 worker) |",
        f"| p99 ≤ {TARGET_P99_MS:g} ms, 1 paragraph, 1 connection | {p99:.2f} ms | {verdict(p99 <= TARGET_P99_MS)} |",
        f"| RSS ≤ {TARGET_RSS_MB:g} MB per worker | {rss:.0f} MB | {verdict(rss <= TARGET_RSS_MB)} |",
        "",
        "The same two ratios by CPU time per paragraph (what each setup costs, much less sensitive to other load "
        f"on the machine than throughput): (b) is {d1.cpu_ms_per_paragraph / b1.cpu_ms_per_paragraph:.2f}× cheaper "
        f"than (d) and {c1.cpu_ms_per_paragraph / b1.cpu_ms_per_paragraph:.2f}× cheaper than (c) for single "
        f"paragraphs; (b) runs at {a32.cpu_ms_per_paragraph / b32.cpu_ms_per_paragraph:.0%} of "
        "(a)'s efficiency for 32-paragraph requests.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--tracking-uri",
        help=f"use {MODEL_URI} from this tracking server/store instead of "
        "starting an `mlflow server` and training the default model into it",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run (default 10)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "service.md")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    workdir = Path(tempfile.mkdtemp(prefix="topicframe-bench-"))
    with contextlib.ExitStack() as stack:
        tracking_uri = args.tracking_uri
        if tracking_uri is None:
            # A real tracking server, as in production: both model servers download through its REST API.
            port = free_port()
            command = [
                str(VENV_BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{workdir / 'mlflow.db'}",
                "--artifacts-destination",
                str(workdir / "artifacts"),
            ]
            stack.enter_context(
                started(
                    "mlflow server",
                    command,
                    f"http://127.0.0.1:{port}/health",
                    dict(os.environ),
                    workdir / "mlflow-server.log",
                )
            )
            tracking_uri = f"http://127.0.0.1:{port}"
            print(f"training the default model into {tracking_uri} ...", file=sys.stderr)
            train_default_model(tracking_uri, workdir / "train.log")
        rows, servers, model = run(tracking_uri, args.duration, workdir)
    table = report(rows, servers, model, args.duration)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(table)
    print(f"(logs in {workdir}; table written to {args.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
