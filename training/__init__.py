"""topicframe training: labelled CSVs + codebooks -> a validated, evaluated, registered `ModelBundle`.

Public API (everything else is private to the package): the names in ``__all__``.

Importing the package imports none of them: each is imported from its module on
first use (PEP 562), so ``import training`` — and so ``topicframe --help`` — does
not pay for scikit-learn, pandas or MLflow.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.bundle import ModelBundle, load_bundle
    from training.classify import classify, split_paragraphs
    from training.codebook import Codebook, load_codebook, load_codebooks
    from training.config import RunConfig, load_config
    from training.dataset import ColumnMap, LabelledData, load_labelled_data
    from training.errors import ConfigError, ModelIntegrityError, ModelLoadError, TopicframeError
    from training.problems import DataValidationError, Problem
    from training.thresholds import tune_thresholds

_EXPORTS = {
    "ModelBundle": "training.bundle",
    "load_bundle": "training.bundle",
    "classify": "training.classify",
    "split_paragraphs": "training.classify",
    "Codebook": "training.codebook",
    "load_codebook": "training.codebook",
    "load_codebooks": "training.codebook",
    "RunConfig": "training.config",
    "load_config": "training.config",
    "ColumnMap": "training.dataset",
    "DataValidationError": "training.problems",
    "LabelledData": "training.dataset",
    "Problem": "training.problems",
    "load_labelled_data": "training.dataset",
    "ConfigError": "training.errors",
    "ModelIntegrityError": "training.errors",
    "ModelLoadError": "training.errors",
    "TopicframeError": "training.errors",
    "tune_thresholds": "training.thresholds",
}

__all__ = [
    "Codebook",
    "ColumnMap",
    "ConfigError",
    "DataValidationError",
    "LabelledData",
    "ModelBundle",
    "ModelIntegrityError",
    "ModelLoadError",
    "Problem",
    "RunConfig",
    "TopicframeError",
    "classify",
    "load_bundle",
    "load_codebook",
    "load_codebooks",
    "load_config",
    "load_labelled_data",
    "split_paragraphs",
    "tune_thresholds",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value: Any = version("topicframe")
        except PackageNotFoundError:  # a source tree that was never installed
            value = "0+unknown"
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        # AttributeError (not ImportError) lets `from training import submodule` fall back to importing it.
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value  # cached: __getattr__ is only called for names not found
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS, "__version__"})


class _Package(types.ModuleType):
    """Keeps a public name that is also a submodule's name (``classify``) bound to the function.

    Importing ``training.classify`` makes the import system set the package attribute
    ``classify`` to that submodule; the eager ``from training.classify import classify``
    used to rebind it right after. Here the binding is skipped instead, so
    ``training.classify`` stays the function, whenever the submodule gets imported.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _EXPORTS and isinstance(value, types.ModuleType) and value.__name__ == f"{__name__}.{name}":
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
