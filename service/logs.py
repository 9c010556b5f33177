"""Structured logging: one JSON object per line on stdout."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from service.encoding import to_json

LOGGER_NAME = "topicframe.service"


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...fields}``; fields come from ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return to_json(entry).decode()


def configure_logging(level: str) -> logging.Logger:
    """Send the service's logs (and uvicorn's errors) to stdout as JSON lines; idempotent."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    for name in (LOGGER_NAME, "topicframe.registry", "uvicorn.error"):  # the registry's: a cached copy mended
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    return logging.getLogger(LOGGER_NAME)
