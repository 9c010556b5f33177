"""Settings come from TOPICFRAME_* environment variables; blank keys mean "no key"."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Settings
from training.registry import DEFAULT_MODEL_URI


def test_defaults() -> None:
    settings = Settings()
    assert settings.model_uri == DEFAULT_MODEL_URI
    assert (settings.max_body_bytes, settings.max_paragraphs, settings.max_paragraph_chars) == (
        2 * 1024**2,
        1000,
        20_000,
    )
    assert settings.max_explain == 20 and settings.api_key is None and settings.admin_key is None


def test_environment_sets_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", "models:/other/3")
    monkeypatch.setenv("TOPICFRAME_MAX_PARAGRAPHS", "5")
    monkeypatch.setenv("TOPICFRAME_ADMIN_KEY", "adm1n")
    monkeypatch.setenv("TOPICFRAME_LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert settings.model_uri == "models:/other/3" and settings.max_paragraphs == 5
    assert settings.admin_key is not None and settings.admin_key.get_secret_value() == "adm1n"
    assert settings.log_level == "debug"
    assert "adm1n" not in repr(settings)  # keys never end up in logs or tracebacks


def test_blank_keys_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    # docker-compose's `TOPICFRAME_API_KEY: ${TOPICFRAME_API_KEY:-}` passes an empty string.
    monkeypatch.setenv("TOPICFRAME_API_KEY", "")
    monkeypatch.setenv("TOPICFRAME_ADMIN_KEY", "   ")
    settings = Settings()
    assert settings.api_key is None and settings.admin_key is None


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPICFRAME_MAX_PARAGRAPHS", "0")
    with pytest.raises(ValidationError, match="max_paragraphs"):
        Settings()
