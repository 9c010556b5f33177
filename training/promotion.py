"""Promotion: move the ``champion`` alias only to a model that beats the current champion.

Both models are scored on the *same* test data (the candidate run's logged
``data/test.csv``), on the promotion metric: ``topic.micro_f1`` (or the first
label set's micro-F1 when there is no ``topic`` set). The first model trained into
a registry without a champion becomes champion (:func:`claim_first_champion`).
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
from training.dataset import LabelledData
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


def promotion_metric(bundle: ModelBundle) -> str:
    return "topic" if "topic" in bundle.label_sets else bundle.label_sets[0]


def records_to_data(records: list[dict[str, str]], bundle: ModelBundle) -> LabelledData:
    labels = {
        name: [tuple(x for x in (r.get(name) or "").split(";") if x in names) for r in records]
        for name, names in bundle.label_names.items()
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
    candidate: ModelBundle, champion: ModelBundle, test_records: list[dict[str, str]]
) -> PromotionResult:
    label_set = promotion_metric(candidate)
    cand = evaluate(candidate, records_to_data(test_records, candidate)).reports[label_set]
    champ = evaluate(champion, records_to_data(test_records, champion)).reports.get(label_set)
    per_label = [
        (label, champ["per_label"].get(label, {}).get("f1") if champ else None, row["f1"])
        for label, row in cand["per_label"].items()
    ]
    champ_score = champ["micro_f1"] if champ else 0.0
    return PromotionResult(
        promoted=cand["micro_f1"] > champ_score,
        metric=f"{label_set}.micro_f1",
        candidate_version="",
        candidate_score=cand["micro_f1"],
        champion_score=champ_score,
        per_label=per_label,
    )


def current_champion(model_name: str, client: MlflowClient) -> ModelRef | None:
    """The version the ``champion`` alias points to now, or None when it is not set.

    Any other failure (registry down, no permission) propagates: "could not read
    the alias" must never be taken for "no champion", which would overwrite it.
    """
    try:
        return resolve_model(f"models:/{model_name}@{CHAMPION_ALIAS}", client)
    except AliasNotSetError:
        return None


def _set_champion(client: MlflowClient, model_name: str, version: str, reason: str) -> None:
    client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
    client.set_model_version_tag(model_name, version, PROMOTION_TAG, reason)  # why it became champion, in the UI
    logger.info("%s version %s is now %s: %s", model_name, version, CHAMPION_ALIAS, reason)


def first_champion_reason(version: str) -> str:
    return f"first model in the registry: version {version} is now {CHAMPION_ALIAS}"


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


def promote(version: str, model_name: str = MODEL_NAME, cache_dir: Path | None = None) -> PromotionResult:
    """Point ``champion`` at ``version`` if it beats the current champion (or there is none).

    The registry has no compare-and-set, and a comparison takes a while: another
    ``promote`` (or a first ``train``) may move the alias meanwhile. So the alias
    is read again right before it is set, and only set if it still points at the
    version that was compared against. If it moved, the candidate is compared once
    more, against the new champion; if it moved again, nothing is changed.
    """
    client = use_tracking_store()
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
            result = compare_models(candidate, champion, records)
            result.candidate_version, result.champion_version = version, compared_with.version
            if not result.promoted:
                result.reason = (
                    f"{moved}; candidate does not beat the new champion; alias unchanged"
                    if moved
                    else "candidate does not beat the champion; alias unchanged"
                )
                return result
            result.reason = "candidate beats the champion on the candidate's test data"
        if moved:
            result.reason = f"{moved}; {result.reason}"
        now = current_champion(model_name, client)  # read again right before setting it
        if _version(now) == _version(compared_with):
            _set_champion(client, model_name, version, result.reason)
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
