"""The files of a saved model: the manifest, the digest, atomic writes, and the checks on reading.

A saved model is a directory of files named by ``manifest.json``, which holds the format and the sha256 of
every other file. The sha256 of the manifest itself is the model's digest (``bundle_sha256``, recorded as a
registry tag), so one trusted digest covers every file. `write_files` writes the files, then the manifest;
`verified_files` reads them back only after checking each one. What the files hold is `training.artifact`'s.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from training.errors import ModelIntegrityError, ModelLoadError

FORMAT = "topicframe-model"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
METADATA_FILE = "model.json"
ARRAYS_FILE = "arrays.npz"
LEGACY_FILE = "model.joblib"
# Files a manifest may list: nothing else is ever opened, whatever the manifest says.
_ALLOWED_FILE = re.compile(r"^(model\.json|arrays\.npz|classifiers/[A-Za-z0-9_.-]+\.skops)$")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def legacy_message(directory: Path) -> str:
    return (
        f"{directory}: a model saved by an older topicframe as a pickle ({LEGACY_FILE}), which is no longer "
        f"loaded (unpickling can run code); convert it once with `topicframe model convert {directory} "
        "--sha256 DIGEST --out NEW_DIR` (DIGEST: the sha256 of its model.joblib from a record you trust, "
        "e.g. the registry's bundle_sha256 tag) and serve NEW_DIR"
    )


def write_files(files: dict[str, bytes], directory: str | Path) -> str:
    """Write ``files`` (name -> content) and their manifest under ``directory``; return the manifest's sha256."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "files": {name: sha256_bytes(content) for name, content in sorted(files.items())},
    }
    manifest_bytes = json.dumps(manifest, indent=2).encode("utf-8")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        _write_atomically(directory / name, content)
    # The manifest last: a directory is a model only once every file it lists is complete.
    _write_atomically(directory / MANIFEST_FILE, manifest_bytes)
    return sha256_bytes(manifest_bytes)


def _write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(content)
    tmp.replace(path)  # never a half-written file under the real name


# Written by MLflow's own loaders into the model's directory (the store's copy itself, for a local store) when a
# models:/ URI is loaded: the registered name and version, YAML, never read as code. Left out of the digest, or
# one `mlflow.pyfunc.load_model("models:/...")` made every later check fail.
_WRITTEN_BY_MLFLOW_ON_LOAD = frozenset({"registered_model_meta"})


def directory_sha256(directory: str | Path) -> str:
    """One digest over every file under ``directory``: the sha256 of its sorted ``<sha256>  <path>`` lines.

    A logged MLflow model holds Python files that MLflow imports when it loads it (`training.pyfunc_check`);
    recorded in the registry, this digest is what they are checked against before anyone does. A symbolic
    link is refused: what it points to is outside the files the digest covers.
    """
    root = Path(directory)
    lines = []
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        if path.is_symlink():
            raise ModelIntegrityError(f"{path}: a symbolic link in a model directory")
        if path.parent == root and path.name in _WRITTEN_BY_MLFLOW_ON_LOAD:
            continue
        if path.is_file():
            lines.append(f"{sha256_bytes(path.read_bytes())}  {path.relative_to(root).as_posix()}\n")
    return sha256_bytes("".join(lines).encode("utf-8"))


def artifact_size(directory: str | Path) -> int:
    """Bytes of every file the manifest lists, the manifest included (the size logged as a metric)."""
    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    return (directory / MANIFEST_FILE).stat().st_size + sum((directory / f).stat().st_size for f in manifest["files"])


def verified_files(directory: str | Path, expected_sha256: str | None) -> dict[str, bytes]:
    """The content of every file the manifest lists, each checked: the manifest against ``expected_sha256``
    (from a trusted record), every other file against the manifest. Nothing is parsed before its check."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST_FILE
    if not manifest_path.is_file():
        if (directory / LEGACY_FILE).is_file():
            raise ModelIntegrityError(legacy_message(directory))
        raise ModelLoadError(f"{directory}: no model here ({MANIFEST_FILE} not found)")
    if not expected_sha256:
        raise ModelIntegrityError(
            f"{directory}: no trusted sha256 to check the model against; pass the bundle_sha256 recorded at "
            "training (TOPICFRAME_MODEL_SHA256 for the service, --model-sha256 for the CLI)"
        )
    manifest_bytes = manifest_path.read_bytes()
    actual = sha256_bytes(manifest_bytes)
    if actual != expected_sha256.strip().lower():  # a digest pasted in upper case is the same digest
        raise ModelIntegrityError(
            f"{manifest_path}: sha256 {actual[:12]}… does not match the trusted digest {expected_sha256[:12]}…; "
            "refusing to load it"
        )
    try:
        manifest = json.loads(manifest_bytes)
        files = manifest["files"]
        ok = manifest["format"] == FORMAT and isinstance(files, dict)
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ModelIntegrityError(f"{manifest_path}: not a {FORMAT} manifest (fields format, files)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{manifest_path}: format_version {manifest.get('format_version')!r}; this topicframe reads "
            f"{FORMAT_VERSION}: install the topicframe version that saved it"
        )
    content: dict[str, bytes] = {}
    for name, digest in files.items():
        if not isinstance(name, str) or not _ALLOWED_FILE.match(name):
            raise ModelIntegrityError(f"{manifest_path}: files.{name}: not a file of the {FORMAT} format")
        path = directory / name
        if not path.is_file():
            raise ModelIntegrityError(f"{path}: listed in {MANIFEST_FILE} but missing")
        data = path.read_bytes()
        if sha256_bytes(data) != digest:
            raise ModelIntegrityError(f"{path}: sha256 does not match files.{name} in {MANIFEST_FILE}")
        content[name] = data
    if METADATA_FILE not in content or ARRAYS_FILE not in content:
        raise ModelIntegrityError(f"{manifest_path}: files must list {METADATA_FILE} and {ARRAYS_FILE}")
    return content
