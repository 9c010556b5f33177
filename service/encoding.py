"""JSON encoding for responses and log lines."""

from __future__ import annotations

import json
from typing import Any

import orjson


def to_json(value: Any) -> bytes:
    """orjson (fast) with a fallback for strings orjson refuses.

    A Python string may hold a lone surrogate ("\\ud800"), which orjson refuses to
    encode; the standard library escapes it instead of failing the request.
    (Request bodies are parsed by pydantic, which already rejects them.)
    """
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=True).encode("ascii")
