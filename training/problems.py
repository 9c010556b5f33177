"""A problem found in labelled data, with where it is, and the error that carries every one of them.

`training.dataset` reports problems; this module holds only their shape, so the helpers it uses can report
too without importing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from training.errors import TopicframeError


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.severity}: {self.message}"


def first_row_of_each_text(texts: Iterable[str], sources: Iterable[str]) -> dict[str, str]:
    """Each text's first row ("file:line"): what the leak check names a training paragraph by."""
    first: dict[str, str] = {}
    for text, source in zip(texts, sources, strict=True):
        first.setdefault(text, source)
    return first


class DataValidationError(TopicframeError):
    def __init__(self, problems: list[Problem], texts_read: dict[str, str] | None = None):
        self.problems = problems
        # Each text read (to the first row's "file:line"), rows with problems included: what the checks made
        # across files (a test paragraph seen in training) use, so that they are reported with the rest.
        self.texts_read = texts_read
        errors = [p for p in problems if p.severity == "error"]
        super().__init__(f"{len(errors)} problem(s) in the labelled data:\n" + "\n".join(map(str, errors)))
