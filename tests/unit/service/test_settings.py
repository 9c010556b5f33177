"""Settings come from TOPICFRAME_* environment variables; blank keys mean "no key"."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.server import GuardedHttpToolsProtocol, build_config
from service.settings import ServerSettings, Settings
from training.registry import DEFAULT_MODEL_URI


def test_defaults() -> None:
    settings = Settings()
    assert settings.model_uri == DEFAULT_MODEL_URI  # written out in service.settings, so they must agree
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
    monkeypatch.delenv("TOPICFRAME_MAX_PARAGRAPHS")
    # `inf` passed ge=0 and made every "not ready" answer a 500 (Retry-After: int(inf)); 1e300 a 301-digit header.
    for name in ("MODEL_REFRESH_SECONDS", "HEADER_TIMEOUT_SECONDS", "BODY_TIMEOUT_SECONDS"):
        for value in ("inf", "1e300"):
            monkeypatch.setenv(f"TOPICFRAME_{name}", value)
            with pytest.raises(ValidationError, match=name.lower()):
                Settings()
            monkeypatch.delenv(f"TOPICFRAME_{name}")
    # Accepted, then retried forever as "not ready": a URI with a scheme the service never reads, a malformed one.
    for uri in ("s3://bucket/model", "models:/topicframe/abc", "models:/topicframe@", "file:///srv/model"):
        monkeypatch.setenv("TOPICFRAME_MODEL_URI", uri)
        with pytest.raises(ValidationError, match="expected models:/NAME@ALIAS or models:/NAME/VERSION"):
            Settings()
    for uri in ("models:/topicframe/3", "models:/desk@champion", "/srv/models/topicframe", "C:/models/topicframe"):
        monkeypatch.setenv("TOPICFRAME_MODEL_URI", uri)
        assert Settings().model_uri == uri  # a directory may be mounted later: waited for, not refused


def test_server_limits_have_safe_defaults_and_reach_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    server = ServerSettings()
    assert (server.max_header_bytes, server.header_timeout_seconds, server.body_timeout_seconds) == (16384, 10, 30)
    assert (server.keep_alive_timeout_seconds, server.graceful_shutdown_seconds) == (5, 10)
    assert Settings().max_header_bytes == 16384  # the app's Settings has them too

    monkeypatch.setenv("TOPICFRAME_MAX_HEADER_BYTES", "4096")
    monkeypatch.setenv("TOPICFRAME_BODY_TIMEOUT_SECONDS", "2.5")
    monkeypatch.setenv("TOPICFRAME_GRACEFUL_SHUTDOWN_SECONDS", "3")
    monkeypatch.setenv("TOPICFRAME_MODEL_URI", "ignored by the server settings")
    config = build_config(ServerSettings(), "127.0.0.1", 8123, 2)
    assert config.http is GuardedHttpToolsProtocol
    assert (config.h11_max_incomplete_event_size, config.body_timeout, config.header_timeout) == (4096, 2.5, 10)
    assert (config.timeout_graceful_shutdown, config.timeout_keep_alive, config.workers) == (3, 5, 2)

    monkeypatch.setenv("TOPICFRAME_HEADER_TIMEOUT_SECONDS", "0")
    with pytest.raises(ValidationError, match="header_timeout_seconds"):
        ServerSettings()


def test_every_setting_is_documented() -> None:
    assert [name for name, field in Settings.model_fields.items() if not field.description] == []
