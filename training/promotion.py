"""Promotion: move the ``champion`` alias only to a model that beats the current champion.

Both models are scored on the *same* test data (the candidate run's logged
``data/test.csv``), on the promotion metric: ``topic.micro_f1`` (or the first
label set's micro-F1 when there is no ``topic`` set). The candidate must beat the
champion on it by more than ``promotion.min_gain`` and may lose at most
``promotion.max_regression`` of micro-F1 on any other label set. The first model
trained into a registry without a champion becomes champion
(:func:`claim_first_champion`). Every move of the alias pushes the version it
leaves onto the registered model's ``champion.history`` tag, which
:func:`rollback` pops.
"""

from __future__ import annotations

import csv
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from training.bundle import ModelBundle
from training.compare import held_out_from_own_files
from training.dataset import LabelledData
from training.errors import TopicframeError
from training.registry import (
    CHAMPION_ALIAS,
    MODEL_NAME,
    AliasNotSetError,
    ModelRef,
    load_model,
    resolve_model,
    use_tracking_store,
)
from training.train import evaluate

logger = logging.getLogger(__name__)
PROMOTION_TAG = "promotion"  # model version tag: why the version became champion
HISTORY_TAG = "champion.history"  # registered-model tag: earlier champions, oldest first ("1,3,4")


@dataclass
class PromotionResult:
    promoted: bool
    metric: str
    candidate_version: str
    candidate_score: float
    champion_version: str | None = None
    champion_score: float | None = None
    per_label: list[tuple[str, float | None, float]] = field(default_factory=list)  # label, champion, candidate
    reason: str = ""
    # Every label set's micro-F1 on the same test data: set -> (champion, candidate).
    per_set: dict[str, tuple[float | None, float]] = field(default_factory=dict)
    caveat: str = ""  # why the comparison may not be on data neither model was trained on


def promotion_metric(bundle: ModelBundle) -> str:
    return "topic" if "topic" in bundle.label_sets else bundle.label_sets[0]


def records_to_data(records: list[dict[str, str]], bundle: ModelBundle) -> LabelledData:
    """The logged test records as data for ``bundle``: its label sets that have a column there (a candidate
    trained without roles logs no role column; a champion with roles is then judged on its other sets)."""
    columns = set(records[0]) if records else set()
    labels = {
        name: [tuple(x for x in (r.get(name) or "").split(";") if x in names) for r in records]
        for name, names in bundle.label_names.items()
        if name in columns
    }
    return LabelledData(
        texts=[r["text"] for r in records],
        labels=labels,
        ids=[r.get("id", "") for r in records],
        article_ids=[r.get("article_id") or None for r in records],
        splits=[None] * len(records),
        sources=[f"test.csv:{i + 2}" for i in range(len(records))],
    )


def compare_models(
    candidate: ModelBundle,
    champion: ModelBundle,
    test_records: list[dict[str, str]],
    min_gain: float = 0.0,
    max_regression: float = 0.01,
) -> PromotionResult:
    """Score both models on the same records; promoted when the primary metric gains more than
    ``min_gain`` and no other label set's micro-F1 drops by more than ``max_regression``."""
    label_set = promotion_metric(candidate)
    cand_reports = evaluate(candidate, records_to_data(test_records, candidate)).reports
    champ_reports = evaluate(champion, records_to_data(test_records, champion)).reports
    cand, champ = cand_reports[label_set], champ_reports.get(label_set)
    per_label = [
        (label, champ["per_label"].get(label, {}).get("f1") if champ else None, row["f1"])
        for label, row in cand["per_label"].items()
    ]
    per_set = {
        name: (champ_reports[name]["micro_f1"] if name in champ_reports else None, report["micro_f1"])
        for name, report in cand_reports.items()
    }
    champ_score = champ["micro_f1"] if champ else 0.0
    promoted, reason = verdict(label_set, per_set, min_gain, max_regression)
    return PromotionResult(
        promoted=promoted,
        metric=f"{label_set}.micro_f1",
        candidate_version="",
        candidate_score=cand["micro_f1"],
        champion_score=champ_score,
        per_label=per_label,
        reason=reason,
        per_set=per_set,
    )


def verdict(
    primary: str, per_set: dict[str, tuple[float | None, float]], min_gain: float, max_regression: float
) -> tuple[bool, str]:
    """Whether the candidate wins, and why: ``per_set`` maps each label set to (champion, candidate) micro-F1."""
    old_primary, new_primary = per_set[primary]
    gain = new_primary - (old_primary or 0.0)
    regressions = [
        f"{name}.micro_f1 {old:.4f} -> {new:.4f} ({new - old:+.4f}, more than the {max_regression:g} allowed)"
        for name, (old, new) in per_set.items()
        if name != primary and old is not None and old - new > max_regression + 1e-12
    ]
    if gain <= min_gain:
        needed = f"more than {min_gain:g}" if min_gain else "a gain"
        return False, f"candidate does not beat the champion: {primary}.micro_f1 {gain:+.4f}, {needed} needed"
    if regressions:
        return False, "candidate beats the champion but regresses on " + "; ".join(regressions)
    return True, f"candidate beats the champion on the candidate's test data ({primary}.micro_f1 {gain:+.4f})"


def current_champion(model_name: str, client: MlflowClient) -> ModelRef | None:
    """The version the ``champion`` alias points to now, or None when it is not set.

    Any other failure (registry down, no permission) propagates: "could not read
    the alias" must never be taken for "no champion", which would overwrite it.
    """
    try:
        return resolve_model(f"models:/{model_name}@{CHAMPION_ALIAS}", client)
    except AliasNotSetError:
        return None


def champion_history(client: MlflowClient, model_name: str) -> list[str]:
    """Earlier champions of ``model_name``, oldest first (what ``promote --rollback`` goes back to)."""
    tags = client.get_registered_model(model_name).tags or {}
    return [v for v in tags.get(HISTORY_TAG, "").split(",") if v]


def _set_champion(
    client: MlflowClient, model_name: str, version: str, reason: str, previous: str | None = None
) -> None:
    if previous is not None and previous != version:  # remembered first: a rollback can always find it
        history = [*champion_history(client, model_name), previous]
        client.set_registered_model_tag(model_name, HISTORY_TAG, ",".join(history[-20:]))
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    client.set_model_version_tag(model_name, version, PROMOTION_TAG, reason)  # why it became champion, in the UI
    logger.info("%s version %s is now %s: %s", model_name, version, CHAMPION_ALIAS, reason)


def first_champion_reason(version: str) -> str:
    return f"no champion yet: version {version} is now {CHAMPION_ALIAS}"


def claim_first_champion(version: str, model_name: str = MODEL_NAME) -> bool:
    """Make ``version`` champion if no version has the alias yet (the first run); True if it did.

    The alias is read right before it is set, so an existing champion is never
    replaced here; whichever model later wants it goes through :func:`promote`.
    """
    client = use_tracking_store()
    if current_champion(model_name, client) is not None:
        return False
    _set_champion(client, model_name, version, first_champion_reason(version))
    return True


def _test_records(run_id: str | None) -> list[dict[str, str]]:
    """The candidate run's logged test data: both models are scored on it."""
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="data/test.csv", dst_path=tmp)
        with open(local, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))


def _test_data_caveat(client: MlflowClient, run_id: str | None, version: str) -> str:
    """A warning when the candidate was tested on a part of its own training files (no ``--test-data``): the
    champion, trained on other data, may have been trained on some of those rows, and then scores them as seen."""
    method = held_out_from_own_files(client.get_run(run_id)) if run_id else None
    if method is None:
        return ""
    return (
        f"version {version} was tested on a part of its own training files ({method}), not on a separate test file: "
        "the champion may have been trained on some of those rows, so this comparison may not be on unseen data. "
        "Train with --test-data (e.g. labels/paragraphs_test.csv) to compare on data neither model has seen"
    )


def promote(
    version: str,
    model_name: str = MODEL_NAME,
    cache_dir: Path | None = None,
    min_gain: float = 0.0,
    max_regression: float = 0.01,
    force: bool = False,
) -> PromotionResult:
    """Point ``champion`` at ``version`` if it beats the current champion (or there is none).

    ``min_gain`` and ``max_regression`` are the config's ``promotion`` keys; ``force`` moves the
    alias whatever the comparison says (the comparison is still shown, and the alias still re-read).

    The registry has no compare-and-set, and a comparison takes a while: another
    ``promote`` (or a first ``train``) may move the alias meanwhile. So the alias
    is read again right before it is set, and only set if it still points at the
    version that was compared against. If it moved, the candidate is compared once
    more, against the new champion; if it moved again, nothing is changed.
    """
    client = use_tracking_store(create=False)
    candidate, ref = load_model(f"models:/{model_name}/{version}", cache_dir)
    metric = f"{promotion_metric(candidate)}.micro_f1"
    own_score = candidate.metrics.get(metric, 0.0)
    records: list[dict[str, str]] | None = None
    compared_with = current_champion(model_name, client)
    moved = ""  # how the alias moved while the candidate was being compared
    for _attempt in range(2):
        if compared_with is None:
            result = PromotionResult(True, metric, version, own_score, reason=first_champion_reason(version))
        elif compared_with.version == version:
            return PromotionResult(
                False, metric, version, own_score, compared_with.version, None,
                reason=f"version {version} is already the champion",
            )  # fmt: skip
        else:
            # By version, not by alias: the alias may point elsewhere by the time it is resolved again.
            champion, _ = load_model(f"models:/{model_name}/{compared_with.version}", cache_dir)
            records = _test_records(ref.run_id) if records is None else records
            result = compare_models(candidate, champion, records, min_gain, max_regression)
            result.candidate_version, result.champion_version = version, compared_with.version
            result.caveat = _test_data_caveat(client, ref.run_id, version)
            if not result.promoted and force:
                result.promoted, result.reason = True, f"forced (--force) although {result.reason}"
            elif not result.promoted:
                verdict = result.reason.replace("the champion", "the new champion") if moved else result.reason
                result.reason = f"{moved}; {verdict}; alias unchanged" if moved else f"{verdict}; alias unchanged"
                return result
        if moved:
            result.reason = f"{moved}; {result.reason}"
        now = current_champion(model_name, client)  # read again right before setting it
        if _version(now) == _version(compared_with):
            _set_champion(client, model_name, version, result.reason, _version(compared_with))
            return result
        moved = f"the champion alias moved from {_name(compared_with)} to {_name(now)} during the comparison"
        compared_with = now
    return PromotionResult(
        False,
        metric,
        version,
        own_score,
        _version(compared_with),
        None,
        reason=(
            f"the champion alias moved twice while version {version} was being compared (now on "
            f"{_name(compared_with)}); alias unchanged: run `topicframe promote {version}` again"
        ),
    )


def _version(ref: ModelRef | None) -> str | None:
    return None if ref is None else ref.version


def _name(ref: ModelRef | None) -> str:
    return "no version" if ref is None else f"v{ref.version}"


def rollback(model_name: str = MODEL_NAME) -> PromotionResult:
    """Point ``champion`` back at the version it held before its last move (the history's last entry).

    The entry is popped, so rolling back twice goes back two champions. The alias is read right
    before it is set, as in :func:`promote`: a champion that moved meanwhile is left alone.
    """
    client = use_tracking_store(create=False)
    history = champion_history(client, model_name)
    now = current_champion(model_name, client)
    if not history:
        raise TopicframeError(
            f"{model_name}: no earlier champion recorded (tag '{HISTORY_TAG}'): nothing to roll back to; "
            f"`topicframe promote VERSION --force` sets any version"
        )
    previous = history[-1]
    reason = f"rollback from {_name(now)} to v{previous}"
    if _version(current_champion(model_name, client)) != _version(now):
        raise TopicframeError(f"{model_name}: the champion alias moved during the rollback; run it again")
    client.set_registered_model_tag(model_name, HISTORY_TAG, ",".join(history[:-1]))
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, previous)
    client.set_model_version_tag(model_name, previous, PROMOTION_TAG, reason)
    logger.info("%s: %s", model_name, reason)
    return PromotionResult(True, "", previous, float("nan"), _version(now), None, reason=reason)
