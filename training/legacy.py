"""Models saved by older topicframe code as a joblib pickle: the one place that still unpickles.

The service and `load_bundle` refuse such a model (`training.artifact_files.legacy_message` names the fix);
`convert_legacy` (``topicframe model convert``) rewrites one in the pickle-free format after the operator
vouches for the pickle by its sha256, checked before anything is unpickled.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from training.artifact import write_artifact
from training.artifact_files import LEGACY_FILE
from training.errors import ModelIntegrityError, ModelLoadError


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_legacy(old: str | Path, sha256: str, out: str | Path) -> str:
    """Rewrite a joblib-pickled model in this format; return the new digest.

    The operator vouches for the pickle by its sha256 (from a record they trust): it is checked before
    anything is unpickled, and this is the one place that still unpickles.
    """
    from training.bundle import ModelBundle

    old = Path(old)
    file = old / LEGACY_FILE if old.is_dir() else old
    if not file.is_file():
        raise ModelLoadError(f"{file}: not found (expected an old model directory holding {LEGACY_FILE})")
    actual = file_sha256(file)
    if actual != sha256.strip().lower():
        raise ModelIntegrityError(
            f"{file}: sha256 {actual[:12]}… does not match the --sha256 given ({sha256[:12]}…); not unpickling it"
        )
    import joblib

    try:
        bundle = joblib.load(file)
    except Exception as exc:  # vouched for, yet not a pickle this code reads: one line, not a traceback
        raise ModelIntegrityError(
            f"{file}: could not be read as a pickled model ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    if not isinstance(bundle, ModelBundle):
        raise ModelIntegrityError(f"{file}: not a topicframe ModelBundle")
    return write_artifact(bundle, out)


def pre_roles_config(old: Any) -> Any:
    """The config of a model saved before roles existed, completed with what that model did: no role set,
    no context blocks, no cap on labels (today's defaults would switch them on for a model not fitted so)."""

    def plain(value: Any) -> Any:
        # An unpickled pydantic model of an older schema lacks the new fields, so read its __dict__.
        return {k: plain(v) for k, v in vars(value).items()} if hasattr(value, "model_fields") else value

    data = plain(old)
    data["context"] = {"neighbours": 0.0, "headline": 0.0, "article": 0.0}
    data["decision"] = {"max_labels": None, "relative_to_top": 0.0}
    from training.config import RunConfig

    return RunConfig.model_validate(data)
