"""GET /v1/models: the registered versions and aliases of the served model's name, with their run metrics."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["model"])
