"""Every error is JSON: ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``.

``loc`` is the path of the offending field (``["body", "paragraphs", 3]``),
``limit`` names the setting when a configured limit was exceeded. Client
mistakes are always 4xx; the catch-all 500 handler exists only for bugs.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.encoding import to_json


class ModelNotReady(Exception):
    """No model is loaded: the first load is still running, or the last one failed.

    ``reason`` is a code (``loading``, ``registry_unreachable``, ``alias_not_set``, ``model_not_found``,
    ``integrity_failed``, ``load_failed``), ``message`` says what is wrong in words.
    """

    def __init__(self, reason: str, message: str, retry_after: int):
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class ClientError(Exception):
    """A request the service refuses, with the field path and, for limits, the setting's name."""

    def __init__(
        self,
        status: int,
        loc: list[str | int],
        msg: str,
        type_: str,
        limit: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(msg)
        self.status, self.loc, self.msg, self.type, self.limit = status, loc, msg, type_, limit
        self.headers = headers

    def item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"loc": self.loc, "msg": self.msg, "type": self.type}
        if self.limit:
            item["limit"] = self.limit
        return item


def error_response(status: int, items: list[dict[str, Any]], headers: dict[str, str] | None = None) -> Response:
    return Response(to_json({"detail": items}), status_code=status, headers=headers, media_type="application/json")


def key_error(header: str, msg: str, missing: bool, bearer: bool = False) -> ClientError:
    """401 (``missing``: no key sent) or 403 (a wrong one), located at the header that carries the key;
    ``bearer``: the route also takes ``Authorization: Bearer``, which a 401 then says."""
    if missing:
        challenge = {"WWW-Authenticate": "Bearer"} if bearer else None
        return ClientError(401, ["header", header], msg, "unauthorized", headers=challenge)
    return ClientError(403, ["header", header], msg, "forbidden")


def limit_error(loc: list[str | int], msg: str, setting: str, status: int = 422) -> ClientError:
    """A configured limit was exceeded; the message and ``limit`` name the environment variable."""
    name = f"TOPICFRAME_{setting.upper()}"
    return ClientError(status, loc, f"{msg} ({name})", "limit_exceeded", limit=name)


def _validation_item(error: dict[str, Any]) -> dict[str, Any]:
    # Drop "input" (it can be a 2 MB article) and "ctx"/"url" (not always JSON-safe, not needed).
    msg = str(error.get("msg", ""))
    detail = (error.get("ctx") or {}).get("error") if isinstance(error.get("ctx"), dict) else None
    if error.get("type") == "json_invalid" and detail and str(detail) not in msg:
        msg = f"{msg}: {detail}"  # say what is wrong with the JSON
    return {"loc": list(error.get("loc", ())), "msg": msg, "type": str(error.get("type", ""))}


async def _on_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, [_validation_item(e) for e in exc.errors()])


async def _on_client_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClientError)
    return error_response(exc.status, [exc.item()], headers=exc.headers)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    kind = {404: "not_found", 405: "method_not_allowed", 400: "bad_request"}.get(status, "http_error")
    loc: list[str | int] = ["path"] if status in (404, 405) else ["body"] if status == 400 else []
    headers = dict(exc.headers) if exc.headers else None
    return error_response(status, [{"loc": loc, "msg": str(exc.detail), "type": kind}], headers=headers)


async def _on_model_not_ready(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ModelNotReady)
    item = {"loc": [], "msg": f"no model is loaded yet: {exc.message}", "type": "model_not_ready", "reason": exc.reason}
    return error_response(503, [item], headers={"Retry-After": str(exc.retry_after)})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ClientError, _on_client_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(ModelNotReady, _on_model_not_ready)
