"""GET /v1/labels and GET /v1/model: what the served model predicts and where it came from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.dependencies import ServingModel
from service.schemas import ErrorResponse, LabelsResponse, ModelDetails

router = APIRouter(tags=["model"])

NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "No model loaded yet; see Retry-After"},
}


@router.get("/v1/labels", response_model=LabelsResponse, responses=NOT_READY)
async def labels(model: ServingModel) -> dict[str, Any]:
    """The codebooks stored in the served model, each multi-label set's per-label thresholds, and the
    decision rule: a label is given when its score reaches its threshold, within the rule's caps, and
    only to paragraphs whose role is a content role."""
    from training.classify import decision_rule, label_thresholds  # heavy: imported once a model is loaded

    bundle = model.bundle
    return {
        "label_sets": bundle.codebooks,
        "thresholds": label_thresholds(bundle),
        "decision_rule": decision_rule(bundle),
    }


@router.get("/v1/model", response_model=ModelDetails, responses=NOT_READY)
async def model_details(model: ServingModel) -> dict[str, Any]:
    """The served model: registry name, version, alias and run, data and codebook digests, test metrics."""
    bundle, ref = model.bundle, model.ref
    return {
        **model.describe(),
        "uri": ref.uri,
        "data_digest": bundle.data_digest,
        "codebook_sha256": bundle.codebook_sha256,
        "bundle_sha256": ref.bundle_sha256,
        "metrics": bundle.metrics,
        "label_sets": bundle.label_sets,
        "created_at": bundle.created_at,
        "loaded_at": model.loaded_at,
        "versions": bundle.versions,
    }
