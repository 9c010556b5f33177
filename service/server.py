"""The HTTP server: uvicorn (uvloop + httptools) with the limits uvicorn leaves out for httptools.

uvicorn bounds the request head only with its h11 parser
(``h11_max_incomplete_event_size``); with httptools, which the service runs
(faster, and no 44 ms delayed-ACK stall with several workers), a head of any size
is buffered whole: 20 connections each sending 4 MiB of one header grew a worker
by ~100 MB. And uvicorn has no timeout for a head or a body that never completes:
a connection that sends nothing, half a head or half a body stays open for good,
and a stalled upload kept a SIGTERM from ever finishing. `GuardedHttpToolsProtocol`
adds, per connection:

* a head-size limit (``TOPICFRAME_MAX_HEADER_BYTES``), counted as the bytes arrive
  and before the parser buffers them: past it, 431 and the connection is closed;
* a head timeout (``TOPICFRAME_HEADER_TIMEOUT_SECONDS``) from the connection's
  opening, or from a request's first byte on a kept-alive connection: 408 and
  close (a connection that sent nothing is just closed);
* a body timeout (``TOPICFRAME_BODY_TIMEOUT_SECONDS``) from the end of the head
  to the end of the body: 408 and close; the app sees the client disconnect
  (its request line records 408, see `service.middleware`).

`build_config` puts these together with uvicorn's own keep-alive timeout and
bounded graceful shutdown. This module is imported by the ``--workers``
supervisor too: it imports nothing of the app.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from asyncio import TimerHandle
from typing import Any, cast

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from service.settings import ServerSettings

log = logging.getLogger("topicframe.service")

# Set in a request's ASGI scope when the server gave up waiting for its body.
TIMED_OUT = "topicframe.timed_out"
# Set in a request's ASGI scope by `service.middleware`: the id its answer carries, a 408 written here included.
REQUEST_ID = "topicframe.request_id"

_DEFAULTS = ServerSettings.model_fields


def _setting_default(name: str) -> Any:
    return _DEFAULTS[name].default


def _error_response(
    status: int, phrase: str, loc: list[str], msg: str, type_: str, setting: str, request_id: str
) -> bytes:
    """A complete ``Connection: close`` response in the service's error format (no app to build it here),
    with an ``X-Request-ID`` as every answer has (logged with the refusal, so the two can be matched)."""
    limit = f"TOPICFRAME_{setting.upper()}"
    body = orjson.dumps({"detail": [{"loc": loc, "msg": f"{msg} ({limit})", "type": type_, "limit": limit}]})
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class ServiceConfig(uvicorn.Config):
    """uvicorn's `Config` plus the head and body timeouts that `GuardedHttpToolsProtocol` reads."""

    def __init__(self, app: Any, *, header_timeout: float, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head-size limit and head/body timeouts (see the module doc)."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.max_head_bytes: int = config.h11_max_incomplete_event_size or _setting_default("max_header_bytes")
        self.head_timeout: float = getattr(config, "header_timeout", _setting_default("header_timeout_seconds"))
        self.body_timeout: float = getattr(config, "body_timeout", _setting_default("body_timeout_seconds"))
        self.in_head = True  # the next bytes belong to a request head
        self.head_bytes = 0  # bytes of the current head received so far
        self.head_timer: TimerHandle | None = None
        self.body_timer: TimerHandle | None = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # While a head is arriving, feed the parser at most what the limit leaves, so an oversized head
        # is refused before it is buffered; a body (and what follows it) goes to the parser whole.
        if self.in_head and self.head_timer is None:  # a kept-alive connection: the clock starts now
            self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)
        while data:
            if not self.in_head:
                super().data_received(data)
                return
            room = self.max_head_bytes - self.head_bytes
            if room <= 0:
                self._refuse_head()
                return
            piece, data = (data, b"") if len(data) <= room else (data[:room], data[room:])
            self.head_bytes += len(piece)
            super().data_received(piece)
            if self.transport.is_closing():
                return
        if self.in_head and self.head_bytes >= self.max_head_bytes:
            self._refuse_head()

    # httptools parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_head = True
        if self.head_timer is None:  # pipelined: this request began in the data that ended the previous one
            self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        super().on_headers_complete()
        # Cancelled by on_message_complete, at once for a request without a body.
        self.body_timer = self.loop.call_later(self.body_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None
        self.in_head, self.head_bytes = True, 0
        super().on_message_complete()

    # the guards

    def _cancel_timers(self) -> None:
        for timer in (self.head_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        self.head_timer = self.body_timer = None

    def _client(self) -> str | None:
        return f"{self.client[0]}:{self.client[1]}" if self.client else None

    def _close(self, response: bytes = b"") -> None:
        """Send ``response`` (when given), then close the connection."""
        self._cancel_timers()
        if response:
            self.transport.write(response)
        self.transport.close()

    def _between_responses(self) -> bool:
        """No response is being written on this connection (so one more may be sent)."""
        return self.cycle is None or self.cycle.response_complete

    def _refuse_head(self) -> None:
        # The head was never read whole, so a client's own X-Request-ID is unknown: the answer gets a new one.
        request_id = uuid.uuid4().hex
        fields = {
            "event": "request_head_too_large",
            "client": self._client(),
            "limit": self.max_head_bytes,
            "request_id": request_id,
        }
        log.warning("request head too large", extra={"fields": fields})
        msg = f"request head (request line and headers) larger than {self.max_head_bytes} bytes"
        phrase = "Request Header Fields Too Large"
        response = _error_response(431, phrase, ["header"], msg, "limit_exceeded", "max_header_bytes", request_id)
        self._close(response if self._between_responses() else b"")

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.head_bytes == 0:  # nothing sent: close quietly, as for an idle kept-alive connection
            self._close()
            return
        request_id = uuid.uuid4().hex
        log.warning(
            "request head timed out",
            extra={
                "fields": {
                    "event": "request_head_timeout",
                    "client": self._client(),
                    "received_bytes": self.head_bytes,
                    "timeout_s": self.head_timeout,
                    "request_id": request_id,
                }
            },
        )
        msg = f"request head not received whole within {self.head_timeout:g} s"
        response = _error_response(
            408, "Request Timeout", ["header"], msg, "timeout", "header_timeout_seconds", request_id
        )
        self._close(response if self._between_responses() else b"")

    def _body_timed_out(self) -> None:
        self.body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None:
            return
        log.warning(
            "request body timed out",
            extra={
                "fields": {
                    "event": "request_body_timeout",
                    "request_id": cast(dict[str, Any], cycle.scope).get(REQUEST_ID),  # the request line's and the 408's
                    "client": self._client(),
                    "method": cycle.scope.get("method"),
                    "path": cycle.scope.get("path"),
                    "timeout_s": self.body_timeout,
                }
            },
        )
        if cycle.response_started or self.pipeline:  # the app answered (or is answering) already: just close
            self._close()
            return
        # The app (waiting in receive()) now gets http.disconnect, and its send() does nothing.
        cast(dict[str, Any], cycle.scope)[TIMED_OUT] = True
        cycle.disconnected = True
        cycle.message_event.set()
        msg = f"request body not received whole within {self.body_timeout:g} s"
        request_id = cast(dict[str, Any], cycle.scope).get(REQUEST_ID) or uuid.uuid4().hex  # the request line's
        self._close(
            _error_response(408, "Request Timeout", ["body"], msg, "timeout", "body_timeout_seconds", request_id)
        )


def build_config(settings: ServerSettings, host: str, port: int, workers: int) -> ServiceConfig:
    """The uvicorn configuration of `python -m service`: every worker builds the app itself."""
    return ServiceConfig(
        "service.worker:create_served_app",  # an import string: each worker process builds the app itself
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,  # the app logs JSON lines itself (service.logs)
        access_log=False,  # one JSON line per request comes from the app's middleware instead
        ws="none",  # no websocket routes: do not import a websocket implementation
        lifespan="on",
        http=GuardedHttpToolsProtocol,
        h11_max_incomplete_event_size=settings.max_header_bytes,  # read by GuardedHttpToolsProtocol too
        timeout_keep_alive=settings.keep_alive_timeout_seconds,
        timeout_graceful_shutdown=settings.graceful_shutdown_seconds,
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
    )
