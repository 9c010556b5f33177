"""A correction checked against the served model's codebooks: every problem, each with its field path.

The service calls `check_labels` on a request's ``labels`` and ``role``; what it returns
is either the labels in codebook order (duplicates dropped) or a list of problems,
each naming the field (``["body", "labels", "topic", 0]``) and, for an unknown name,
the closest valid one (difflib).

The rules are the training data's (training/dataset.py, training/train.py), so that
an exported correction always passes `topicframe train`'s validation:
every content label set of the model is given (``[]`` for none: a set left out would
be exported as "no labels"), a single-label set has exactly one label, and a
paragraph whose role is not a content role (a caption, a byline) carries none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from training.codebook import unknown_name

Loc = list[str | int]


@dataclass(frozen=True)
class LabelRules:
    """What a correction is checked against: the model's label sets, its role set and its content roles."""

    label_names: dict[str, list[str]]
    multi_label: dict[str, bool]
    role_set: str | None
    content_roles: list[str]

    @classmethod
    def of(cls, bundle: Any) -> LabelRules:
        """The rules of a `training.bundle.ModelBundle`."""
        return cls(
            label_names=dict(bundle.label_names),
            multi_label=dict(bundle.multi_label),
            role_set=bundle.role_set,
            content_roles=list(bundle.config.roles.content),
        )

    @property
    def content_sets(self) -> list[str]:
        return [name for name in self.label_names if name != self.role_set]


def check_labels(
    labels: dict[str, list[str]], role: str | None, rules: LabelRules
) -> tuple[dict[str, list[str]], list[tuple[Loc, str]]]:
    """``labels`` and ``role`` checked against ``rules``: (labels in codebook order, problems)."""
    problems: list[tuple[Loc, str]] = []
    content_sets = rules.content_sets
    unknown_role = False
    if role is not None and rules.role_set is not None:
        roles = rules.label_names[rules.role_set]
        if role not in roles:
            problems.append((["body", "role"], unknown_name(f"{rules.role_set}", role, roles)))
            unknown_role = True  # its labels cannot be judged against a role it does not have
    is_content = role is None or rules.role_set is None or role in rules.content_roles
    cleaned: dict[str, list[str]] = {}
    for name, given in labels.items():
        if name == rules.role_set:
            problems.append(
                (["body", "labels", name], f"'{name}' is the paragraph's role: send it in the 'role' field")
            )
            continue
        if name not in content_sets:
            problems.append((["body", "labels", name], unknown_name("label set", name, content_sets)))
            continue
        valid = rules.label_names[name]
        kept: list[str] = []
        for index, label in enumerate(given):
            if label not in valid:
                problems.append((["body", "labels", name, index], unknown_name(f"{name} label", label, valid)))
            elif label not in kept:
                kept.append(label)
        if len(kept) != len(set(given)):
            continue  # unknown labels reported above
        if kept and not is_content and not unknown_role:
            problems.append(
                (
                    ["body", "labels", name],
                    f"a '{role}' paragraph carries no {name} labels (only {', '.join(rules.content_roles)} do): "
                    "send [] or leave the set out",
                )
            )
        elif is_content and not rules.multi_label[name] and len(kept) != 1:
            problems.append((["body", "labels", name], f"'{name}' is single-label: give exactly one label"))
        cleaned[name] = sorted(kept, key=valid.index)
    if is_content:
        for name in content_sets:
            if name not in labels:
                problems.append(
                    (
                        ["body", "labels"],
                        f"missing label set '{name}': give every label set of the model ({', '.join(content_sets)}), "
                        "[] for none (a set left out would be retrained as 'no labels')",
                    )
                )
    else:
        cleaned = {name: [] for name in content_sets}
    return cleaned, problems
