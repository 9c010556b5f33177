"""The service's settings: one object, read from ``TOPICFRAME_*`` environment variables.

``MLFLOW_TRACKING_URI`` is not here: `training.registry` reads it, so the CLI
and the service always resolve ``models:/...`` URIs against the same store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from training.registry import DEFAULT_MODEL_URI


class Settings(BaseSettings):
    """Every knob of the service; ``TOPICFRAME_<NAME>`` in the environment sets ``<name>``."""

    model_config = SettingsConfigDict(env_prefix="TOPICFRAME_", extra="ignore", frozen=True)

    model_uri: str = Field(DEFAULT_MODEL_URI, description="models:/NAME@ALIAS, models:/NAME/VERSION or a directory")
    api_key: SecretStr | None = Field(None, description="when set, /v1/classify needs X-API-Key or Bearer auth")
    admin_key: SecretStr | None = Field(None, description="when set, admin routes exist and need X-Admin-Key")
    model_cache_dir: Path | None = Field(None, description="where registry downloads are cached (default: a temp dir)")
    model_refresh_seconds: float = Field(
        30.0, ge=0, description="retry a failed start-up load / follow a moved alias this often; 0 turns it off"
    )
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1)
    max_paragraphs: int = Field(1000, ge=1)
    max_paragraph_chars: int = Field(20_000, ge=1)
    max_explain: int = Field(20, ge=0)
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="debug logs request text")
    workers: int = Field(1, ge=1, description="uvicorn worker processes (the container's start command reads it)")

    @field_validator("api_key", "admin_key", mode="before")
    @classmethod
    def _blank_means_unset(cls, value: object) -> object:
        # `TOPICFRAME_API_KEY=` in a compose file must not become a key that is the empty string.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_case_level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value
