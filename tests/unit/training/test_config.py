from pathlib import Path

import pytest

from training.config import flatten_params, load_config, parse_override
from training.errors import ConfigError


def test_defaults_flatten_to_stable_param_names() -> None:
    params = flatten_params(load_config())
    assert params["classifier.type"] == "logreg"
    assert params["vectorizer.word_ngram_range"] == "1,2"
    assert params["vectorizer.char_ngram_range"] == "2,5"
    assert params["data.label_sets"] == "role,topic,frame"
    assert params["context.neighbours"] == "0.6" and params["roles.content"] == "body,headline"


def test_unknown_key_is_named(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("classifier:\n  type: logreg\n  Cee: 2\n")
    with pytest.raises(ConfigError, match=r"run.yaml: classifier.Cee: unknown key"):
        load_config(path)


def test_bad_value_is_named(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("vectorizer:\n  word_ngram_range: [3, 1]\n")
    with pytest.raises(ConfigError, match="vectorizer"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"classifier.type"):
        load_config(None, {"classifier.type": "random_forest"})


def test_overrides_beat_the_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("classifier:\n  C: 3\n")
    config = load_config(
        path, dict([parse_override("classifier.C=0.5"), parse_override("vectorizer.char_ngram_range=[2,4]")])
    )
    assert config.classifier.C == 0.5
    assert config.vectorizer.char_ngram_range == (2, 4)


def test_shipped_default_yaml_is_the_built_in_default() -> None:
    """`topicframe train` and `topicframe train --config experiments/default.yaml` train the same model."""
    root = Path(__file__).resolve().parents[3]
    assert load_config(root / "experiments" / "default.yaml") == load_config()
