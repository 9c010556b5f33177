"""GET or HEAD /healthz (the process answers), /readyz (a model is loaded); GET /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from service.dependencies import MetricsDep, ServingModel, StoreDep
from service.schemas import ErrorResponse, Health, Readiness

router = APIRouter(tags=["operations"])


# HEAD too: uptime monitors and some load balancers probe with it (GET's answer, without the body). One
# decorator per method: one route with both gave GET and HEAD the same OpenAPI operationId, which client
# generators refuse (and FastAPI warned "Duplicate Operation ID" at the first /openapi.json).
@router.get("/healthz", response_model=Health, operation_id="healthz")
@router.head("/healthz", response_model=Health, operation_id="healthz_head")
async def healthz() -> dict[str, str]:
    """Liveness: 200 whenever the process can answer, with or without a model."""
    return {"status": "ok"}


NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "No model loaded yet: `reason` says why; see Retry-After"}
}


@router.get("/readyz", response_model=Readiness, responses=NOT_READY, operation_id="readyz")
@router.head("/readyz", response_model=Readiness, responses=NOT_READY, operation_id="readyz_head")
async def readyz(model: ServingModel, store: StoreDep) -> dict[str, Any]:
    """Readiness: 200 with the served model once one is loaded; until then 503 with Retry-After, whose
    `reason` says what is wrong: `loading` (first load still running), `registry_unreachable`,
    `alias_not_set`, `model_not_found`, `integrity_failed` or `load_failed` (`msg` has the details).
    A later load that failed (the alias moved to a version that does not load) leaves the model serving and
    this 200, with `last_load_failure` saying what failed: a balancer keeps the worker, a person sees why."""
    failure = store.last_failure
    stale = {"reason": failure.reason, "msg": failure.message, "at": failure.at} if failure else None
    return {"status": "ready", "model": model.describe(), "last_load_failure": stale}


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format",
        }
    },
)
async def metrics(metrics: MetricsDep) -> Response:
    """Requests by route and status, latency histogram, paragraphs classified, the served model version."""
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
