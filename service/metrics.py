"""Prometheus metrics: requests by route and status, latency, paragraphs classified, the served model.

Each app gets its own registry, so tests (and several apps in one process)
never share counters.

Several workers: uvicorn's ``--workers N`` starts N processes and a scrape
reaches one of them, so by default /metrics shows only that worker's counters.
Set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before start-up (the
container does) and /metrics adds up all workers instead, with one
``topicframe_model_info`` sample per worker ``pid``.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.model_store import ServedModel

# From a single-paragraph request (~1 ms) to a 1,000-paragraph article (seconds).
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "topicframe_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "topicframe_http_request_duration_seconds",
            "Time from request start to the last response byte",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.paragraphs = Counter(
            "topicframe_paragraphs_classified",
            "Paragraphs classified",
            registry=self.registry,
        )
        self.model_info = Gauge(
            "topicframe_model_info",
            "The served model: 1 for the version served now, 0 for versions served before",
            ["name", "version", "alias", "run_id", "bundle_sha256"],
            registry=self.registry,
            multiprocess_mode="liveall",
        )
        self.model_loads = Counter(
            "topicframe_model_loads",
            "Model loads and reloads by result",
            ["result"],
            registry=self.registry,
        )
        # The background refresh asks the registry where the alias points; a registry that stops answering
        # shows here (result="failed") while the loaded model keeps serving and /readyz stays 200.
        self.alias_checks = Counter(
            "topicframe_model_alias_checks",
            "Checks of where the served alias points, by result (unchanged, moved, failed)",
            ["result"],
            registry=self.registry,
        )

        # 1 while this worker's last load failed and an older model (or none) serves: what to alert on.
        self.load_failing = Gauge(
            "topicframe_model_last_load_failed",
            "1 when this worker's last model load failed (the model loaded before it keeps serving), else 0",
            registry=self.registry,
            multiprocess_mode="liveall",
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def model_loaded(self, model: ServedModel, previous: ServedModel | None) -> None:
        if previous is not None:
            self.model_info.labels(*_model_labels(previous)).set(0)
        self.model_info.labels(*_model_labels(model)).set(1)
        self.model_loads.labels("ok").inc()
        self.load_failing.set(0)

    def model_load_failed(self, error: str) -> None:
        self.model_loads.labels("failed").inc()
        self.load_failing.set(1)

    def alias_checked(self, result: str) -> None:
        self.alias_checks.labels(result).inc()

    def render(self) -> tuple[bytes, str]:
        """The exposition text and its content type."""
        if multiprocess_dir():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def worker_exited(self) -> None:
        """Drop this worker's live gauges from the shared directory (multiprocess mode only)."""
        if multiprocess_dir():
            multiprocess.mark_process_dead(os.getpid())


def _model_labels(model: ServedModel) -> tuple[str, str, str, str, str]:
    ref = model.ref
    return ref.name, ref.version or "", ref.alias or "", ref.run_id or "", ref.bundle_sha256 or ""
