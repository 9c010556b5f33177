"""GET /: the analyst web page (service/static/), and /docs + /redoc with their assets served locally."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
