"""Every shipped run config loads against the schema (sweep files are checked in test_sweep.py)."""

from pathlib import Path

import pytest

from tests.conftest import ROOT
from training.config import load_config
from training.sweep import is_sweep_file

CONFIGS = sorted(p for p in (ROOT / "experiments").glob("*.yaml") if not is_sweep_file(p))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_config_is_valid(path: Path) -> None:
    load_config(path)


def test_default_config_is_the_built_in_default() -> None:
    assert load_config(ROOT / "experiments" / "default.yaml") == load_config()
