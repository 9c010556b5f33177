"""GET /v1/models: the registered versions and aliases of the served model's name, with their run metrics.

The web page's "compare versions" picker reads it. MLflow is asked in a worker
thread with the service's bounded HTTP timeout and retries (set at start-up,
`service.main.bound_registry_requests`), and the whole listing is abandoned
after `listing_timeout` so a registry that hangs costs a 504, never a stuck
request. A model served from a local directory has no registry: it is listed
alone, with the metrics recorded in it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import anyio
from fastapi import APIRouter

from service.dependencies import ServingModel, SettingsDep
from service.errors import ClientError
from service.routes.info import NOT_READY
from service.schemas import ErrorResponse, ModelsResponse
from service.settings import Settings

if TYPE_CHECKING:
    from service.model_store import ServedModel

router = APIRouter(tags=["model"])

# Test metrics worth a column in a version picker: one F1 pair per multi-label set, accuracy for role.
# Out-of-fold (`cv.`) and per-label metrics stay in MLflow.
HEADLINE_METRIC = re.compile(r"^[a-z_]+\.(micro_f1|macro_f1|accuracy)$")
# More versions than anyone picks from; keeps one listing to a bounded number of run look-ups.
MAX_VERSIONS = 50


def headline_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {key: float(value) for key, value in sorted(metrics.items()) if HEADLINE_METRIC.match(key)}


def listing_timeout(settings: Settings) -> float:
    """Every registry call may be retried; one listing gets the time of a few bounded calls, then a 504."""
    return float(settings.registry_timeout_seconds * (settings.registry_max_retries + 1) * 3)


def local_listing(model: ServedModel) -> dict[str, Any]:
    bundle, ref = model.bundle, model.ref
    version: dict[str, Any] = {
        "version": None,
        "aliases": [],
        "run_id": ref.run_id,
        "created_at": bundle.created_at,
        "metrics": headline_metrics(bundle.metrics),
        "serving": True,
    }
    return {"name": ref.name, "registry": False, "versions": [version]}


def registry_listing(name: str, serving_version: str | None) -> dict[str, Any]:
    """The versions of registered model `name`, newest first, each with its aliases and headline metrics."""
    from datetime import UTC, datetime

    from training.registry import use_tracking_store

    client = use_tracking_store()
    aliases: dict[str, list[str]] = {}
    for alias, version in (client.get_registered_model(name).aliases or {}).items():
        aliases.setdefault(str(version), []).append(alias)
    found = client.search_model_versions(f"name='{name}'", max_results=MAX_VERSIONS, order_by=["version_number DESC"])
    versions: list[dict[str, Any]] = []
    for mv in found:
        metrics: dict[str, float] = {}
        if mv.run_id:
            metrics = headline_metrics(client.get_run(mv.run_id).data.metrics)
        created = datetime.fromtimestamp(mv.creation_timestamp / 1000, UTC).isoformat(timespec="seconds")
        versions.append(
            {
                "version": str(mv.version),
                "aliases": sorted(aliases.get(str(mv.version), [])),
                "run_id": mv.run_id,
                "created_at": created,
                "metrics": metrics,
                "serving": str(mv.version) == serving_version,
            }
        )
    versions.sort(key=lambda v: int(v["version"]), reverse=True)
    return {"name": name, "registry": True, "versions": versions}


@router.get(
    "/v1/models",
    response_model=ModelsResponse,
    responses={
        **NOT_READY,
        502: {"model": ErrorResponse, "description": "The model registry answered with an error"},
        504: {"model": ErrorResponse, "description": "The model registry did not answer in time"},
    },
)
async def list_models(model: ServingModel, settings: SettingsDep) -> dict[str, Any]:
    """The registered versions of the served model's name (newest first) with their aliases, run and headline
    test metrics; for a model served from a local directory, just that model."""
    if model.ref.version is None:
        return local_listing(model)
    timeout = listing_timeout(settings)
    try:
        with anyio.fail_after(timeout):
            # abandon_on_cancel: a registry that hangs past the timeout leaves its thread behind, not the request.
            return await anyio.to_thread.run_sync(
                registry_listing, model.ref.name, model.ref.version, abandon_on_cancel=True
            )
    except TimeoutError:
        raise ClientError(
            504, [], f"the model registry did not answer within {timeout:.0f} s", "registry_timeout"
        ) from None
    except Exception as exc:  # MLflow and requests errors: say which, in one line
        from service.model_store import explain_failure

        failure = explain_failure(exc, model.ref.uri)
        raise ClientError(502, [], f"listing the versions failed: {failure.message}", failure.reason) from None
