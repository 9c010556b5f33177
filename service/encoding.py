"""JSON encoding for responses and log lines, and the one check the service makes on a request body's JSON."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
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


Found = list[str | int] | None  # a path into a JSON value, or nothing found


class _Pairs(list[tuple[str, Any]]):
    """A JSON object read as its (key, value) pairs, a repeated key kept."""


class _RepeatedKey(Exception):
    pass


def _refuse_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    read = dict(pairs)
    if len(read) != len(pairs):
        raise _RepeatedKey
    return read


class NotJson(ValueError):
    """A request body that is not JSON; the message says where, as Python's reader does."""


def duplicate_key(text: str) -> list[str | int] | None:
    """The path to the first key a JSON object in ``text`` names twice (``["labels", "topic"]``), or None.

    Python's JSON reader, like most, keeps the last of two values silently. Only a body with a repeated key is
    read a second time, to name it. Text that is not JSON raises `NotJson`, with the same message on every route
    (each route's own reader said it its own way, or answered 400).
    """
    try:
        json.loads(text, object_pairs_hook=_refuse_repeated_keys)
        return None
    except _RepeatedKey:
        return _first_path(json.loads(text, object_pairs_hook=_Pairs), [], _repeated_key)
    except json.JSONDecodeError as exc:
        raise NotJson(f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise NotJson("nested too deeply to read") from None


def _first_path(value: Any, path: list[str | int], found_here: Callable[[Any], list[str | int] | None]) -> Found:
    """Depth first through a JSON value read with `_Pairs` objects: the path to the first value where
    ``found_here`` finds something, followed by what it returns."""
    here = found_here(value)
    if here is not None:
        return [*path, *here]
    children = list(value) if isinstance(value, _Pairs) else list(enumerate(value)) if isinstance(value, list) else []
    for step, child in children:
        found = _first_path(child, [*path, step], found_here)
        if found is not None:
            return found
    return None


def _repeated_key(value: Any) -> Found:
    if isinstance(value, _Pairs):
        seen: set[str] = set()
        for key, _ in value:
            if key in seen:
                return [key]
            seen.add(key)
    return None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def lone_surrogate(text: str) -> list[str | int] | None:
    """The path to the first string (or key) of the JSON ``text`` that holds a lone UTF-16 surrogate, or None.

    Only an escape such as ``\\ud800`` can make one (the body was decoded as UTF-8), and a pair of escapes reads as
    one character: only a body with such an escape is read a second time. Each route's reader said it its own
    way ("unexpected end of hex escape" on one, `string_unicode` at the field on another)."""
    if not _SURROGATE_ESCAPE.search(text):
        return None
    return _first_path(json.loads(text, object_pairs_hook=_Pairs), [], _surrogate)


def _surrogate(value: Any) -> Found:
    if isinstance(value, str):
        return [] if any("\ud800" <= c <= "\udfff" for c in value) else None
    if isinstance(value, _Pairs) and any(_surrogate(key) is not None for key, _ in value):
        return []  # the object whose key it is: the key itself cannot be echoed as JSON
    return None
