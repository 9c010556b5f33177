"""A fast command line: `--help` and `--version` import no scikit-learn, pandas, MLflow or SciPy.

The checks look at what got imported, in a fresh interpreter, rather than at timings:
an import that creeps into module level shows up here on any machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

import training
from tests.conftest import ROOT
from training.cli import app

HEAVY = ("sklearn", "pandas", "mlflow", "scipy")
runner = CliRunner()


def imported_after(code: str) -> list[str]:
    """Top-level HEAVY packages in sys.modules after running ``code`` in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    return [name for name in HEAVY if name in loaded]


@pytest.mark.parametrize("module", ["training", "training.cli", "training.console"])
def test_importing_the_command_line_imports_nothing_heavy(module: str) -> None:
    assert imported_after(f"import {module}") == []


def test_every_help_imports_nothing_heavy() -> None:
    code = """
import typer.main
from training.cli import app
commands = sorted(typer.main.get_command(app).commands)
assert len(commands) >= 10, commands
for args in [["--help"], ["--version"], *([name, "--help"] for name in commands)]:
    try:
        app(args, prog_name="topicframe")
    except SystemExit as exit:
        assert exit.code in (0, None), (args, exit.code)
"""
    assert imported_after(code) == []


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"topicframe {version('topicframe')}"
    assert training.__version__ == version("topicframe")


@pytest.mark.parametrize(
    "module",
    ["training.cli_experiments", "training.model_commands", "training.classify_command", "training.paragraph_input"],
)
def test_the_command_modules_do_not_import_the_command_line(module: str) -> None:
    """No cycle: cli -> the command modules -> console, never back to cli (cli imports them to register them)."""
    code = f"import {module}, sys; assert 'training.cli' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_lazy_package_exports_every_public_name() -> None:
    import training.classify  # the submodule named like the public function must not replace it

    assert set(training.__all__) == set(training._EXPORTS)
    for name in training.__all__:
        assert getattr(training, name).__name__ == name
    assert set(training.__all__) <= set(dir(training))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = training.nope
    from training import errors  # a submodule still imports as one (the AttributeError lets it fall back)

    assert errors.TopicframeError is training.TopicframeError


def test_a_registry_that_is_down_is_said_in_seconds_not_after_four_minutes(tmp_path: Path) -> None:
    """MLflow's own retry defaults kept `classify` silent for ~249 s, then blamed a missing alias."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "one.jsonl").write_text('{"text": "Envoys met."}\n', encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP_REQUEST")}
    environment["MLFLOW_TRACKING_URI"] = f"http://user:S3cret@127.0.0.1:{port}"
    code = "from training.cli import main; main()"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", code, "classify", str(tmp_path / "one.jsonl")],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and time.monotonic() - started < 30, done.stderr
    said = " ".join(done.stderr.split())
    assert f"could not ask the registry at http://user:***@127.0.0.1:{port} for alias 'champion'" in said
    assert "S3cret" not in done.stderr + done.stdout and "Traceback" not in done.stderr
