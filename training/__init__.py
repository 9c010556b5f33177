"""topicframe training: labelled CSVs + codebooks -> a validated, evaluated, registered `ModelBundle`.

Public API (everything else is private to the package):
"""

from training.bundle import ModelBundle, load_bundle
from training.classify import classify, split_paragraphs
from training.codebook import Codebook, load_codebook, load_codebooks
from training.config import RunConfig, load_config
from training.dataset import ColumnMap, DataValidationError, LabelledData, Problem, load_labelled_data
from training.errors import ConfigError, ModelIntegrityError, ModelLoadError, TopicframeError
from training.thresholds import tune_thresholds

__version__ = "0.1.0"

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
