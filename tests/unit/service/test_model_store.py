"""Why a load failed, in words and as a `reason` code; loads in daemon threads; MLflow's HTTP bounds."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from service.logs import configure_logging
from service.main import bound_registry_requests
from service.model_store import (
    ALIAS_NOT_SET,
    INTEGRITY_FAILED,
    LOAD_FAILED,
    LOADING,
    MODEL_NOT_FOUND,
    REGISTRY_UNREACHABLE,
    ModelStore,
    in_daemon_thread,
)
from service.settings import Settings
from tests.conftest import keep_mlflow_uris
from training.bundle import ModelBundle
from training.errors import ModelIntegrityError

from .conftest import json_lines


@pytest.fixture(autouse=True)
def _restore_mlflow_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry loads leave MLflow's process-wide URIs alone, but a test here sets them on purpose."""
    keep_mlflow_uris(monkeypatch)


def failed_load(uri: str, expected_sha256: str | None = None, cache_dir: Path | None = None) -> ModelStore:
    store = ModelStore(uri, cache_dir, expected_sha256=expected_sha256)
    with pytest.raises(Exception):  # noqa: B017 - whatever it raises, the store must say why
        store.load()
    assert store.current is None and store.attempted.is_set()
    return store


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_registry_that_is_down_is_named_as_the_problem(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    registry = f"http://127.0.0.1:{unused_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    configure_logging("info")  # its handler now writes where capsys reads
    store = failed_load("models:/topicframe@champion")
    failure = store.unavailable()
    assert failure.reason == REGISTRY_UNREACHABLE
    # Not "has no alias 'champion' (INTERNAL_ERROR)", which is what the registry module's error says.
    assert failure.message == f"the model registry at {registry} is unreachable: [Errno 111] Connection refused"
    logged = [line for line in json_lines(capsys.readouterr().out) if line.get("event") == "model_load_failed"]
    assert logged[0]["reason"] == REGISTRY_UNREACHABLE and registry in logged[0]["error"]


def test_an_alias_that_is_not_set_and_a_version_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # Registered, with no version and no alias.
    MlflowClient(tracking_uri=uri, registry_uri=uri).create_registered_model("svc-store")
    alias = failed_load("models:/svc-store@champion").unavailable()
    assert alias.reason == ALIAS_NOT_SET and "champion" in alias.message
    assert failed_load("models:/svc-store@challenger").unavailable().reason == ALIAS_NOT_SET
    assert failed_load("models:/svc-store/3").unavailable().reason == MODEL_NOT_FOUND


def test_a_missing_directory_and_a_tampered_or_unvouched_artifact(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str
) -> None:
    missing = failed_load(str(tmp_path / "nowhere")).unavailable()
    assert missing.reason == MODEL_NOT_FOUND and str(tmp_path / "nowhere") in missing.message
    tampered = tmp_path / "tampered"
    shutil.copytree(bundle_dir, tampered)
    with (tampered / "arrays.npz").open("ab") as f:
        f.write(b"\0")
    integrity = failed_load(str(tampered), bundle_sha256).unavailable()
    assert integrity.reason == INTEGRITY_FAILED and "does not match" in integrity.message
    unvouched = failed_load(str(bundle_dir)).unavailable()  # no operator digest (TOPICFRAME_MODEL_SHA256)
    assert unvouched.reason == INTEGRITY_FAILED and "TOPICFRAME_MODEL_SHA256" in unvouched.message


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite registry for this module's registry tests (creating one takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('registry') / 'mlflow.db'}"


def register_directory(client: MlflowClient, name: str, directory: Path, bundle_sha256: str) -> str:
    """A registry version whose artifacts are ``directory`` (a saved model), tagged with its digest."""
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    version = client.create_model_version(name, source=str(directory)).version
    client.set_model_version_tag(name, version, "bundle_sha256", bundle_sha256)
    return str(version)


def test_a_missing_embedded_store_is_waited_for_not_made(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The service made ./mlflow.db itself; stopped during MLflow's first migration it left a half-made store that
    every later start read as 'load_failed: duplicate column name'. Now it waits for `topicframe train` to make it."""
    database = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    store = failed_load("models:/svc-later@champion", cache_dir=tmp_path / "cache")
    failure = store.unavailable()
    assert failure.reason == MODEL_NOT_FOUND, failure
    assert (
        f"no MLflow store there ({database} does not exist)" in failure.message
        and "topicframe train" in failure.message
    )
    assert not database.exists()
    # Once training has made the store and registered a champion, the next refresh serves it.
    client = MlflowClient(tracking_uri=f"sqlite:///{database}", registry_uri=f"sqlite:///{database}")
    source = tmp_path / "source"
    shutil.copytree(bundle_dir, source)
    client.set_registered_model_alias(
        "svc-later", "champion", register_directory(client, "svc-later", source, bundle_sha256)
    )
    assert store.refresh() and store.current is not None and store.current.ref.version == "1"


def test_a_version_whose_files_are_gone_is_a_load_failure_naming_them_not_a_missing_alias(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The alias and the version exist; their artifact directory does not (a store copied without it). It read
    'alias_not_set', and the message stopped at MLflow's "The following failures occurred ...:"."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    source = tmp_path / "source"
    shutil.copytree(bundle_dir, source)
    version = register_directory(client, "svc-gone", source, bundle_sha256)
    client.set_registered_model_alias("svc-gone", "champion", version)
    shutil.rmtree(source)
    failure = failed_load("models:/svc-gone@champion", cache_dir=tmp_path / "cache").unavailable()
    assert failure.reason == LOAD_FAILED, failure
    assert "could not download version 1" in failure.message and not failure.message.rstrip().endswith(":")
    assert "\n" not in failure.message and "No such artifact: 'source'" in failure.message


def test_registry_loads_use_one_explicit_client_and_never_mlflows_global_uri(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow

    from training.registry import load_model, tracking_client

    client = tracking_client(registry)
    source = tmp_path / "source"
    shutil.copytree(bundle_dir, source)
    version = register_directory(client, "svc-explicit", source, bundle_sha256)
    # MLflow's process-wide URI and the environment point elsewhere: only the client passed is used.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'elsewhere.db'}")
    cache = tmp_path / "cache"
    bundle, ref = load_model(f"models:/svc-explicit/{version}", cache, client=client)
    assert ref.version == version and ref.bundle_sha256 == bundle_sha256
    assert mlflow.get_tracking_uri() == f"sqlite:///{tmp_path / 'elsewhere.db'}"
    shutil.rmtree(source)  # the cached copy, whose manifest matches the tag, serves the next load
    assert load_model(f"models:/svc-explicit/{version}", cache, client=client)[0].predict(["Tariffs rose."]) == (
        bundle.predict(["Tariffs rose."])
    )
    cached = next(cache.rglob("arrays.npz"))
    with cached.open("ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelIntegrityError, match=r"arrays.npz: sha256 does not match"):
        load_model(f"models:/svc-explicit/{version}", cache, client=client)


def test_a_registered_pickled_model_is_refused_with_the_fix(
    tmp_path: Path, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version logged by older code (model.joblib, its tag the pickle's sha256): the store names the conversion."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry)
    old = Path(__file__).resolve().parents[2] / "fixtures" / "pre_roles_model"
    digest = "a0ccf411098402136df51351436a33d7ff103009d1de4ccef2c601a0047185e7"
    register_directory(MlflowClient(tracking_uri=registry, registry_uri=registry), "svc-old", old, digest)
    failure = failed_load("models:/svc-old/1", cache_dir=tmp_path / "cache").unavailable()
    assert failure.reason == INTEGRITY_FAILED and "topicframe model convert" in failure.message


def test_before_the_first_attempt_the_store_says_it_is_loading(bundle_dir: Path, bundle_sha256: str) -> None:
    store = ModelStore(str(bundle_dir), expected_sha256=bundle_sha256)
    assert store.unavailable().reason == LOADING and not store.attempted.is_set()
    store.load()
    assert store.attempted.is_set() and store.last_failure is None


def test_in_daemon_thread_returns_raises_and_does_not_hold_up_the_exit() -> None:
    seen: list[threading.Thread] = []

    def work() -> int:
        seen.append(threading.current_thread())
        return 7

    def fail() -> None:
        raise ValueError("boom")

    async def main() -> None:
        assert await in_daemon_thread(work) == 7
        with pytest.raises(ValueError, match="boom"):
            await in_daemon_thread(fail)
        # Cancelling the wait abandons the thread; the event loop carries on.
        release = threading.Event()
        waiting = asyncio.ensure_future(in_daemon_thread(lambda: release.wait(10)))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()

    asyncio.run(main())
    assert seen[0].daemon and seen[0] is not threading.main_thread()


def test_mlflow_http_requests_are_bounded_unless_set_explicitly(monkeypatch: pytest.MonkeyPatch) -> None:
    bound_registry_requests(Settings(registry_timeout_seconds=4, registry_max_retries=1))
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "4"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "1"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "1"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")  # set by the operator: it wins
    bound_registry_requests(Settings())
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "60"
    defaults = Settings()
    assert (defaults.registry_timeout_seconds, defaults.registry_max_retries) == (10, 2)


def test_two_stores_holding_the_same_version_number_do_not_share_a_cached_copy(
    tmp_path: Path, bundle: ModelBundle, bundle_dir: Path, bundle_sha256: str
) -> None:
    """Two registries that each hold version 1 of a model, loaded through one cache directory (two project
    folders served on one machine). A worker that has found its copy must still read its own files after
    the other store's version 1 is fetched: the cache names each copy by its digest."""
    from training.bundle import load_bundle
    from training.registry import fetch_bundle_dir, resolve_model, tracking_client

    other = load_bundle(bundle_dir, bundle_sha256)
    other.set_thresholds("topic", np.full(len(other.label_names["topic"]), 0.9))
    other_sha256 = other.save(tmp_path / "other")
    first = tracking_client(f"sqlite:///{tmp_path / 'first.db'}")
    second = tracking_client(f"sqlite:///{tmp_path / 'second.db'}")
    assert register_directory(first, "svc-twin", bundle_dir, bundle_sha256) == "1"
    assert register_directory(second, "svc-twin", tmp_path / "other", other_sha256) == "1"
    cache = tmp_path / "cache"
    found = fetch_bundle_dir(resolve_model("models:/svc-twin/1", first), cache, first)
    fetch_bundle_dir(resolve_model("models:/svc-twin/1", second), cache, second)
    assert load_bundle(found, bundle_sha256).predict(["Tariffs rose."]) == bundle.predict(["Tariffs rose."])
    assert len(list(cache.rglob("manifest.json"))) == 2


def test_a_digest_tag_that_is_not_a_digest_names_no_directory(tmp_path: Path, bundle_dir: Path, registry: str) -> None:
    """The tag names the cached copy's directory: a value such as ``../..`` is refused before any path is made."""
    client = MlflowClient(tracking_uri=registry, registry_uri=registry)
    register_directory(client, "svc-odd-tag", bundle_dir, "../../escaped")
    from training.registry import load_model

    with pytest.raises(ModelIntegrityError, match=r"bundle_sha256 tag '\.\./\.\./escaped' is not a sha256 digest"):
        load_model("models:/svc-odd-tag/1", tmp_path / "cache", client=client)
    assert not (tmp_path / "cache").exists()


def test_each_download_prunes_the_cache_to_the_three_most_recently_used_copies(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str
) -> None:
    """A model promoted every day must not fill the disk of the machine serving it. A copy another process holds
    the lock of (checking or downloading it) is left for a later prune."""
    import fcntl

    from training.registry import CACHE_COPIES_KEPT, fetch_bundle_dir, resolve_model, tracking_client

    client = tracking_client(f"sqlite:///{tmp_path / 'daily.db'}")
    for _ in range(5):
        register_directory(client, "svc-daily", bundle_dir, bundle_sha256)
    cache = tmp_path / "cache"

    def fetch(version: int) -> None:
        fetch_bundle_dir(resolve_model(f"models:/svc-daily/{version}", client), cache, client)

    def cached_versions() -> list[int]:
        return sorted(int(path.name.split("-")[0]) for path in (cache / "svc-daily").iterdir() if path.is_dir())

    assert CACHE_COPIES_KEPT == 3
    for version in (1, 2, 3, 1, 4):  # version 1 used again after 3: 2 is now the least recently used
        fetch(version)
    assert cached_versions() == [1, 3, 4]
    with open(cache / "svc-daily" / f"3-{bundle_sha256[:16]}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker is checking version 3
        fetch(5)
        assert cached_versions() == [1, 3, 4, 5]
    fetch(2)
    assert cached_versions() == [2, 4, 5]
    assert sorted(path.name for path in (cache / "svc-daily").iterdir() if not path.is_dir())[0].endswith(".lock")


def test_a_cached_copy_that_fails_its_check_is_downloaded_again_not_kept(
    tmp_path: Path, bundle: ModelBundle, bundle_dir: Path, bundle_sha256: str, capsys
) -> None:
    """A copy that failed its check stayed in the cache and was refused on every load, even after the store was
    mended: a service kept refusing to start until someone deleted the cache by hand."""
    import shutil

    from training.bundle import BUNDLE_FILE
    from training.registry import load_model, tracking_client

    source = tmp_path / "source"
    shutil.copytree(bundle_dir, source)
    client = tracking_client(f"sqlite:///{tmp_path / 'store.db'}")
    register_directory(client, "svc-mended", source, bundle_sha256)
    cache = tmp_path / "cache"
    load_model("models:/svc-mended/1", cache, client=client)
    (cached,) = cache.rglob(BUNDLE_FILE)
    intact = cached.read_bytes()
    cached.write_bytes(intact[:-1] + bytes([intact[-1] ^ 1]))  # the cached copy goes bad: fetched again, loads
    configure_logging("info")  # its handler now writes where capsys reads
    loaded, _ = load_model("models:/svc-mended/1", cache, client=client)
    assert loaded.predict(["Tariffs rose."]) == bundle.predict(["Tariffs rose."])
    assert next(cache.rglob(BUNDLE_FILE)).read_bytes() == intact
    # Mended, and said: a disk that corrupts files shows in the log (it was silent).
    [logged] = [line for line in json_lines(capsys.readouterr().out) if line.get("event") == "cached_copy_discarded"]
    assert logged["level"] == "warning" and "sha256 does not match" in logged["error"]

    stored = source / BUNDLE_FILE  # the store's own copy goes bad: refused, and no bad copy is kept
    stored.write_bytes(intact[:-1] + bytes([intact[-1] ^ 1]))
    next(cache.rglob(BUNDLE_FILE)).write_bytes(stored.read_bytes())
    with pytest.raises(ModelIntegrityError, match="sha256 does not match"):
        load_model("models:/svc-mended/1", cache, client=client)
    assert not list(cache.rglob(BUNDLE_FILE))
    stored.write_bytes(intact)  # mended: the next load works without anyone touching the cache
    assert load_model("models:/svc-mended/1", cache, client=client)[0].predict(["Envoys met."])


def test_each_alias_check_is_reported_unchanged_moved_or_failed(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `topicframe_model_alias_checks` counts: a registry that stops answering shows there while the
    loaded model keeps serving."""
    database = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    client = MlflowClient(tracking_uri=f"sqlite:///{database}", registry_uri=f"sqlite:///{database}")
    for _ in range(2):
        source = tmp_path / f"source{_}"
        shutil.copytree(bundle_dir, source)
        register_directory(client, "svc-checks", source, bundle_sha256)
    client.set_registered_model_alias("svc-checks", "champion", "1")
    checks: list[str] = []
    store = ModelStore("models:/svc-checks@champion", tmp_path / "cache", on_alias_check=checks.append)
    assert store.refresh() and checks == []  # the first load is a load, not a check
    assert not store.refresh() and checks == ["unchanged"]
    client.set_registered_model_alias("svc-checks", "champion", "2")
    assert store.refresh() and checks == ["unchanged", "moved"] and store.current.ref.version == "2"  # type: ignore[union-attr]
    client.delete_registered_model_alias("svc-checks", "champion")
    assert not store.refresh() and checks[-1] == "failed" and store.current.ref.version == "2"  # type: ignore[union-attr]


def test_a_store_file_replaced_or_removed_while_serving_is_seen_at_the_next_check(
    tmp_path: Path, bundle_dir: Path, bundle_sha256: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """A store restored from a backup (or moved into place) was never read: MLflow's pooled connections kept
    reading the replaced file, and a store moved away went unnoticed."""
    database = tmp_path / "mlflow.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    client = MlflowClient(tracking_uri=f"sqlite:///{database}", registry_uri=f"sqlite:///{database}")
    for version in ("1", "2"):
        shutil.copytree(bundle_dir, tmp_path / f"source{version}")
        register_directory(client, "svc-restored", tmp_path / f"source{version}", bundle_sha256)
    client.set_registered_model_alias("svc-restored", "champion", "1")
    checks: list[str] = []
    store = ModelStore("models:/svc-restored@champion", tmp_path / "cache", on_alias_check=checks.append)
    assert store.refresh() and not store.refresh() and checks == ["unchanged"]
    configure_logging("info")  # its handler now writes where capsys reads
    backup = tmp_path / "backup.db"
    shutil.copy(database, backup)
    backup_client = MlflowClient(tracking_uri=f"sqlite:///{backup}", registry_uri=f"sqlite:///{backup}")
    backup_client.set_registered_model_alias("svc-restored", "champion", "2")
    os.replace(backup, database)
    assert store.refresh() and store.current is not None and store.current.ref.version == "2"
    away = tmp_path / "away.db"
    database.rename(away)
    assert not store.refresh() and checks[-1] == "failed" and store.current.ref.version == "2"
    logged = {line["event"]: line for line in json_lines(capsys.readouterr().out)}
    assert logged["store_replaced"]["store"] == str(database)
    assert logged["alias_check_failed"]["reason"] == MODEL_NOT_FOUND
    assert "no MLflow store there" in logged["alias_check_failed"]["error"]
    away.rename(database)
    assert not store.refresh() and checks[-1] == "unchanged"
