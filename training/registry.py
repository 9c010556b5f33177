"""MLflow tracking store and model registry: where models are found, fetched and verified.

Model URIs: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, or a local
directory (an MLflow model directory or a saved bundle directory). For registry
models the digest recorded at training (the ``bundle_sha256`` tag: the sha256 of the
model's manifest, which lists every file's sha256) is read from the model version in the
tracking store; for a local directory the operator passes it. Every file is checked
against it before it is read (`training.artifact`).

Nothing here sets MLflow's process-wide tracking URI: one `MlflowClient` (`tracking_client`)
is passed through resolving and downloading. `use_tracking_store` remains for the training
commands, whose `mlflow.start_run`/`log_model` only read the process-wide URI.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.artifact_files import MANIFEST_FILE, sha256_bytes
from training.bundle import ModelBundle, load_bundle
from training.config import DEFAULT_MODEL_NAME, load_config
from training.errors import ModelDownloadError, ModelIntegrityError, ModelLoadError, StoreNotFoundError
from training.sqlite_store import sqlite_file

MODEL_NAME = DEFAULT_MODEL_NAME  # the config's default `model_name`: one source for the name
CHAMPION_ALIAS = "champion"
DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
_SHA256 = re.compile(r"[0-9a-f]{64}")  # a bundle_sha256 tag as `save` writes it
# Copies of one model kept in the download cache: the one just fetched and the two used before it, so a rollback
# or a hot reload back to the previous version needs no download, and a retrained-daily model does not fill the disk.
CACHE_COPIES_KEPT = 3
_STAGING = ".download-"  # a download in progress, never pruned
# What a registry answers when the alias is not set, or when no model of that name is registered at all.
_ALIAS_MISSING_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class AliasNotSetError(ModelLoadError):
    """The registry answered, and no version of the model has this alias (yet)."""


def no_champion_message(name: str) -> str:
    """What is wrong and the fix, in one line: the first trained model becomes champion."""
    if name == MODEL_NAME:
        train, promote = "topicframe train", "topicframe promote VERSION"
    else:
        train, promote = f"topicframe train --set model_name={name}", f"topicframe promote VERSION --name {name}"
    return (
        f"no model has the alias '{CHAMPION_ALIAS}' yet: run `{train}` (the first model becomes champion) "
        f"or `{promote}`"
    )


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` or the embedded SQLite store in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


_URL_PASSWORD = re.compile(r"//([^/:@\s]+):[^@\s/]+@")


def hide_passwords(text: str) -> str:
    """``text`` (an address, or a message quoting one) with the password of every ``user:password@`` hidden: a
    registry's address is shown in errors (also by the service's public /readyz), its credentials never."""
    return _URL_PASSWORD.sub(r"//\1:***@", text)


def tracking_client(uri: str | None = None) -> MlflowClient:
    """A client of the tracking store and registry at ``uri`` (default: `tracking_uri()`); no global state."""
    uri = uri or tracking_uri()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def existing_store_client(uri: str | None = None) -> MlflowClient:
    """A client for commands that read a store: an embedded store whose file does not exist is an error.

    MLflow creates a missing SQLite file on first use, so a mistyped path read as an empty store and the
    command said "no champion yet", hiding the typo. Training creates the store (`use_tracking_store`). The
    service waits for it (it made the file itself, and a service stopped during MLflow's first migration left a
    half-made store that no later start could read).
    """
    uri = uri or tracking_uri()
    database = sqlite_file(uri)
    if database is not None and not database.is_file():
        raise StoreNotFoundError(
            f"{hide_passwords(uri)}: no MLflow store there ({database} does not exist): check MLFLOW_TRACKING_URI, "
            "or run `topicframe train`, which creates it"
        )
    return tracking_client(uri)


def reopen_sqlite_store(database: Path) -> None:
    """Drop the pooled connections MLflow holds to an embedded store's file, so the next query opens the file
    now at that path.

    MLflow keeps one SQLAlchemy engine per database URI for the life of the process (class-level maps of its
    SQL stores), and an open SQLite connection keeps reading the file it opened: a store restored from a backup,
    or replaced with `mv`, was never seen by a running service. `Engine.dispose` replaces the pool; connections
    in use finish on the old file.
    """
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    for store in (RegistryStore, TrackingStore):
        # A private map of MLflow's: if a release renames it, nothing is disposed here and the service test of a
        # replaced store fails (tests/unit/service/test_model_store.py), rather than every alias check.
        for engine in list(getattr(store, "_engine_map", {}).values()):
            if engine.url.database and Path(engine.url.database).resolve() == database:
                engine.dispose()


def _store_of(uri: str) -> MlflowClient:
    """The existing store a ``models:/`` URI is read from; its absence is reported with the URI."""
    try:
        return existing_store_client()
    except ModelLoadError as err:
        raise ModelLoadError(f"{uri}: {err}") from None


def use_tracking_store(create: bool = True) -> MlflowClient:
    """Set MLflow's process-wide tracking and registry URIs and return a client of that store.

    Only for code that logs through the fluent API (`mlflow.start_run`, `log_model`, `register_model`),
    which reads nothing else; loading and resolving models take a client instead. ``create=False``: for
    commands that change an existing store (promotion), a missing embedded store is an error.
    """
    client = tracking_client() if create else existing_store_client()
    mlflow.set_tracking_uri(client.tracking_uri)
    mlflow.set_registry_uri(client.tracking_uri)
    return client


@dataclass(frozen=True)
class ModelRef:
    """Which model a URI points to, as reported by the CLI and the service."""

    uri: str
    name: str
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    bundle_sha256: str | None = None
    pyfunc_sha256: str | None = None  # every file of the logged MLflow model (`training.pyfunc_check`)

    @property
    def described(self) -> str:
        """How the CLI names it: a registered version, or the directory it was read from."""
        if self.version is None:
            return f"model in {self.uri} (a directory, not a registered version)"
        return f"model {self.name} version {self.version}" + (f" (@{self.alias})" if self.alias else "")


def is_registry_uri(uri: str) -> bool:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` (anything else is read as a local directory)."""
    return _MODELS_URI.match(uri) is not None


def resolve_model(uri: str, client: MlflowClient | None = None) -> ModelRef:
    """Turn a model URI into a concrete registry version (or a local directory)."""
    match = _MODELS_URI.match(uri)
    if not match:
        path = Path(uri)
        if not path.is_dir():
            raise ModelLoadError(f"{uri}: not a models:/NAME@ALIAS or models:/NAME/VERSION URI nor a model directory")
        return ModelRef(uri=uri, name=path.name)
    client = client or _store_of(uri)
    store = hide_passwords(client.tracking_uri)
    name, alias, version = match["name"], match["alias"], match["version"]
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except MlflowException as exc:
        if alias and exc.error_code in _ALIAS_MISSING_CODES:
            if alias == CHAMPION_ALIAS:
                raise AliasNotSetError(f"{uri}: {no_champion_message(name)} (registry: {store})") from None
            missing = f"registered model '{name}' has no alias '{alias}' in {store}"
            raise AliasNotSetError(f"{uri}: {missing}") from None
        what = f"alias '{alias}'" if alias else f"version {version}"
        if exc.error_code not in _ALIAS_MISSING_CODES:  # not an answer about the model: the registry failed
            # (a registry that cannot be reached reads as INTERNAL_ERROR after MLflow's retries)
            detail = hide_passwords(str(exc.message).splitlines()[0])[:300]
            raise ModelLoadError(f"{uri}: could not ask the registry at {store} for {what}: {detail}") from None
        raise ModelLoadError(f"{uri}: registered model '{name}' has no {what} in {store} ({exc.error_code})") from None
    return ModelRef(
        uri=uri,
        name=name,
        version=str(mv.version),
        alias=alias,
        run_id=mv.run_id,
        bundle_sha256=(mv.tags or {}).get("bundle_sha256"),
        pyfunc_sha256=(mv.tags or {}).get("pyfunc_sha256"),
    )


def bundle_dir_in(model_dir: Path) -> Path:
    """The saved model inside an MLflow model directory (its pyfunc's ``bundle`` artifact), or the directory.

    The MLmodel file only says where the files are; the digest in it is not used: it sits beside the
    files it would vouch for.
    """
    mlmodel = model_dir / "MLmodel"
    if not mlmodel.is_file():
        return model_dir
    try:
        meta = yaml.safe_load(mlmodel.read_text()) or {}
        relative = meta["flavors"]["python_function"]["artifacts"]["bundle"]["path"]
    except (yaml.YAMLError, KeyError, TypeError):
        relative = "artifacts/bundle"
    located = (model_dir / str(relative)).resolve()
    if not located.is_relative_to(model_dir.resolve()):
        raise ModelIntegrityError(f"{mlmodel}: the bundle artifact's path {relative!r} leaves the model directory")
    return located


def _manifest_matches(directory: Path, sha256: str) -> bool:
    manifest = directory / MANIFEST_FILE
    return manifest.is_file() and sha256_bytes(manifest.read_bytes()) == sha256


def _download_uri(client: MlflowClient, ref: ModelRef) -> str:
    """Where the version's files are, asked of ``client``'s registry.

    Not ``models:/NAME/VERSION``: MLflow resolves that through its process-wide registry URI,
    whatever registry URI the download is given.
    """
    assert ref.version is not None
    uri = client.get_model_version_download_uri(ref.name, ref.version)
    if uri.startswith("models:/"):  # a logged model (MLflow 3): its own artifact location
        return logged_model_location(client, uri.removeprefix("models:/"))
    return _store_relative(uri, client.tracking_uri)


def logged_model_location(client: MlflowClient, model_id: str) -> str:
    """Where a logged model's files are (MLflow 3's ``m-...`` id), readable from any working directory."""
    return _store_relative(client.get_logged_model(model_id).artifact_location, client.tracking_uri)


def download_version(client: MlflowClient, ref: ModelRef, destination: Path) -> Path:
    """A registry version's whole MLflow model directory, downloaded to ``destination`` (which must not exist)."""
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=_download_uri(client, ref), dst_path=str(destination), tracking_uri=client.tracking_uri
        )
    except MlflowException as exc:
        # MLflow lists each failed file on its own line after a header ending in ":": one line, all of it.
        detail = " ".join(str(exc.message).split())[:1000]
        raise ModelDownloadError(f"{ref.uri}: could not download version {ref.version}: {detail}") from None
    return Path(local)


def _store_relative(uri: str, tracking_uri: str) -> str:
    """A relative artifact path read from the embedded store, made absolute against the store's own folder.

    The embedded store records ``mlartifacts/<id>`` relative to its folder (`tracking.ensure_experiment`), so
    that the project folder can move. MLflow would resolve it against the reader's working directory, and a
    reader elsewhere (``MLFLOW_TRACKING_URI=sqlite:////abs/mlflow.db`` from another folder) would find nothing.
    """
    database = sqlite_file(tracking_uri)
    if "://" in uri or uri.startswith("/") or database is None:
        return uri
    return str(database.parent / uri)


def fetch_bundle_dir(ref: ModelRef, cache_dir: Path | None = None, client: MlflowClient | None = None) -> Path:
    """The saved model's directory for a registry version, downloaded into the cache if needed.

    Several processes share one cache (``--workers N`` starts N at once): a lock
    file per copy makes them take turns, so one downloads and the others find
    its complete copy, instead of deleting or renaming over each other's. A copy
    is named by the version and its digest: two stores that both hold version 1
    of a model (two project folders, a test store beside production) each get
    their own, so neither download replaces files another process is about to
    read. A cached copy is reused when its manifest matches the registry's
    digest; `load_bundle` then checks every file against that manifest. After a
    download, copies of the same model beyond the `CACHE_COPIES_KEPT` most
    recently used are deleted (`_prune_copies`).
    """
    if ref.version is None:
        return bundle_dir_in(Path(ref.uri))
    if not ref.bundle_sha256:
        raise ModelIntegrityError(f"{ref.uri}: version {ref.version} has no bundle_sha256 tag; refusing to load it")
    if not _SHA256.fullmatch(ref.bundle_sha256):  # it names a directory below: no path of the registry's choosing
        raise ModelIntegrityError(
            f"{ref.uri}: version {ref.version}'s bundle_sha256 tag {ref.bundle_sha256[:80]!r} is not a sha256 digest"
        )
    client = client or tracking_client()
    target = _cached_copy(ref, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f"{target.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if _manifest_matches(bundle_dir_in(target), ref.bundle_sha256):
            _mark_used(target)  # most recently used: the last copy pruning would take
            return bundle_dir_in(target)
        shutil.rmtree(target, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=_STAGING))
        try:
            local = download_version(client, ref, staging)
        except ModelLoadError:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        local.replace(target)  # the cache only ever holds complete downloads
        shutil.rmtree(staging, ignore_errors=True)  # what is left of it when the download is a subdirectory
        _mark_used(target)
    _prune_copies(target.parent)
    return bundle_dir_in(target)


def default_cache_dir() -> Path:
    """Where registry downloads are cached when no directory is given: ``TOPICFRAME_MODEL_CACHE_DIR`` (the
    service's setting, so the CLI, batch and the service share one cache), else a directory in the temp dir."""
    configured = os.environ.get("TOPICFRAME_MODEL_CACHE_DIR", "").strip()
    return Path(configured).expanduser() if configured else Path(tempfile.gettempdir()) / "topicframe-models"


def _cached_copy(ref: ModelRef, cache_dir: Path | None) -> Path:
    cache_root = cache_dir or default_cache_dir()
    return cache_root / ref.name / f"{ref.version}-{str(ref.bundle_sha256)[:16]}"


def _discard_cached_copy(ref: ModelRef, cache_dir: Path | None) -> None:
    """Delete a registry version's cached copy (under its lock), so that the next load downloads it again."""
    target = _cached_copy(ref, cache_dir)
    if not target.parent.is_dir():
        return
    with open(target.with_name(f"{target.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(target, ignore_errors=True)


def _mark_used(copy: Path) -> None:
    # An explicit time: "now" as the kernel stamps it comes from a coarse clock (milliseconds), and two uses
    # of the cache within one tick would tie.
    now = time.time_ns()
    os.utime(copy, ns=(now, now))


def _prune_copies(model_dir: Path, keep: int = CACHE_COPIES_KEPT) -> list[Path]:
    """Delete the cached copies of one model beyond the ``keep`` most recently used; return those deleted.

    A copy whose lock another process holds (it is downloading or checking that copy) is left for a later
    prune, and so are downloads still in their staging directory. Lock files stay: deleting one that another
    process is waiting on would let a third process lock a new file of the same name beside it. A process
    serving a deleted copy is not affected: `load_bundle` reads every file into memory.
    """
    copies = [path for path in model_dir.iterdir() if path.is_dir() and not path.name.startswith(_STAGING)]
    copies.sort(key=lambda path: path.stat().st_mtime_ns, reverse=True)
    deleted = []
    for copy in copies[keep:]:
        with open(copy.with_name(f"{copy.name}.lock"), "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            shutil.rmtree(copy, ignore_errors=True)
            deleted.append(copy)
    return deleted


def load_model(
    uri: str,
    cache_dir: Path | None = None,
    expected_sha256: str | None = None,
    client: MlflowClient | None = None,
) -> tuple[ModelBundle, ModelRef]:
    """Resolve, fetch and verify a model.

    The digest comes from the registry for a ``models:/`` URI (``client``: default `tracking_client()`),
    and from ``expected_sha256`` (the operator's) for a local directory, which is refused without one.
    """
    if is_registry_uri(uri):
        client = client or _store_of(uri)
        ref = resolve_model(uri, client)
        expected = ref.bundle_sha256
        if expected_sha256 and expected_sha256.strip().lower() != expected:
            raise ModelIntegrityError(
                f"{uri}: the registry records bundle_sha256 {str(expected)[:12]}…, not the {expected_sha256[:12]}… "
                "given; refusing to load it"
            )
    else:
        ref = resolve_model(uri)
        expected = expected_sha256
    bundle_dir = fetch_bundle_dir(ref, cache_dir, client)
    try:
        bundle = load_bundle(bundle_dir, expected_sha256=expected)
    except ModelIntegrityError as failed:
        if ref.version is None:  # a local directory: the operator's files, never deleted here
            raise
        # A cached copy that fails its check is never used again (it kept a service refusing a store that had
        # been mended): one fresh download, and the check decides; a copy that fails again is not kept either.
        # Said in the log: a disk that corrupts files should not be mended in silence.
        logging.getLogger("topicframe.registry").warning(
            "a cached model copy failed its check: downloading it again",
            extra={"fields": {"event": "cached_copy_discarded", "model_uri": uri, "error": str(failed)}},
        )
        _discard_cached_copy(ref, cache_dir)
        try:
            bundle = load_bundle(fetch_bundle_dir(ref, cache_dir, client), expected_sha256=expected)
        except ModelIntegrityError:
            _discard_cached_copy(ref, cache_dir)
            raise
        except ModelLoadError as again:  # the check's failure is the news; the retry's is a footnote
            raise ModelIntegrityError(
                f"{failed} (the copy was deleted; downloading it again failed: {again})"
            ) from None
    return bundle, replace(ref, bundle_sha256=expected)


def champion_uri(config: Path | None) -> str:
    """``models:/NAME@champion`` for the config's ``model_name`` (the default config when none is given)."""
    return f"models:/{load_config(config).model_name}@{CHAMPION_ALIAS}"
