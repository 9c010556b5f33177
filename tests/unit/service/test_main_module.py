"""`python -m service`: the server's entry point (what `topicframe serve` executes)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.__main__ import parse_args


def test_refuses_fewer_than_one_worker(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--workers", "0"])
    assert exit_info.value.code == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["0", "99999", "-5"])
def test_refuses_a_port_outside_1_to_65535(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn took 99999 and logged "running on http://127.0.0.1:99999"."""
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--port", port])
    assert exit_info.value.code == 2
    assert f"--port must be between 1 and 65535, got {port}" in capsys.readouterr().err


def test_the_supervisor_imports_neither_the_app_nor_the_model_libraries() -> None:
    """With --workers N this process only supervises; each worker imports the app (and sklearn, MLflow)."""
    code = "import sys, service.__main__; print(sorted({'sklearn', 'mlflow', 'service.main'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
