"""Sweep files: a base run config plus named config keys to vary, expanded into validated trials.

```yaml
base_config: experiments/default.yaml   # or `base:` with a run config mapping inline
method: grid                            # grid | random (random needs `trials`)
metric: cv.topic.micro_f1               # maximised (minimised for losses, times and sizes)
parameters:                             # dotted RunConfig keys -> values to try
  classifier.C: [0.3, 1, 3, 10]
  vectorizer.word_ngram_range: [[1, 1], [1, 2]]
```
Random search draws from the lists (distinct combinations) or, for a mapping
``{low, high, log, integer}``, from a range. Every trial's config is validated
before any trial runs, so a bad value fails at once with the key named.
"""

from __future__ import annotations

import difflib
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from training.codebook import codebook_names, load_codebooks
from training.compare import DEFAULT_METRIC, MISCLASSIFIED_METRIC, TIMING_METRICS, describe
from training.config import RunConfig, config_from_mapping, config_keys, did_you_mean, read_mapping, shown_error
from training.errors import ConfigError
from training.machine import available_memory_mb, usable_cores

NOT_SWEPT = ("experiment", "model_name", "run_name")  # where and under what name: one per sweep


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Strict):
    """A continuous range for random search."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class SweepSpec(_Strict):
    name: str | None = None
    base: dict[str, Any] | None = None
    base_config: str | None = None
    method: Literal["grid", "random"] = "grid"
    trials: int | None = Field(None, ge=1, description="number of random trials")
    seed: int = Field(0, description="seed of the random sampler (trials use the base config's seed)")
    metric: str = DEFAULT_METRIC
    parameters: dict[str, list[Any] | Range] = Field(min_length=1)
    max_parallel: int | None = Field(None, ge=1)
    memory_per_trial_mb: int = Field(1024, ge=1, description="memory one trial may need; bounds the workers")

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        if self.base is not None and self.base_config is not None:
            raise ValueError("give either base or base_config, not both")
        for key, values in self.parameters.items():
            if isinstance(values, list) and not values:
                raise ValueError(f"parameters.{key}: needs at least one value")
            if isinstance(values, list):
                # A value listed twice would run (and log) the same trial twice, or skew a random draw toward it.
                # (1 and 1.0 are one value; True and 1 are not.)
                seen: list[tuple[bool, Any]] = []
                for value in values:
                    if (isinstance(value, bool), value) in seen:
                        raise ValueError(f"parameters.{key}: {value!r} is listed twice")
                    seen.append((isinstance(value, bool), value))
            if isinstance(values, Range) and self.method == "grid":
                raise ValueError(f"parameters.{key}: a range needs method: random (a grid needs a list)")
        if self.method == "random" and self.trials is None:
            raise ValueError("trials: required for method: random")
        if self.method == "grid" and self.trials is not None:
            raise ValueError("trials: only for method: random (a grid runs every combination)")
        return self


@dataclass
class Trial:
    index: int  # 1-based, the order of expansion
    values: dict[str, Any]  # swept key -> value of this trial
    config: RunConfig

    @property
    def described(self) -> str:
        """How errors name it: ``trial 2 (classifier.C=0, cv.folds=5)``."""
        return f"trial {self.index} (" + ", ".join(f"{k}={describe(v)}" for k, v in self.values.items()) + ")"

    @property
    def name(self) -> str:
        return f"t{self.index:02d}_" + "_".join(f"{k.rsplit('.', 1)[-1]}={describe(v)}" for k, v in self.values.items())


@dataclass
class Sweep:
    name: str
    path: Path
    spec: SweepSpec
    base: RunConfig
    trials: list[Trial]


def _explain(exc: ValidationError, origin: str) -> ConfigError:
    """Every key's problem on one line. A parameter's value is a list or a range (a union): for a range written
    wrongly pydantic also says the value is not a list, which would send the user the wrong way (`shown_error`)."""
    said: dict[str, str] = {}
    for error in exc.errors():
        key, shown = shown_error(exc, error, union_members=("Range",))
        if shown["type"] == "extra_forbidden":
            in_range = any("Range" in str(part) for part in shown["loc"])
            fields = Range.model_fields if in_range else SweepSpec.model_fields
            close = difflib.get_close_matches(str(shown["loc"][-1]), list(fields), n=1, cutoff=0.6)
            message = "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")
        else:
            message = shown["msg"].removeprefix("Value error, ")
        said.setdefault(key, f"{key or 'sweep'}: {message}")
    return ConfigError(f"{origin}: {'; '.join(said.values())}")


def _check_keys(spec: SweepSpec, origin: str) -> None:
    known = config_keys()
    for key in spec.parameters:
        if key in NOT_SWEPT:
            raise ConfigError(f"{origin}: parameters.{key}: cannot be swept (one per sweep)")
        if key not in known:
            raise ConfigError(f"{origin}: parameters.{key}: unknown config key{did_you_mean(key)}")


def _readable(value: float) -> float:
    return float(f"{value:.4g}")  # 4 significant digits: readable params and run names


def expand(spec: SweepSpec) -> list[dict[str, Any]]:
    """The swept values of every trial, in a deterministic order."""
    keys = list(spec.parameters)
    if spec.method == "grid":
        lists = [spec.parameters[k] for k in keys]
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*lists)]
    assert spec.trials is not None
    rng = np.random.default_rng(spec.seed)
    if all(isinstance(v, list) for v in spec.parameters.values()):
        sizes = [len(spec.parameters[k]) for k in keys]  # type: ignore[arg-type]
        total = math.prod(sizes)
        if spec.trials > total:
            raise ConfigError(f"trials: {spec.trials} exceeds the {total} distinct combinations (use method: grid)")
        picks = sorted(int(i) for i in rng.choice(total, size=spec.trials, replace=False))
        return [_combination(spec, keys, sizes, pick) for pick in picks]
    trials = []
    for _ in range(spec.trials):
        values: dict[str, Any] = {}
        for key in keys:
            choice = spec.parameters[key]
            if isinstance(choice, list):
                values[key] = choice[int(rng.integers(len(choice)))]
            elif choice.log:
                values[key] = _readable(math.exp(rng.uniform(math.log(choice.low), math.log(choice.high))))
            else:
                values[key] = _readable(rng.uniform(choice.low, choice.high))
            if isinstance(choice, Range) and choice.integer:
                values[key] = round(values[key])
        trials.append(values)
    return trials


def _combination(spec: SweepSpec, keys: list[str], sizes: list[int], index: int) -> dict[str, Any]:
    """The ``index``-th grid combination (mixed radix, last key fastest, as in the grid order)."""
    values = {}
    for key, size in zip(reversed(keys), reversed(sizes), strict=True):
        index, position = divmod(index, size)
        values[key] = spec.parameters[key][position]  # type: ignore[index]
    return {key: values[key] for key in keys}


def load_sweep(path: str | Path, overrides: dict[str, Any] | None = None) -> Sweep:
    """Read, validate and expand a sweep file; ``overrides`` (``--set``) apply to the base config."""
    path = Path(path)
    origin = str(path)
    try:
        spec = SweepSpec.model_validate(read_mapping(path))
    except ValidationError as exc:
        raise _explain(exc, origin) from None
    _check_keys(spec, origin)
    overrides = dict(overrides or {})
    for key in overrides:
        if key in spec.parameters:
            raise ConfigError(f"--set {key}: this key is swept by {origin}; change its values there")
    if spec.base_config is not None:
        base_data, base_origin = read_mapping(spec.base_config), spec.base_config
    else:
        base_data, base_origin = spec.base or {}, f"{origin}: base"
    base = config_from_mapping(base_data, overrides, base_origin, "--set")  # a bad --set value is named as such
    _check_metric(spec.metric, base, origin)
    try:
        combinations = expand(spec)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    trials = []
    for index, values in enumerate(combinations, start=1):
        shown = ", ".join(f"{k}={describe(v)}" for k, v in values.items())
        config = config_from_mapping(base_data, overrides | values, f"{origin}: trial {index} ({shown})")
        trials.append(Trial(index, values, config))
    return Sweep(spec.name or path.stem, path, spec, base, trials)


def _check_metric(metric: str, base: RunConfig, origin: str) -> None:
    if metric in TIMING_METRICS or metric == MISCLASSIFIED_METRIC:
        return
    label_set = metric.removeprefix("cv.").split(".", 1)[0]
    if not base.data.label_sets and not Path(base.data.labels_dir).is_dir():  # else "not a metric of label sets []"
        raise ConfigError(f"{origin}: data.labels_dir: {base.data.labels_dir}: labels directory not found")
    label_sets = base.data.label_sets or codebook_names(base.data.labels_dir)  # unset: the codebooks found
    if label_set not in label_sets or "." not in metric.removeprefix("cv."):
        raise ConfigError(
            f"{origin}: metric: '{metric}' is not a metric of label sets {label_sets} "
            "(e.g. cv.topic.micro_f1, frame.macro_f1, fit_seconds)"
        )
    # A typo in the statistic (micro_fl) was found only after the first trial, by a KeyError.
    import difflib

    from training.evaluation import PER_LABEL_STATS, SET_STATS  # scikit-learn: imported when a sweep is loaded

    stat, _, label = metric.removeprefix("cv.").split(".", 1)[1].partition(".")
    if label:
        labels = load_codebooks(base.data.labels_dir, [label_set])[label_set].label_names
        if stat not in PER_LABEL_STATS or label not in labels:
            raise ConfigError(
                f"{origin}: metric: '{metric}': a label's metric is {label_set}.<statistic>.<label> with the "
                f"statistic one of {', '.join(PER_LABEL_STATS)} and the label one of {', '.join(labels)}"
            )
    elif stat not in SET_STATS:
        close = difflib.get_close_matches(stat, SET_STATS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise ConfigError(
            f"{origin}: metric: '{metric}': unknown statistic '{stat}'{hint} (one of {', '.join(SET_STATS)})"
        )


def is_sweep_file(path: str | Path) -> bool:
    """Sweep files are recognised by their ``parameters`` section."""
    loaded = yaml.safe_load(Path(path).read_text())
    return isinstance(loaded, dict) and "parameters" in loaded


def worker_count(
    n_trials: int,
    max_parallel: int | None,
    memory_per_trial_mb: int,
    cores: int | None = None,
    available_mb: int | None = None,
) -> int:
    """min(cores, max_parallel, available memory // per-trial estimate, trials), at least 1."""
    cores = cores or usable_cores()
    available_mb = available_memory_mb() if available_mb is None else available_mb
    return max(1, min(cores, max_parallel or cores, available_mb // memory_per_trial_mb, n_trials))
