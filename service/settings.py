"""The service's settings: one object, read from ``TOPICFRAME_*`` environment variables.

``MLFLOW_TRACKING_URI`` is not here: `training.registry` reads it, so the CLI
and the service always resolve ``models:/...`` URIs against the same store.

This module imports nothing heavy: the ``--workers`` supervisor reads the server
limits (`ServerSettings`) from here, and a worker binds its port before MLflow
and scikit-learn are imported (the model loader imports them in the background).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# training.registry.DEFAULT_MODEL_URI, written out: importing it would import MLflow and scikit-learn
# (~3.5 s before a worker could bind its port). tests/unit/service/test_settings.py checks they agree.
DEFAULT_MODEL_URI = "models:/topicframe@champion"


class ServerSettings(BaseSettings):
    """The HTTP server's limits, read by `python -m service` (`topicframe serve`) before any worker starts.

    A bare ``uvicorn service.main:app`` does not apply them. `Settings` has these and the app's own.
    """

    model_config = SettingsConfigDict(env_prefix="TOPICFRAME_", extra="ignore", frozen=True)

    max_header_bytes: int = Field(
        16 * 1024,
        ge=1024,
        description="largest request head (request line + headers) accepted; a bigger one is refused with 431 "
        "and the connection closed, before it is buffered",
    )
    # Timeouts are finite and at most a day: `inf` passed `gt=0` and turned every 503's Retry-After into a 500.
    header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=86_400,
        allow_inf_nan=False,
        description="a request head must arrive whole within this time, from the connection's opening or the "
        "request's first byte; otherwise 408 and the connection is closed (a connection that sends nothing is "
        "closed silently)",
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=86_400,
        allow_inf_nan=False,
        description="a request body must arrive whole within this time after its head; otherwise 408 and the "
        "connection is closed (a 2 MB body needs ~70 KB/s)",
    )
    keep_alive_timeout_seconds: int = Field(
        5,
        ge=1,
        description="close an idle keep-alive connection after this long; behind a proxy or load balancer that "
        "reuses connections, set it above the proxy's idle timeout",
    )
    graceful_shutdown_seconds: int = Field(
        10,
        ge=0,
        description="on SIGTERM, let requests in progress finish for at most this long, then cancel them",
    )


class Settings(ServerSettings):
    """Every knob of the service; ``TOPICFRAME_<NAME>`` in the environment sets ``<name>``."""

    model_uri: str = Field(DEFAULT_MODEL_URI, description="models:/NAME@ALIAS, models:/NAME/VERSION or a directory")
    model_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="for a model directory: its digest (the registry version's bundle_sha256 tag, or what "
        "`topicframe model convert` printed), which every file is checked "
        "against (a directory is refused without it); registry models use the version's bundle_sha256 tag",
    )
    api_key: SecretStr | None = Field(None, description="when set, /v1/classify needs X-API-Key or Bearer auth")
    admin_key: SecretStr | None = Field(None, description="when set, admin routes exist and need X-Admin-Key")
    feedback_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the feedback store (sqlite:///... or postgresql+psycopg://...); default "
        "feedback.db beside the MLflow store (training.feedback.store.default_feedback_url)",
    )
    feedback_key: SecretStr | None = Field(None, description="when set, POST /v1/feedback needs it in X-API-Key")
    model_cache_dir: Path | None = Field(None, description="where registry downloads are cached (default: a temp dir)")
    model_refresh_seconds: float = Field(
        30.0,
        ge=0,
        le=86_400,
        allow_inf_nan=False,
        description="retry a failed start-up load / follow a moved alias this often; 0 turns it off",
    )
    registry_timeout_seconds: int = Field(
        10,
        ge=1,
        description="timeout of each HTTP request to the MLflow registry while (re)loading the model; sets "
        "MLFLOW_HTTP_REQUEST_TIMEOUT for the service (MLflow's default is 120). An MLFLOW_HTTP_REQUEST_TIMEOUT "
        "in the environment wins",
    )
    registry_max_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="retries of a failed registry request (the first at once, then 2 s, 4 s, ... apart); sets "
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES and a backoff factor of 1. MLflow's defaults (7 retries, factor 2) spend "
        "~4 minutes on a registry that is down, and the background refresh retries anyway. "
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES / _BACKOFF_FACTOR in the environment win",
    )
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1, description="a larger request body is refused with 413 unread")
    max_paragraphs: int = Field(1000, ge=1, description="paragraphs per request; more is a 422")
    max_paragraph_chars: int = Field(20_000, ge=1, description="characters per paragraph; more is a 422")
    max_markdown_chars: int = Field(
        200_000,
        ge=1,
        description="characters of a `text` read as Markdown; more is a 422. Its parser takes ~0.8 µs a character "
        "on articles but up to ~15 µs on hostile input (a 2 MB body: 30 s of a worker's CPU); HTML reads at ~20 MB/s",
    )
    max_explain: int = Field(20, ge=0, description="the largest `explain` (top terms per label) a request may ask for")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="debug logs request text")
    workers: int = Field(1, ge=1, description="uvicorn worker processes (the container's start command reads it)")
    reload_signal_file: Path | None = Field(
        None,
        description="set by `python -m service` for several workers (a file in a temporary directory it removes on "
        "exit): an admin reload in one worker replaces it, and every worker checks the alias within a second",
    )

    @field_validator("api_key", "admin_key", "feedback_key", "feedback_url", "model_sha256", mode="before")
    @classmethod
    def _blank_means_unset(cls, value: object) -> object:
        # `TOPICFRAME_API_KEY=` in a compose file must not become a key that is the empty string.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("model_uri")
    @classmethod
    def _servable_uri(cls, value: str) -> str:
        # Refused at start-up: such a URI was accepted and retried forever, "not ready" (a directory may appear
        # later, a mounted volume; a URI with a scheme never will be read).
        if _SCHEME.match(value) and not MODELS_URI.match(value):
            raise ValueError(
                "expected models:/NAME@ALIAS or models:/NAME/VERSION (from MLFLOW_TRACKING_URI's registry) "
                "or a local model directory"
            )
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


# What the service serves: a registered version by alias or number, else a local model directory.
MODELS_URI = re.compile(r"^models:/[^/@]+(?:@(?P<alias>[^/]+)|/\d+)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")  # s3://, http://, file:/, models:/ (not C:/)


# Settings whose value must not be echoed in an error: keys, and a database URL with its password.
_NOT_ECHOED = {"api_key", "admin_key", "feedback_key", "feedback_url"}


def settings_from_environment() -> Settings:
    """`Settings()`, or exit with status 2 and one line per bad ``TOPICFRAME_*`` variable, not a traceback."""
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = "_".join(str(part) for part in error["loc"])
            value = "" if field in _NOT_ECHOED else f" (got {error['input']!r})"
            print(f"error: TOPICFRAME_{field.upper()}: {error['msg']}{value}", file=sys.stderr)
        raise SystemExit(2) from None
