"""Two plain ASGI middlewares (no BaseHTTPMiddleware: it costs a task and a copy per request).

`RequestObserver` (outermost): gives every response an ``X-Request-ID``, writes
one JSON log line and the Prometheus samples per request, and turns an
unexpected exception into a JSON 500 that still carries the request id. A client
that goes away before its request body is complete is no server error: its one
log line says so, and it counts as 499 (408 when the server gave up waiting for
the body, see `service.server`), without a traceback. Nor is a request that a
shutdown cancels (after TOPICFRAME_GRACEFUL_SHUTDOWN_SECONDS): it is answered 503
when nothing was sent yet, and counted as 503.

`BodySizeLimit`: refuses a body over the limit with 413 *before* anything reads
or parses it.

`JsonBodies`: a POST body to the API sent without a content type, or as a form or
plain text (``curl -d`` sends ``application/x-www-form-urlencoded``), is read as
the JSON it is, on every route as on /v1/classify (which reads its body itself);
FastAPI would otherwise say "Input should be a valid dictionary" about it. And a
body that is not UTF-8 is one 422 on every route, naming the byte (FastAPI's own
routes answered 400 "There was an error parsing the body", or read a UTF-16 BOM
as another encoding, where /v1/classify answered 422). So is a body that is not JSON
(one message on every route), and a JSON object that names a key twice (its path in
``loc``): the route would read one value and drop the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.encoding import NotJson, duplicate_key, lone_surrogate, to_json
from service.errors import limit_error
from service.metrics import Metrics
from service.server import REQUEST_ID, TIMED_OUT

# Scope keys the classify route fills in for the log line.
N_PARAGRAPHS = "topicframe.n_paragraphs"
MODEL_VERSION = "topicframe.model_version"
TEXT = "topicframe.text"

# nginx's status for "the client closed the connection before the response": recorded, never sent.
CLIENT_CLOSED_REQUEST = 499
# The request line's message when a request did not end with the app's response.
OUTCOMES = {
    "client_disconnected": "request incomplete: the client disconnected before sending the whole body",
    "body_timeout": "request incomplete: the body did not arrive in time",
    "cancelled_at_shutdown": "request cancelled: the server is shutting down",
}

# An echoed id ends up in logs and headers: accept only short, plain ones.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _json_response_messages(status: int, body: dict[str, Any]) -> tuple[Message, Message]:
    payload = to_json(body)
    start = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
    }
    return start, {"type": "http.response.body", "body": payload}


def _route_template(scope: Scope) -> str:
    """The route template ("/v1/classify"), never the raw path: unknown paths must not create new series.

    A request refused before routing (413 by `BodySizeLimit`, a body not UTF-8 by `JsonBodies`) has no route in
    its scope: its path is kept when it is one of the API's own (the OpenAPI schema's, built once), so a
    dashboard of /v1/classify sees its 413s (they were "unmatched").
    """
    route = scope.get("route")
    if route is not None:
        return getattr(route, "path", None) or "unmatched"
    app = scope.get("app")
    openapi = getattr(app, "openapi", None)
    documented = openapi()["paths"] if openapi is not None else {}
    if scope["path"] in documented:
        return str(scope["path"])
    # The app's other routes, which carry no route in their scope: /openapi.json and /docs by their path, the
    # page's files by their mount's prefix (which routing put in root_path), so that a file is not a series.
    mounted = str(scope.get("root_path") or "")
    if mounted and scope["path"].startswith(mounted + "/"):
        return mounted
    for other in getattr(app, "routes", []):
        if scope["path"] == getattr(other, "path", None):
            return str(scope["path"])
    return "unmatched"


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics, logger: logging.Logger):
        self.app = app
        self.metrics = metrics
        self.log = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = _header(scope, b"x-request-id")
        request_id = given.decode("latin-1") if given and _VALID_REQUEST_ID.match(given.decode("latin-1")) else None
        request_id = request_id or uuid.uuid4().hex
        scope[REQUEST_ID] = request_id  # for a 408 the server writes itself (`service.server`)
        id_header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500
        response_started = False
        outcome: str | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [*message.get("headers", []), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The body never arrived whole: the client hung up (or stalled and the server gave up, 408).
            # Nobody is left to answer; the request line below says what happened.
            if scope.get(TIMED_OUT):
                status, outcome = 408, "body_timeout"
            else:
                status, outcome = CLIENT_CLOSED_REQUEST, "client_disconnected"
        except asyncio.CancelledError:
            # uvicorn cancels the requests still running when the graceful shutdown's time is up, and does
            # not wait for them. Answer 503 if nothing was sent yet, instead of letting uvicorn log the
            # cancellation as an application error and send a plain-text 500; the task ends here either way.
            status, outcome = 503, "cancelled_at_shutdown"
            if not response_started:
                error = {"loc": [], "msg": "the server is shutting down; retry", "type": "shutting_down"}
                start, body = _json_response_messages(503, {"detail": [error]})
                start["headers"] += [id_header, (b"connection", b"close")]
                with contextlib.suppress(Exception):
                    await send(start)
                    await send(body)
        except Exception:
            # A bug, never a client mistake: log it with the request id, answer with JSON if still possible.
            self.log.exception("unhandled error", extra={"fields": {"event": "error", "request_id": request_id}})
            status = 500
            if not response_started:
                error = {"loc": [], "msg": f"internal error (request id {request_id})", "type": "internal"}
                start, body = _json_response_messages(500, {"detail": [error]})
                start["headers"].append(id_header)
                await send(start)
                await send(body)
        finally:
            if scope.get(TIMED_OUT):
                # The server answered 408 itself. Whatever the app then sent went nowhere: without a model it
                # answers 503 without raising, and that 503 was logged and counted for a slow client.
                status, outcome = 408, "body_timeout"
            elapsed = time.perf_counter() - started
            self._record(scope, status, elapsed, request_id, outcome)

    def _record(self, scope: Scope, status: int, elapsed: float, request_id: str, outcome: str | None) -> None:
        self.metrics.observe_request(scope["method"], _route_template(scope), status, elapsed)
        fields: dict[str, Any] = {
            "event": "request",
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "request_id": request_id,
        }
        if N_PARAGRAPHS in scope:
            fields["n_paragraphs"] = scope[N_PARAGRAPHS]
            fields["model_version"] = scope.get(MODEL_VERSION)
        if TEXT in scope:  # only set when LOG_LEVEL=debug
            fields["paragraphs"] = scope[TEXT]
        if outcome is not None:
            fields["outcome"] = outcome
            self.log.info(OUTCOMES[outcome], extra={"fields": fields})
            return
        self.log.info("request", extra={"fields": fields})


class BodySizeLimit:
    """413 for bodies over ``max_bytes``: by Content-Length up front, or while reading a chunked body."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_bytes
            except ValueError:
                await self._refuse(
                    send, 400, {"loc": ["header", "content-length"], "msg": "not an integer", "type": "bad_request"}
                )
                return
            if too_large:
                await self._refuse_too_large(send)
                return
            # The server never delivers more than Content-Length bytes: nothing left to check.
            await self.app(scope, receive, send)
            return
        # No Content-Length (chunked upload): read up to the limit here, then hand the body on in one piece.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)  # e.g. the client disconnected
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse_too_large(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse_too_large(self, send: Send) -> None:
        error = limit_error(["body"], f"request body is larger than {self.max_bytes} bytes", "max_body_bytes", 413)
        await self._refuse(send, 413, error.item())

    async def _refuse(self, send: Send, status: int, item: dict[str, Any]) -> None:
        start, body = _json_response_messages(status, {"detail": [item]})
        # The client may still be sending a large body; closing avoids reading it just to discard it.
        start["headers"].append((b"connection", b"close"))
        await send(start)
        await send(body)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that returns the buffered messages first, then whatever the server sends next."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


_READ_AS_JSON = (b"", b"application/x-www-form-urlencoded", b"text/plain")


# The POST routes whose body is a JSON object (POST /v1/admin/reload takes none; any other path is a 404 or 405).
_OBJECT_BODIES = frozenset({"/v1/classify", "/v1/compare", "/v1/feedback"})


def _unreadable_body(body: bytes, path: str) -> dict[str, Any] | None:
    """The 422 error for a body no route should read, or None: one that is not UTF-8, not JSON, empty where the
    route needs one, or holding a lone surrogate (each said the same on every route), or a JSON object that
    names a key twice (the route would read one of the two values and drop the other without a word)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {"loc": ["body"], "msg": f"the body is not valid UTF-8 (byte {exc.start})", "type": "json_invalid"}
    if not text.strip():  # "Field required" on two routes, "Invalid JSON: EOF while parsing" on another
        if path not in _OBJECT_BODIES:
            return None
        return {"loc": ["body"], "msg": "the body is empty: send a JSON object", "type": "json_invalid"}
    try:
        duplicated = duplicate_key(text)
    except NotJson as exc:
        return {"loc": ["body"], "msg": f"the body is not valid JSON: {exc}", "type": "json_invalid"}
    if duplicated is not None:
        return {
            "loc": ["body", *duplicated],
            "msg": f"the key '{duplicated[-1]}' appears more than once in one object: send it once",
            "type": "json_duplicate_key",
        }
    surrogate = lone_surrogate(text)
    if surrogate is not None:
        msg = "holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair), which is not text"
        return {"loc": ["body", *surrogate], "msg": msg, "type": "string_unicode"}
    return None


class JsonBodies:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith("/v1/")):
            await self.app(scope, receive, send)
            return
        encoding = (_header(scope, b"content-encoding") or b"identity").strip().lower()
        if encoding not in (b"identity", b""):
            # A gzip body read as JSON was a 422 "not valid UTF-8": the body is fine, its encoding is not served.
            named = encoding.decode("latin-1")
            item = {
                "loc": ["header", "content-encoding"],
                "msg": f"a compressed body (Content-Encoding: {named}) is not read: send the JSON uncompressed",
                "type": "unsupported_media_type",
            }
            start, error = _json_response_messages(415, {"detail": [item]})
            start["headers"].append((b"connection", b"close"))  # the unread body is not drained
            await send(start)
            await send(error)
            return
        given = (_header(scope, b"content-type") or b"").split(b";", 1)[0].strip().lower()
        if given in _READ_AS_JSON:
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        # The whole body (BodySizeLimit has bounded it), checked as UTF-8 before any route parses it.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: the route sees it as it would
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        refused = _unreadable_body(body, scope["path"])
        if refused is not None:
            start, error = _json_response_messages(422, {"detail": [refused]})
            await send(start)
            await send(error)
            return
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)
