"""Promotion: move the ``champion`` alias only to a model that beats the current champion.

Both models are scored on the *same* test data (the candidate run's logged
``data/test.csv``), on the promotion metric: ``topic.micro_f1`` (or the first
label set's micro-F1 when there is no ``topic`` set).
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow

from training.bundle import ModelBundle
from training.dataset import LabelledData
from training.errors import TopicframeError
from training.registry import CHAMPION_ALIAS, MODEL_NAME, load_model, resolve_model, use_tracking_store
from training.train import evaluate


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


def promote(version: str, model_name: str = MODEL_NAME, cache_dir: Path | None = None) -> PromotionResult:
    """Point ``champion`` at ``version`` if it beats the current champion (or there is none)."""
    client = use_tracking_store()
    candidate, ref = load_model(f"models:/{model_name}/{version}", cache_dir)
    label_set = promotion_metric(candidate)
    try:
        champion_ref = resolve_model(f"models:/{model_name}@{CHAMPION_ALIAS}", client)
    except TopicframeError:
        champion_ref = None
    if champion_ref is None:
        client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
        score = candidate.metrics.get(f"{label_set}.micro_f1", 0.0)
        return PromotionResult(True, f"{label_set}.micro_f1", version, score, reason="first model: promoted itself")
    if champion_ref.version == version:
        return PromotionResult(
            False,
            f"{label_set}.micro_f1",
            version,
            candidate.metrics.get(f"{label_set}.micro_f1", 0.0),
            champion_ref.version,
            None,
            reason=f"version {version} is already the champion",
        )
    champion, _ = load_model(champion_ref.uri, cache_dir)
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(run_id=ref.run_id, artifact_path="data/test.csv", dst_path=tmp)
        with open(local, newline="", encoding="utf-8") as f:
            records = list(csv.DictReader(f))
    result = compare_models(candidate, champion, records)
    result.candidate_version, result.champion_version = version, champion_ref.version
    if result.promoted:
        client.set_registered_model_alias(model_name, CHAMPION_ALIAS, version)
        result.reason = "candidate beats the champion on the candidate's test data"
    else:
        result.reason = "candidate does not beat the champion; alias unchanged"
    return result
