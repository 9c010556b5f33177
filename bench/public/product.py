"""Our side of a benchmark: the real `topicframe train` CLI, its MLflow run, its registered model."""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.public.measure import run_measured

RUN_LINE = re.compile(
    r"MLflow run (?P<run_id>[0-9a-f]+) in experiment .*registered (?P<name>\S+) version (?P<version>\d+)"
)


@dataclass(frozen=True)
class CliRun:
    run_id: str
    model_name: str
    version: str
    wall_seconds: float
    peak_rss_bytes: int
    cpu_seconds: float
    metrics: dict[str, float]
    command: list[str]


def topicframe_command() -> list[str]:
    """The installed console script beside this interpreter (what a user runs), else the module."""
    script = Path(sys.executable).with_name("topicframe")
    if script.exists():
        return [str(script)]
    found = shutil.which("topicframe")
    return [found] if found else [sys.executable, "-m", "training.cli"]


def ensure_experiment(uri: str, name: str, artifacts: Path | None) -> None:
    """Create the experiment with artifacts under the out dir (sqlite stores only).

    Without this, MLflow puts artifacts under ``./mlartifacts`` of the working
    directory, i.e. inside the repository.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    if artifacts is not None and client.get_experiment_by_name(name) is None:
        client.create_experiment(name, artifact_location=artifacts.resolve().as_uri())


def train_command(
    train_csv: Path, test_csv: Path, labels_dir: Path, config: Path, experiment: str, sets: list[str]
) -> list[str]:
    command = [*topicframe_command(), "train", "--data", str(train_csv), "--test-data", str(test_csv)]
    command += ["--labels", str(labels_dir), "--config", str(config), "--experiment", experiment]
    for item in sets:
        command += ["--set", item]
    return command


def run_train(command: list[str], log: Path, env: dict[str, str]) -> CliRun:
    """Run the CLI, then read the run's metrics back from the tracking store."""
    from mlflow.tracking import MlflowClient

    measured = run_measured(command, log, env=env)
    output = log.read_text()
    match = RUN_LINE.search(output)
    if measured.returncode != 0 or match is None:
        tail = "\n".join(output.splitlines()[-15:])
        raise RuntimeError(f"topicframe train failed (exit {measured.returncode}); log {log}:\n{tail}")
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    metrics = client.get_run(match["run_id"]).data.metrics
    return CliRun(
        match["run_id"],
        match["name"],
        match["version"],
        measured.wall_seconds,
        measured.peak_rss_bytes,
        measured.cpu_seconds,
        dict(metrics),
        command,
    )


def load_registered(run: CliRun, cache: Path) -> Any:
    """The ModelBundle exactly as the service loads it (registry digest checked)."""
    from training.registry import load_model

    bundle, _ = load_model(f"models:/{run.model_name}/{run.version}", cache_dir=cache)
    return bundle
