"""Errors the CLI turns into one clear line and a non-zero exit code."""


class TopicframeError(Exception):
    """Base class: anything a user can fix (bad data, bad config, bad model)."""


class ConfigError(TopicframeError):
    """A codebook or run config is malformed."""


class ModelLoadError(TopicframeError):
    """A model artifact is missing, tampered with, or built by another library version."""
