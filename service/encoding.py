"""JSON encoding for responses and log lines."""

from __future__ import annotations

import json
from typing import Any

import orjson


def to_json(value: Any) -> bytes:
    """orjson (fast) with a fallback for strings orjson refuses.

    JSON input may carry lone surrogates ("\\ud800"); Python accepts them, orjson
    will not encode them, and the response echoes the text: the standard library
    escapes them instead of failing the request.
    """
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, ensure_ascii=True).encode("ascii")
