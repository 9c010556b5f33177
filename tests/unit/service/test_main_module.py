"""`python -m service`: the server's entry point (what `topicframe serve` executes)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import Field

from service import settings
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


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TOPICFRAME_MAX_HEADER_BYTES", "abc", "Input should be a valid integer, unable to parse string as an integer"),
        ("TOPICFRAME_MODEL_REFRESH_SECONDS", "-1", "Input should be greater than or equal to 0"),
    ],
)
def test_a_bad_setting_is_one_line_naming_its_variable_before_any_worker_starts(
    variable: str, value: str, message: str
) -> None:
    """It was a pydantic traceback from the supervisor, or from each worker for the app's own settings."""
    env = {**os.environ, variable: value}
    result = subprocess.run(
        [sys.executable, "-m", "service", "--port", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {variable}: {message} (got '{value}')"


def test_a_secret_setting_is_not_echoed_in_its_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No key or database URL fails validation today; one that someday does must not print its value."""

    class StricterSettings(settings.Settings):
        feedback_url: str | None = Field(None, max_length=8)

    monkeypatch.setattr(settings, "Settings", StricterSettings)
    monkeypatch.setenv("TOPICFRAME_FEEDBACK_URL", "postgresql+psycopg://user:hunter2@db/feedback")
    with pytest.raises(SystemExit) as exit_info:
        settings.settings_from_environment()
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("error: TOPICFRAME_FEEDBACK_URL: String should have at most 8 characters")
    assert "hunter2" not in error
