"""MLflow tracking store and model registry: where models are found, fetched and verified.

Model URIs: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION``, or a local
directory (an MLflow model directory or a saved bundle directory). For registry
models the sha256 recorded at training is read from the model version's tags in
the tracking store and checked before the artifact is unpickled.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import mlflow
import yaml
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.bundle import BUNDLE_FILE, ModelBundle, file_sha256, load_bundle
from training.config import DEFAULT_MODEL_NAME
from training.errors import ModelIntegrityError, ModelLoadError

MODEL_NAME = DEFAULT_MODEL_NAME  # the config's default `model_name`: one source for the name
CHAMPION_ALIAS = "champion"
DEFAULT_MODEL_URI = f"models:/{MODEL_NAME}@{CHAMPION_ALIAS}"
_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")
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


def use_tracking_store() -> MlflowClient:
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@dataclass(frozen=True)
class ModelRef:
    """Which model a URI points to, as reported by the CLI and the service."""

    uri: str
    name: str
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    bundle_sha256: str | None = None


def resolve_model(uri: str, client: MlflowClient | None = None) -> ModelRef:
    """Turn a model URI into a concrete registry version (or a local directory)."""
    match = _MODELS_URI.match(uri)
    if not match:
        path = Path(uri)
        if not path.is_dir():
            raise ModelLoadError(f"{uri}: not a models:/NAME@ALIAS or models:/NAME/VERSION URI nor a model directory")
        return ModelRef(uri=uri, name=path.name)
    client = client or use_tracking_store()
    name, alias, version = match["name"], match["alias"], match["version"]
    try:
        mv = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except MlflowException as exc:
        if alias and exc.error_code in _ALIAS_MISSING_CODES:
            if alias == CHAMPION_ALIAS:
                raise AliasNotSetError(f"{uri}: {no_champion_message(name)} (registry: {tracking_uri()})") from None
            missing = f"registered model '{name}' has no alias '{alias}' in {tracking_uri()}"
            raise AliasNotSetError(f"{uri}: {missing}") from None
        what = f"alias '{alias}'" if alias else f"version {version}"
        raise ModelLoadError(
            f"{uri}: registered model '{name}' has no {what} in {tracking_uri()} ({exc.error_code})"
        ) from None
    return ModelRef(
        uri=uri,
        name=name,
        version=str(mv.version),
        alias=alias,
        run_id=mv.run_id,
        bundle_sha256=(mv.tags or {}).get("bundle_sha256"),
    )


def _bundle_dir_in(model_dir: Path) -> tuple[Path, str | None]:
    """Locate the bundle inside an MLflow model directory (and its recorded digest)."""
    mlmodel = model_dir / "MLmodel"
    if mlmodel.is_file():
        meta = yaml.safe_load(mlmodel.read_text()) or {}
        config = (meta.get("flavors", {}).get("python_function", {}) or {}).get("model_config") or {}
        return model_dir / "artifacts" / "bundle", config.get("bundle_sha256")
    return model_dir, None


def fetch_bundle_dir(ref: ModelRef, cache_dir: Path | None = None) -> tuple[Path, str | None]:
    """Directory holding ``model.joblib`` for this ref, downloading into the cache if needed.

    Several processes share one cache (``--workers N`` starts N at once): a lock
    file per version makes them take turns, so one downloads and the others find
    its complete copy, instead of deleting or renaming over each other's.
    """
    if ref.version is None:
        return _bundle_dir_in(Path(ref.uri))
    if not ref.bundle_sha256:
        raise ModelIntegrityError(f"{ref.uri}: version {ref.version} has no bundle_sha256 tag; refusing to load it")
    cache_root = cache_dir or Path(tempfile.gettempdir()) / "topicframe-models"
    target = cache_root / ref.name / ref.version
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(f"{ref.version}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        cached, _ = _bundle_dir_in(target)
        if (cached / BUNDLE_FILE).is_file() and file_sha256(cached / BUNDLE_FILE) == ref.bundle_sha256:
            return cached, ref.bundle_sha256
        shutil.rmtree(target, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        try:
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{ref.name}/{ref.version}", dst_path=str(staging))
        except MlflowException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise ModelLoadError(f"{ref.uri}: could not download version {ref.version}: {exc.message}") from None
        staging.replace(target)  # the cache only ever holds complete downloads
    bundle_dir, _ = _bundle_dir_in(target)
    return bundle_dir, ref.bundle_sha256


def load_model(uri: str, cache_dir: Path | None = None) -> tuple[ModelBundle, ModelRef]:
    """Resolve, fetch and verify a model; the digest comes from the registry when there is one."""
    client = use_tracking_store() if _MODELS_URI.match(uri) else None
    ref = resolve_model(uri, client)
    bundle_dir, expected = fetch_bundle_dir(ref, cache_dir)
    return load_bundle(bundle_dir, expected_sha256=expected), ref
