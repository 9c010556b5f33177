"""Codebooks: `labels/<label_set>.yaml`, the single source of truth for label names.

A codebook declares a label set (``topic``, ``frame``...), whether it is
multi-label, and for each label a description plus include/exclude guidance and
examples. Training, evaluation and the service read label names only from here.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import load_yaml
from training.errors import ConfigError

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class LabelDefinition:
    name: str
    description: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Codebook:
    name: str
    multi_label: bool
    labels: tuple[LabelDefinition, ...]
    description: str = ""
    sha256: str = ""
    source: str = field(default="", compare=False)

    @property
    def label_names(self) -> list[str]:
        return [label.name for label in self.labels]

    def to_dict(self) -> dict[str, Any]:
        """Plain data, as served by the API and stored in the model."""
        return {
            "name": self.name,
            "multi_label": self.multi_label,
            "description": self.description,
            "sha256": self.sha256,
            "labels": [
                {
                    "name": label.name,
                    "description": label.description,
                    "include": list(label.include),
                    "exclude": list(label.exclude),
                    "examples": list(label.examples),
                }
                for label in self.labels
            ],
        }


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def load_codebook(path: str | Path) -> Codebook:
    """Read and check one codebook file; errors name the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: codebook not found")
    raw = path.read_bytes()
    data = load_yaml(raw, path)  # a key given twice is an error naming file:line, not "last one wins"
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with 'name', 'multi_label' and 'labels'")
    name = data.get("name", path.stem)
    if name != path.stem:
        raise ConfigError(f"{path}: name '{name}' must match the file name '{path.stem}'")
    multi_label = data.get("multi_label")
    if not isinstance(multi_label, bool):
        raise ConfigError(f"{path}: 'multi_label' must be true or false")
    entries = data.get("labels")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: 'labels' must be a non-empty list")
    labels: list[LabelDefinition] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path}: labels[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping")
        label_name = entry.get("name")
        if not isinstance(label_name, str) or not SNAKE_CASE.match(label_name):
            raise ConfigError(f"{where}.name: '{label_name}' is not a snake_case name")
        if label_name in seen:
            raise ConfigError(f"{where}.name: duplicate label '{label_name}'")
        seen.add(label_name)
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            raise ConfigError(f"{where}.description: required")
        labels.append(
            LabelDefinition(
                name=label_name,
                description=description.strip(),
                include=_strings(entry.get("include"), f"{where}.include"),
                exclude=_strings(entry.get("exclude"), f"{where}.exclude"),
                examples=_strings(entry.get("examples"), f"{where}.examples"),
            )
        )
    if not multi_label and len(labels) < 2:
        raise ConfigError(f"{path}: a single-label set needs at least two labels")
    return Codebook(
        name=name,
        multi_label=multi_label,
        labels=tuple(labels),
        description=str(data.get("description") or "").strip(),
        sha256=hashlib.sha256(raw).hexdigest(),
        source=str(path),
    )


def codebook_names(labels_dir: str | Path) -> list[str]:
    """The label sets that have a codebook (``<name>.yaml``) in ``labels_dir``, sorted; [] if there is none."""
    return sorted(p.stem for p in Path(labels_dir).glob("*.yaml"))


def load_codebooks(labels_dir: str | Path, label_sets: list[str] | None = None) -> dict[str, Codebook]:
    """Load the named label sets (default: every ``*.yaml`` in ``labels_dir``)."""
    labels_dir = Path(labels_dir)
    if not labels_dir.is_dir():
        raise ConfigError(f"{labels_dir}: labels directory not found")
    if label_sets is None:
        label_sets = codebook_names(labels_dir)
        if not label_sets:
            raise ConfigError(f"{labels_dir}: no codebooks (<label_set>.yaml) found")
    return {name: load_codebook(labels_dir / f"{name}.yaml") for name in label_sets}


def check_label_columns(codebooks: dict[str, Codebook], label_columns: dict[str, str], labels_dir: str) -> None:
    """Every mapped label column (data.label_columns) needs its codebook: a mapping to a set that has none is
    a configuration mistake, said before any file is read. (A codebook whose column a file lacks is said by
    `training.labelled_csv` at that file's line 1, with every other problem of every file.)"""
    for name, column in label_columns.items():
        if name not in codebooks:
            raise ConfigError(
                f"column '{column}' is mapped to label set '{name}' (data.label_columns), "
                f"which has no codebook {Path(labels_dir) / (name + '.yaml')}"
            )


def codebooks_sha256(codebooks: dict[str, Codebook]) -> str:
    """One hash over all label sets, stable under dict order."""
    joined = "\n".join(f"{name}:{codebooks[name].sha256}" for name in sorted(codebooks))
    return hashlib.sha256(joined.encode()).hexdigest()


def codebook_from_dict(data: dict[str, Any]) -> Codebook:
    """Rebuild a `Codebook` from `Codebook.to_dict` output (as stored inside a model)."""
    return Codebook(
        name=data["name"],
        multi_label=data["multi_label"],
        description=data.get("description", ""),
        sha256=data.get("sha256", ""),
        labels=tuple(
            LabelDefinition(
                name=label["name"],
                description=label["description"],
                include=tuple(label.get("include", ())),
                exclude=tuple(label.get("exclude", ())),
                examples=tuple(label.get("examples", ())),
            )
            for label in data["labels"]
        ),
    )


def in_column_order(
    codebooks: dict[str, Codebook], header: list[str], label_columns: dict[str, str], first: str | None = None
) -> dict[str, Codebook]:
    """Discovered codebooks in a stable, meaningful order: ``first`` (the role set), then as their columns
    appear in ``header`` (``topic,frame`` as in the shipped CSVs), then any others by name."""

    def position(name: str) -> tuple[int, int, str]:
        column = label_columns.get(name, name)
        return (name != first, header.index(column) if column in header else len(header), name)

    return {name: codebooks[name] for name in sorted(codebooks, key=position)}


def closest_name(name: str, valid: Sequence[str], cutoff: float = 0.5) -> str | None:
    """The valid name most like ``name`` (case, spaces and hyphens aside; difflib ratio at least ``cutoff``)."""
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return next(iter(difflib.get_close_matches(key, list(valid), n=1, cutoff=cutoff)), None)


def did_you_mean(name: str, valid: Sequence[str]) -> str:
    """`` (did you mean 'promo'?)`` for a name close to a valid one, else ``""``: for a message about a file."""
    close = closest_name(name, valid)
    return f" (did you mean '{close}'?)" if close else ""


def unknown_name(kind: str, name: str, valid: Sequence[str]) -> str:
    """``unknown role 'bdy' (closest: 'body'; valid: ...)``: always names the closest, for a client to correct."""
    close = closest_name(name, valid, cutoff=0.0) or next(iter(valid), "")
    return f"unknown {kind} '{name}' (closest: '{close}'; valid: {', '.join(valid)})"
