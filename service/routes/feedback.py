"""POST /v1/feedback and GET /v1/feedback: corrections sent by users, stored durably."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["feedback"])
