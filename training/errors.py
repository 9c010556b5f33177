"""Errors the CLI turns into one clear line and a non-zero exit code."""


class TopicframeError(Exception):
    """Base class: anything a user can fix (bad data, bad config, bad model)."""


class ConfigError(TopicframeError):
    """A codebook or run config is malformed."""


class TrainingDataError(TopicframeError):
    """Valid labelled data that cannot fit the model as configured (e.g. a single-label set with one label)."""


class ModelLoadError(TopicframeError):
    """A model artifact is missing, tampered with, or built by another library version."""


class StoreNotFoundError(ModelLoadError):
    """The embedded (SQLite) MLflow store a command or the service reads does not exist."""


class ModelDownloadError(ModelLoadError):
    """A registry version whose files could not be downloaded (missing from the artifact store, unreadable): the
    version and its alias exist, its files do not."""


class ModelIntegrityError(ModelLoadError):
    """An artifact that must not be unpickled here: no recorded sha256, a sha256 that differs from the
    one recorded at training, another scikit-learn version, or not a `ModelBundle`. Waiting will not
    fix it, unlike a registry that is down or an alias that is not set yet."""
