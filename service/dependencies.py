"""Request dependencies (used through `Annotated` aliases): settings, the served model, the keys.

They are ``async def`` on purpose: FastAPI runs a plain ``def`` dependency in
the thread pool, a thread hop per request for a dictionary look-up.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from service.errors import ModelNotReady, key_error
from service.metrics import Metrics
from service.model_store import ModelStore, ServedModel
from service.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> ModelStore:
    store: ModelStore = request.app.state.store
    return store


async def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def retry_after_seconds(settings: Settings) -> int:
    """What to tell clients while no model is loaded: the background retry interval (or 30 s)."""
    return max(1, round(settings.model_refresh_seconds)) if settings.model_refresh_seconds else 30


async def serving_model(request: Request) -> ServedModel:
    """The model for this request, taken once: a reload during the request does not affect it."""
    store: ModelStore = request.app.state.store
    model = store.current
    if model is None:
        why = store.unavailable()
        raise ModelNotReady(why.reason, why.message, retry_after_seconds(request.app.state.settings))
    return model


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[ModelStore, Depends(get_store)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ServingModel = Annotated[ServedModel, Depends(serving_model)]


def _matches(given: str | None, expected: SecretStr | None) -> bool:
    # compare_digest: the time taken does not tell an attacker how much of the key was right.
    return bool(given and expected and secrets.compare_digest(given.encode(), expected.get_secret_value().encode()))


# One named scheme per key. Unnamed, FastAPI calls every header scheme "APIKeyHeader" and the schema kept only the
# last one (X-Admin-Key): Swagger's "Try it out" then sent the classify key as X-Admin-Key, and got 401.
API_KEY_HEADER = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False)
ADMIN_KEY_HEADER = APIKeyHeader(name="X-Admin-Key", scheme_name="AdminKey", auto_error=False)
FEEDBACK_KEY_HEADER = APIKeyHeader(
    name="X-API-Key", scheme_name="FeedbackKey", auto_error=False, description="TOPICFRAME_FEEDBACK_KEY"
)


async def require_api_key(
    settings: SettingsDep,
    api_key: Annotated[str | None, Security(API_KEY_HEADER)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(HTTPBearer(auto_error=False))],
) -> None:
    """401 without a key, 403 with a wrong one. Only attached when TOPICFRAME_API_KEY is set."""
    given = api_key or (bearer.credentials if bearer else None)
    if not given:
        raise key_error(
            "X-API-Key", "an API key is required: X-API-Key or Authorization: Bearer", missing=True, bearer=True
        )
    if not _matches(given, settings.api_key):
        raise key_error("X-API-Key" if api_key else "Authorization", "the API key is not valid", missing=False)


async def require_admin_key(
    settings: SettingsDep,
    admin_key: Annotated[str | None, Security(ADMIN_KEY_HEADER)],
) -> None:
    """401 without X-Admin-Key, 403 with a wrong one."""
    if not admin_key:
        raise key_error("X-Admin-Key", "the X-Admin-Key header is required", missing=True)
    if not _matches(admin_key, settings.admin_key):
        raise key_error("X-Admin-Key", "the admin key is not valid", missing=False)
