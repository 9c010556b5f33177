"""A logged MLflow model checked, file by file, against the registry's record (`topicframe model verify`).

`mlflow.pyfunc.load_model` imports the Python files logged with a model (its ``code/`` copy of this package and
``mlflow_model.py``), so whoever can write to the artifact store could run code in the loading process. The
service and the CLI never load it that way: they read the pickle-free bundle, checked against ``bundle_sha256``.
For MLflow's own loaders (``spark_udf``, ``mlflow models serve``), training records ``pyfunc_sha256``, the
digest of every file of the logged model (`directory_sha256`), and `verify_logged_model` checks a fresh
download against it before handing the copy over.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from training.artifact_files import directory_sha256
from training.errors import ModelIntegrityError, TopicframeError
from training.registry import (
    ModelRef,
    download_version,
    existing_store_client,
    is_registry_uri,
    logged_model_location,
    resolve_model,
)

PYFUNC_SHA256_TAG = "pyfunc_sha256"


def logged_model_sha256(client: MlflowClient, model_id: str) -> str:
    """The digest of a logged model's files as the store holds them (read back, not as they were written)."""
    with tempfile.TemporaryDirectory(prefix="topicframe-pyfunc-") as staging:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=logged_model_location(client, model_id), dst_path=staging, tracking_uri=client.tracking_uri
        )
        return directory_sha256(local)


def verify_logged_model(uri: str, destination: Path | None = None, client: MlflowClient | None = None) -> ModelRef:
    """Download a registry version's MLflow model and check every file against its ``pyfunc_sha256`` tag.

    With ``destination`` (which must not exist) the checked copy is moved there, for
    ``mlflow.pyfunc.load_model(destination)``; nothing is written there when the check fails.
    """
    if not is_registry_uri(uri):
        raise TopicframeError(f"{uri}: not a models:/NAME@ALIAS or models:/NAME/VERSION URI")
    if destination is not None and destination.exists():
        raise TopicframeError(f"{destination}: already exists; give a new directory")
    client = client or existing_store_client()
    ref = resolve_model(uri, client)
    if not ref.pyfunc_sha256:
        raise ModelIntegrityError(
            f"{uri}: version {ref.version} has no {PYFUNC_SHA256_TAG} tag (logged before topicframe recorded one); "
            "train it again, or use only its checked bundle (`topicframe classify`, the service, `topicframe batch`)"
        )
    parent = destination.parent if destination is not None else None
    try:
        if parent is not None:
            parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=parent, prefix=".topicframe-verify-"))
    except OSError as err:  # named by the path given, not by the temporary one beside it
        raise TopicframeError(f"{destination}: cannot write there ({err.strerror})") from None
    try:
        local = download_version(client, ref, staging)
        actual = directory_sha256(local)
        if actual != ref.pyfunc_sha256:
            raise ModelIntegrityError(
                f"{uri}: version {ref.version}'s files do not match the registry's {PYFUNC_SHA256_TAG} "
                f"({actual[:12]}… against {ref.pyfunc_sha256[:12]}…): something changed them in the artifact "
                "store; do not load it"
            )
        if destination is not None:
            local.replace(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ref
