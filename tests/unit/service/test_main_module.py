"""`python -m service`: the server's entry point (what `topicframe serve` executes)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.__main__ import main


def test_refuses_fewer_than_one_worker(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--workers", "0"])
    assert exit_info.value.code == 2
    assert "--workers must be at least 1" in capsys.readouterr().err


def test_the_supervisor_imports_neither_the_app_nor_the_model_libraries() -> None:
    """With --workers N this process only supervises; each worker imports the app (and sklearn, MLflow)."""
    code = "import sys, service.__main__; print(sorted({'sklearn', 'mlflow', 'service.main'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
