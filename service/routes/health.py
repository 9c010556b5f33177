"""GET or HEAD /healthz (the process answers), /readyz (a model is loaded); GET /metrics (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from service.dependencies import MetricsDep, ServingModel
from service.schemas import ErrorResponse, Health, Readiness

router = APIRouter(tags=["operations"])


# HEAD too: uptime monitors and some load balancers probe with it (GET's answer, without the body).
@router.api_route("/healthz", methods=["GET", "HEAD"], response_model=Health)
async def healthz() -> dict[str, str]:
    """Liveness: 200 whenever the process can answer, with or without a model."""
    return {"status": "ok"}


@router.api_route(
    "/readyz",
    methods=["GET", "HEAD"],
    response_model=Readiness,
    responses={503: {"model": ErrorResponse, "description": "No model loaded yet: `reason` says why; see Retry-After"}},
)
async def readyz(model: ServingModel) -> dict[str, Any]:
    """Readiness: 200 with the served model once one is loaded; until then 503 with Retry-After, whose
    `reason` says what is wrong: `loading` (first load still running), `registry_unreachable`,
    `alias_not_set`, `model_not_found`, `integrity_failed` or `load_failed` (`msg` has the details)."""
    return {"status": "ready", "model": model.describe()}


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
