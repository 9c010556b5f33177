"""The service as a real uvicorn process against a real `mlflow server`.

Two versions are trained and registered through the CLI; the service serves the
champion, hot-reloads to the other while a client thread keeps classifying (no
failed request, the version switches once), refuses an artifact whose registry
digest does not match, and runs with two workers without the 44 ms keep-alive
stall. The last tests need no registry: raw sockets against a real process check
the head-size limit, the head/body timeouts, the bounded shutdown, and that a
registry that is down (or hangs) neither delays binding nor SIGTERM.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from training.registry import tracking_client

from .conftest import FAST_ROLES, ROOT, VENV_BIN, child_env, free_port, running, tail, wait_for_http

pytestmark = pytest.mark.integration

MODEL = "topicframe-svc"  # its own registered model: the MLflow server is shared with other test modules
ADMIN_KEY = "integration-admin-key"
ARTICLE = (
    "Washington and Beijing agreed to extend the tariff truce, with China pledging to buy more soybeans and "
    "liquefied natural gas from American exporters.\n\n"
    "Customs officers detained three shipments of solar panels under the forced labour law.\n\n"
    "Photograph: Kim Lee for the Daily Ledger"
)


def train(tracking_uri: str, data: tuple[Path, Path], *extra: str) -> str:
    """Train and register a version through the CLI on the suite's tiny corpus; returns the version number."""
    result = subprocess.run(
        [
            str(VENV_BIN / "topicframe"),
            "train",
            "--data",
            str(data[0]),
            "--test-data",
            str(data[1]),
            "--experiment",
            "it-service",
            "--set",
            "cv.folds=2",
            "--set",
            f"model_name={MODEL}",
            *extra,
        ],
        cwd=ROOT,
        env=child_env(MLFLOW_TRACKING_URI=tracking_uri),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    versions = tracking_client(tracking_uri).search_model_versions(f"name='{MODEL}'")
    return str(max(int(v.version) for v in versions))


@dataclass
class Registry:
    uri: str
    first: str
    second: str
    client: MlflowClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = tracking_client(self.uri)

    def point_champion_at(self, version: str) -> None:
        self.client.set_registered_model_alias(MODEL, "champion", version)

    @contextlib.contextmanager
    def wrong_digest(self, version: str) -> Iterator[None]:
        """For the block, the registry records a sha256 that the version's artifact does not have."""
        recorded = self.client.get_model_version(MODEL, version).tags["bundle_sha256"]
        self.client.set_model_version_tag(MODEL, version, "bundle_sha256", "0" * 64)
        try:
            yield
        finally:
            self.client.set_model_version_tag(MODEL, version, "bundle_sha256", recorded)


@pytest.fixture(scope="module")
def registry(mlflow_server: str, tiny_corpus: tuple[Path, Path]) -> Registry:
    # Word n-grams and 3-character role n-grams only: these tests are about serving and reloading, not about the
    # features, and the default character n-grams would more than double each training.
    fast_features = ("--set", "vectorizer.char_ngram_range=null", *FAST_ROLES)
    first = train(mlflow_server, tiny_corpus, "--promote", *fast_features)  # first model: promoted
    # A different model (other regularisation); the alias is moved by hand below, whatever its score.
    second = train(mlflow_server, tiny_corpus, "--set", "classifier.C=1", *fast_features)
    assert (first, second) == ("1", "2")
    return Registry(mlflow_server, first, second)


@contextlib.contextmanager
def service(
    registry: Registry, tmp: Path, workers: int = 1, pids: list[int] | None = None, **env: str
) -> Iterator[str]:
    """`topicframe serve` on a free port, serving the champion alias; yields its base URL once ready. ``pids`` gets
    the server's process id (with one worker, the worker's)."""
    port = free_port()
    log = tmp / f"service-{port}.log"
    environment = child_env(
        MLFLOW_TRACKING_URI=registry.uri,
        TOPICFRAME_MODEL_URI=f"models:/{MODEL}@champion",
        TOPICFRAME_ADMIN_KEY=ADMIN_KEY,
        TOPICFRAME_MODEL_CACHE_DIR=str(tmp / "model-cache"),
        TOPICFRAME_MODEL_REFRESH_SECONDS="0",  # only the admin call reloads, so the test knows when
        **env,
    )
    command = [str(VENV_BIN / "topicframe"), "serve", "--port", str(port), "--workers", str(workers)]
    with running(command, log, environment) as process:
        if pids is not None:
            pids.append(process.pid)
        base = f"http://127.0.0.1:{port}"
        wait_for_http(
            f"{base}/readyz", timeout=300, process=process, log=log
        )  # workers import slowly on a busy machine
        yield base
    assert "Traceback" not in log.read_text(), tail(log)


@dataclass
class Traffic:
    """A client thread classifying the article in a loop, recording what each response said."""

    base: str
    versions: list[str | None] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            deadline = time.monotonic() + 120  # bounded even if the test forgets to stop it
            while not self.stop.is_set() and time.monotonic() < deadline:
                try:
                    response = client.post("/v1/classify", json={"text": ARTICLE})
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    self.versions.append(response.json()["model"]["version"])

    def wait_for(self, count: int, version: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.versions.count(version) < count and time.monotonic() < deadline and not self.failures:
            time.sleep(0.05)


def metric_samples(base: str) -> list[tuple[str, dict[str, str], float]]:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    return [(s.name, s.labels, s.value) for family in text_string_to_metric_families(text) for s in family.samples]


def serving_workers(base: str, version: str | None = None) -> set[str]:
    """The pids of the workers whose served-model gauge is 1 (multiprocess mode labels samples by pid), serving
    ``version`` when given."""
    return {
        labels["pid"]
        for name, labels, v in metric_samples(base)
        if name == "topicframe_model_info" and v == 1.0 and version in (None, labels["version"])
    }


def test_classify_then_hot_reload_under_traffic(registry: Registry, tmp_path: Path) -> None:
    registry.point_champion_at(registry.first)
    pids: list[int] = []
    with service(registry, tmp_path, pids=pids) as base:
        first = httpx.post(f"{base}/v1/classify", json={"text": ARTICLE, "explain": 3}, timeout=30)
        assert first.status_code == 200
        body = first.json()
        assert body["model"] == {
            "name": MODEL,
            "version": registry.first,
            "alias": "champion",
            "run_id": registry.client.get_model_version(MODEL, registry.first).run_id,
        }
        assert len(body["paragraphs"]) == 3 and body["paragraphs"][2]["labels"] == {"topic": [], "frame": []}
        assert any(body["paragraphs"][0]["labels"].values())
        assert (
            httpx.get(f"{base}/v1/model", timeout=10).json()["bundle_sha256"]
            == (registry.client.get_model_version(MODEL, registry.first).tags["bundle_sha256"])
        )

        traffic = Traffic(base)
        thread = threading.Thread(target=traffic.run, daemon=True)
        thread.start()
        try:
            traffic.wait_for(20, registry.first)
            registry.point_champion_at(registry.second)
            reload = httpx.post(f"{base}/v1/admin/reload", headers={"X-Admin-Key": ADMIN_KEY}, timeout=120)
            assert reload.status_code == 200, reload.text
            assert reload.json()["previous"]["version"] == registry.first
            assert reload.json()["model"]["version"] == registry.second and reload.json()["changed"] is True
            traffic.wait_for(20, registry.second)
        finally:
            traffic.stop.set()
            thread.join(timeout=60)
        assert not traffic.failures, traffic.failures[:5]
        # Every response came from one whole model, and the switch happened once: v1... then v2...
        switch = traffic.versions.index(registry.second)
        assert set(traffic.versions[:switch]) == {registry.first}
        assert set(traffic.versions[switch:]) == {registry.second}
        assert switch >= 20 and len(traffic.versions) - switch >= 20

        samples = metric_samples(base)
        info = {s[1]["version"]: s[2] for s in samples if s[0] == "topicframe_model_info"}
        assert info == {registry.first: 0.0, registry.second: 1.0}
        classified = sum(
            v
            for name, labels, v in samples
            if name == "topicframe_http_requests_total"
            and labels == {"method": "POST", "route": "/v1/classify", "status": "200"}
        )
        assert classified == len(traffic.versions) + 1
        paragraphs = next(v for name, _, v in samples if name == "topicframe_paragraphs_classified_total")
        assert paragraphs == 3 * classified

        # The registry listing and a comparison of two versions (downloads, runs' metrics) work in a worker that
        # never imports pandas or pyarrow (service/__main__.py), and none of it brought them in.
        listing = httpx.get(f"{base}/v1/models", timeout=60)
        assert listing.status_code == 200, listing.text
        assert [v["version"] for v in listing.json()["versions"]] == [registry.second, registry.first]
        compared = httpx.post(
            f"{base}/v1/compare", json={"text": ARTICLE, "a": registry.first, "b": "current"}, timeout=120
        )
        assert compared.status_code == 200, compared.text
        for choice, what in (
            ("99", "version 99"),
            ("nightly", "alias 'nightly'"),
        ):  # said without the registry's address
            missing = httpx.post(f"{base}/v1/compare", json={"text": ARTICLE, "a": choice, "b": "current"}, timeout=60)
            assert missing.status_code == 422, missing.text
            assert missing.json()["detail"] == [
                {"loc": ["body", "a"], "msg": f"registered model '{MODEL}' has no {what}", "type": "unknown_version"}
            ]
        mapped = Path(f"/proc/{pids[0]}/maps").read_text()  # one worker: `topicframe serve` runs it in-process
        assert "site-packages/numpy/" in mapped  # the file is read right: the worker's own libraries are listed
        assert "/pandas/" not in mapped and "/pyarrow/" not in mapped, "the worker has loaded pandas or pyarrow"


def test_reload_refuses_an_artifact_whose_digest_does_not_match(registry: Registry, tmp_path: Path) -> None:
    registry.point_champion_at(registry.first)
    with service(registry, tmp_path) as base:
        with registry.wrong_digest(registry.second):
            registry.point_champion_at(registry.second)
            reload = httpx.post(f"{base}/v1/admin/reload", headers={"X-Admin-Key": ADMIN_KEY}, timeout=120)
        assert reload.status_code == 502
        assert "does not match" in reload.json()["detail"][0]["msg"]
        assert reload.json()["serving"]["version"] == registry.first
        response = httpx.post(f"{base}/v1/classify", json={"paragraphs": ["Tariff talks resumed."]}, timeout=30)
        assert response.status_code == 200 and response.json()["model"]["version"] == registry.first


@pytest.mark.parametrize("workers", [1, 2])
def test_refuses_to_start_on_an_artifact_whose_digest_does_not_match(
    registry: Registry, tmp_path: Path, workers: int
) -> None:
    registry.point_champion_at(registry.first)
    log = tmp_path / "refused.log"
    environment = child_env(
        MLFLOW_TRACKING_URI=registry.uri,
        TOPICFRAME_MODEL_URI=f"models:/{MODEL}@champion",
        TOPICFRAME_MODEL_CACHE_DIR=str(tmp_path / "model-cache"),
    )
    command = [str(VENV_BIN / "topicframe"), "serve", "--port", str(free_port()), "--workers", str(workers)]
    with registry.wrong_digest(registry.first), running(command, log, environment) as process:
        process.wait(timeout=300)
    text = log.read_text()
    assert '"event":"refused_to_start"' in text and "does not match" in text, tail(log)
    assert "Traceback" not in text, tail(log)
    assert process.returncode == 3  # uvicorn's "failed to start" status, from the supervisor too


def test_two_workers_answer_keep_alive_requests_without_delay_and_both_follow_an_admin_reload(
    registry: Registry, tmp_path: Path
) -> None:
    registry.point_champion_at(registry.second)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    with service(registry, tmp_path, workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as base:
        # /readyz answered as soon as one worker was up; on a busy machine the other may still be importing.
        # Each worker publishes its served model on load, so the multiprocess /metrics shows when both are.
        deadline = time.monotonic() + 300
        while len(serving_workers(base)) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert len(serving_workers(base)) == 2  # one served-model sample per worker, added up across processes

        # Sequential requests on one keep-alive connection. Without TCP_NODELAY (plain asyncio +
        # h11 under --workers 2) each one waits ~44 ms for a delayed ACK; uvloop + httptools do not.
        timings = []
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(60):
                started = time.perf_counter()
                assert client.post("/v1/classify", json={"paragraphs": ["Tariff talks resumed."]}).status_code == 200
                timings.append(time.perf_counter() - started)
        assert statistics.median(timings[10:]) < 0.020, sorted(timings)

        # New connections spread over both workers; the multiprocess /metrics adds all of them up.
        for _ in range(20):
            assert httpx.post(f"{base}/v1/classify", json={"paragraphs": ["x y"]}, timeout=30).status_code == 200
        samples = metric_samples(base)
        classified = sum(
            v
            for name, labels, v in samples
            if name == "topicframe_http_requests_total"
            and labels.get("route") == "/v1/classify"
            and labels.get("status") == "200"
        )
        assert classified == 80  # both workers' requests, whichever worker answered the scrape

        # An admin reload reaches one worker; the other follows within seconds, not at its next refresh (off here).
        registry.point_champion_at(registry.first)
        reload = httpx.post(f"{base}/v1/admin/reload", headers={"X-Admin-Key": ADMIN_KEY}, timeout=120)
        assert reload.status_code == 200 and reload.json()["model"]["version"] == registry.first, reload.text
        deadline = time.monotonic() + 60
        while len(serving_workers(base, registry.first)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(serving_workers(base, registry.first)) == 2
        assert deadline - time.monotonic() > 30  # seconds on a loaded machine, not a timeout

        # A worker killed outright is replaced; its served-model sample goes with it (it stayed, "serving", for good).
        killed = min(serving_workers(base))
        os.kill(int(killed), signal.SIGKILL)
        deadline = time.monotonic() + 120
        while (killed in serving_workers(base) or len(serving_workers(base)) < 2) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert killed not in serving_workers(base) and len(serving_workers(base)) == 2


# Hostile and unlucky conditions: raw sockets against a real `python -m service` on 127.0.0.1. These need
# no registry (a model directory, or a registry that is down on purpose) and take seconds each.

HEAD = b"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


@contextlib.contextmanager
def local_service(
    tmp: Path, ready: bool = True, workers: int = 1, **env: str
) -> Iterator[tuple[str, int, subprocess.Popen, Path]]:
    """`python -m service` on a free port (no background refresh); yields once /healthz (and /readyz) answer."""
    port = free_port()
    log = tmp / f"service-{port}.log"
    environment = child_env(TOPICFRAME_MODEL_REFRESH_SECONDS="0", **env)
    command = [sys.executable, "-m", "service", "--port", str(port), "--workers", str(workers)]
    with running(command, log, environment) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/{'readyz' if ready else 'healthz'}", timeout=120, process=process, log=log)
        yield base, port, process, log


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout` passes: then fail)."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def json_body(response: bytes) -> dict:
    return json.loads(response.partition(b"\r\n\r\n")[2])


def response_header(response: bytes, name: str) -> str:
    """One header of a raw response (the first with that name, case-insensitive); fails when there is none."""
    head = response.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    (value, *_) = [v.strip() for n, _, v in (line.partition(":") for line in head) if n.lower() == name]
    return value


def wait_for_exit(process: subprocess.Popen, timeout: float) -> float:
    """Seconds from now until `process` exits; fails after `timeout`."""
    started = time.monotonic()
    process.wait(timeout=timeout)
    return time.monotonic() - started


def test_a_registry_that_is_down_does_not_keep_the_service_from_binding_or_stopping(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there; the address carries credentials, which no message may show
    registry = f"http://mluser:S3cretPass@127.0.0.1:{port}"
    started = time.monotonic()
    with local_service(
        tmp_path, ready=False, MLFLOW_TRACKING_URI=registry, TOPICFRAME_MODEL_URI="models:/topicframe@champion"
    ) as (base, _, process, log):
        # Before: MLflow's retries (~257 s) ran before uvicorn bound the port.
        assert time.monotonic() - started < 20, "the port was bound late"
        deadline = time.monotonic() + 30
        while (ready := httpx.get(f"{base}/readyz", timeout=5)).json()["detail"][0]["reason"] == "loading":
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.1)
        assert ready.status_code == 503 and ready.headers["retry-after"]
        detail = ready.json()["detail"][0]
        assert detail["reason"] == "registry_unreachable", detail
        assert f"http://mluser:***@127.0.0.1:{port}" in detail["msg"] and "S3cretPass" not in ready.text, detail
        refused = httpx.post(f"{base}/v1/classify", json={"paragraphs": ["Tariffs rose."]}, timeout=5)
        assert refused.status_code == 503 and refused.json()["detail"][0]["reason"] == "registry_unreachable"
        process.send_signal(signal.SIGTERM)
        assert wait_for_exit(process, timeout=10) < 5
    assert "Traceback" not in log.read_text() and "S3cretPass" not in log.read_text(), tail(log)


def test_a_registry_that_hangs_does_not_hold_up_sigterm(tmp_path: Path) -> None:
    with socket.socket() as hung:  # accepts connections (the kernel does) and never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        registry = f"http://127.0.0.1:{hung.getsockname()[1]}"
        with local_service(
            tmp_path, ready=False, MLFLOW_TRACKING_URI=registry, TOPICFRAME_MODEL_URI="models:/topicframe@champion"
        ) as (base, _, process, log):
            ready = httpx.get(f"{base}/readyz", timeout=5)
            assert ready.status_code == 503 and ready.json()["detail"][0]["reason"] == "loading"
            time.sleep(1)  # the load is now waiting on the registry (10 s timeout, 2 retries)
            assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            process.send_signal(signal.SIGTERM)
            assert wait_for_exit(process, timeout=10) < 5
    assert "Traceback" not in log.read_text(), tail(log)


@pytest.fixture(scope="module")
def guarded(
    bundle_dir: Path, bundle_sha256: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, int, Path]]:
    """One service with short head/body timeouts, serving the session's model from its directory."""
    tmp = tmp_path_factory.mktemp("guarded")
    with local_service(
        tmp,
        TOPICFRAME_MODEL_URI=str(bundle_dir),
        TOPICFRAME_MODEL_SHA256=bundle_sha256,
        TOPICFRAME_HEADER_TIMEOUT_SECONDS="1",
        TOPICFRAME_BODY_TIMEOUT_SECONDS="1",
    ) as (base, port, _, log):
        yield base, port, log
    assert "Traceback" not in log.read_text(), tail(log)


def test_a_4_mib_header_is_refused_before_it_is_buffered(guarded: tuple[str, int, Path]) -> None:
    base, port, log = guarded
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the server closes early
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
            for _ in range(64):
                sent += sock.send(b"a" * 65536)  # 4 MiB in all, if the server kept reading
                # Wait a moment for the answer after each chunk: loopback socket buffers take megabytes whether or
                # not the server reads (tcp_rmem + tcp_wmem), so sending flat out measured the scheduler, not it.
                if select.select([sock], [], [], 0.25)[0]:
                    break
        response = read_response(sock, timeout=10)
    assert response.startswith(b"HTTP/1.1 431 "), response[:200]
    assert json_body(response)["detail"][0]["limit"] == "TOPICFRAME_MAX_HEADER_BYTES"
    request_id = response_header(response, "x-request-id")  # as every answer has, and logged with the refusal
    assert len(request_id) == 32 and f'"request_id":"{request_id}"' in log.read_text()
    assert sent < 4 << 20  # refused while it was still arriving
    assert '"event":"request_head_too_large"' in log.read_text()
    # Just under the limit is fine, and the server is unharmed.
    assert httpx.get(f"{base}/healthz", headers={"X-Big": "a" * 15_000}, timeout=10).status_code == 200


def test_a_stalled_head_or_body_is_answered_408_and_closed(guarded: tuple[str, int, Path]) -> None:
    base, port, log = guarded
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:  # sends nothing at all
        assert read_response(sock, timeout=10) == b""  # closed, quietly
    assert time.monotonic() - started < 5

    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(HEAD)  # the head's blank line never comes
        response = read_response(sock, timeout=10)
    assert response.startswith(b"HTTP/1.1 408 "), response[:200]
    assert json_body(response)["detail"][0]["limit"] == "TOPICFRAME_HEADER_TIMEOUT_SECONDS"
    assert len(response_header(response, "x-request-id")) == 32

    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sent_id = HEAD + b"X-Request-ID: stalled-upload-1\r\n"
        sock.sendall(sent_id + b'Content-Length: 1000\r\n\r\n{"paragraphs": ["Tariff')  # 980 bytes short
        response = read_response(sock, timeout=10)
    assert response.startswith(b"HTTP/1.1 408 "), response[:200]
    assert json_body(response)["detail"][0]["limit"] == "TOPICFRAME_BODY_TIMEOUT_SECONDS"
    assert response_header(response, "x-request-id") == "stalled-upload-1"  # the client's own, as for any answer
    assert time.monotonic() - started < 5

    # A client that hangs up mid-body: no 500, no traceback (checked at teardown).
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(HEAD + b'Content-Length: 1000\r\n\r\n{"paragraphs": ["Tariff')
        time.sleep(0.2)
    time.sleep(0.3)
    statuses = {
        labels["status"]: value
        for name, labels, value in metric_samples(base)
        if name == "topicframe_http_requests_total" and labels["route"] == "/v1/classify"
    }
    assert statuses == {"408": 1.0, "499": 1.0}
    assert '"outcome":"body_timeout"' in log.read_text()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stalled_upload_does_not_hold_up_the_shutdown_and_new_connections_are_refused(
    bundle_dir: Path, bundle_sha256: str, tmp_path: Path, workers: int
) -> None:
    with local_service(
        tmp_path,
        workers=workers,
        TOPICFRAME_MODEL_URI=str(bundle_dir),
        TOPICFRAME_MODEL_SHA256=bundle_sha256,
        TOPICFRAME_BODY_TIMEOUT_SECONDS="60",  # so the graceful shutdown's bound is what ends it
        TOPICFRAME_GRACEFUL_SHUTDOWN_SECONDS="2",
    ) as (_, port, process, log):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(HEAD + b'Content-Length: 1000\r\n\r\n{"paragraphs": ["Tariff')
            time.sleep(0.3)
            process.send_signal(signal.SIGTERM)
            time.sleep(1)  # the supervisor looks at its signals every 0.5 s
            # While the stalled request is waited for, a new connection is refused at once (with two workers it
            # was queued by the supervisor's copy of the socket, hung, and was reset at the exit).
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            # Before: uvicorn waited for this request for good.
            assert wait_for_exit(process, timeout=15) < 8
            assert process.returncode == -signal.SIGTERM  # the same with one worker or several
            response = read_response(sock, timeout=5)
        assert response.startswith(b"HTTP/1.1 503 "), response[:200]
        assert json_body(response)["detail"][0]["type"] == "shutting_down"
    assert "Traceback" not in log.read_text(), tail(log)
