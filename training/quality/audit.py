"""Label audit: which rows of a labelled corpus probably carry wrong labels (confident learning).

Every row gets out-of-fold scores from the configured model (the same grouped folds and fit as
`topicframe train`'s threshold tuning: `training.evaluation.out_of_fold_scores`), then cleanlab finds
the label issues: `cleanlab.multilabel_classification` for the multi-label sets (topic, frame),
`cleanlab.filter` for single-label sets (role). Topics and frames are audited on content rows only
(role body or headline): other rows carry none by design, so their empty labels are not evidence.

A row's ``quality`` is the lowest of its per-set cleanlab label-quality scores (lower = more likely wrong). In
a multi-label set that score is the lowest self-confidence over the set's labels: the out-of-fold probability of
the row's least believed yes/no decision (cleanlab's aggregator set to the minimum; its default moving
average ranked planted errors worse, docs/quality.md "Label audit"). Rows cleanlab flags come first, ordered
by quality, then the rest. The suggested labels are what the out-of-fold model would give under the model's
own decision rule (thresholds tuned on the out-of-fold scores, the configured caps).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.codebook import Codebook, load_codebooks
from training.config import RunConfig
from training.dataset import LabelledData
from training.errors import TopicframeError
from training.evaluation import out_of_fold_scores, too_few_for_cv
from training.label_set import LabelSetModel, decision_settings
from training.thresholds import tune_thresholds
from training.train import fallback_raises_micro_f1, fold_scorer, load_data

SEPARATOR = ";"
# A row's quality in a multi-label set: its least believed label decision. cleanlab's default (an exponential
# moving average over the labels' self-confidences) blends in the labels the model agrees with. On the
# 24,547-row corpus with 5 % planted errors (bench.audit_corruption's corruption, seeds 0 and 1, the same
# out-of-fold scores for both rankings) the minimum raised the ranking's recall at precision 0.50 from 0.34 to
# 0.57-0.59 and the precision of its top k from 0.42-0.43 to 0.53-0.56 (docs/quality.md, "Label audit").
LEAST_BELIEVED_LABEL_AGGREGATOR: dict[str, Any] = {"method": np.min}


@dataclass
class LabelSetAudit:
    """cleanlab's verdict on one label set: rows audited, flagged, their quality and the model's labels."""

    name: str
    audited: np.ndarray  # bool per row: this set was audited on the row
    flagged: np.ndarray  # bool per row
    quality: np.ndarray  # per row, 1.0 where not audited
    suggested: list[list[str]]
    scores: np.ndarray  # out-of-fold scores (rows x labels)


@dataclass
class AuditResult:
    data: LabelledData
    label_names: dict[str, list[str]]
    sets: dict[str, LabelSetAudit]
    order: np.ndarray  # row indices, most likely wrong first

    @property
    def flagged(self) -> np.ndarray:
        return np.any([s.flagged for s in self.sets.values()], axis=0)

    @property
    def quality(self) -> np.ndarray:
        return np.min([s.quality for s in self.sets.values()], axis=0)

    def counts(self) -> dict[str, float]:
        """Rows audited and flagged, overall and per label set (MLflow metrics)."""
        counts: dict[str, float] = {"rows": float(len(self.data)), "flagged_rows": float(self.flagged.sum())}
        for name, audit in self.sets.items():
            counts[f"{name}.audited_rows"] = float(audit.audited.sum())
            counts[f"{name}.flagged_rows"] = float(audit.flagged.sum())
        counts["flagged_share"] = counts["flagged_rows"] / counts["rows"] if len(self.data) else 0.0
        return counts

    def records(self) -> list[dict[str, str]]:
        """Rows in ranking order, as the CSV's columns."""
        flagged, quality = self.flagged, self.quality
        rows = []
        for rank, i in enumerate(self.order.tolist(), start=1):
            record = {
                "rank": str(rank),
                "id": self.data.ids[i],
                "article_id": self.data.article_ids[i] or "",
                "source": self.data.sources[i],
                "flagged": "yes" if flagged[i] else "no",
                "flagged_sets": SEPARATOR.join(n for n, s in self.sets.items() if s.flagged[i]),
                "quality": f"{quality[i]:.4f}",
                "text": self.data.texts[i],
            }
            for name, audit in self.sets.items():
                labels = self.label_names[name]
                record[name] = SEPARATOR.join(self.data.labels[name][i])
                record[f"suggested_{name}"] = SEPARATOR.join(audit.suggested[i]) if audit.audited[i] else ""
                top = np.argsort(-audit.scores[i])[:3]
                record[f"scores_{name}"] = " ".join(f"{labels[j]}={audit.scores[i, j]:.2f}" for j in top)
            rows.append(record)
        return rows


def load_audit_data(config: RunConfig) -> tuple[dict[str, Codebook], LabelledData]:
    """Codebooks and the validated rows of ``config.data.train`` (the corpus being audited)."""
    codebooks = load_codebooks(config.data.labels_dir, config.data.label_sets)
    data = load_data(config, config.data.train, codebooks, False, 0, config.data.prefer_feedback)
    if len(data) < config.cv.folds * 2:
        raise TopicframeError(
            f"{', '.join(config.data.train)}: {len(data)} labelled row(s); the audit needs at least "
            f"{config.cv.folds * 2} for {config.cv.folds}-fold out-of-fold scores"
        )
    too_few = too_few_for_cv(data, config.cv.folds)
    if too_few:  # said before the folds are fitted, not after the first ones
        raise TopicframeError(f"{', '.join(config.data.train)}: {too_few.replace('training part', 'data')}")
    return codebooks, data


def audit_scores(
    config: RunConfig, codebooks: dict[str, Codebook], data: LabelledData, on_fold: Callable[[], None] | None = None
) -> dict[str, np.ndarray]:
    """Grouped out-of-fold scores for every row and label set."""
    from training.machine import labels_fitted_in_threads, usable_cores

    names = {name: cb.label_names for name, cb in codebooks.items()}
    with labels_fitted_in_threads(usable_cores()):  # as in train_model; the scores do not depend on it
        return out_of_fold_scores(data, names, config.cv.folds, config.seed, fold_scorer(config, codebooks), on_fold)


def content_mask(config: RunConfig, data: LabelledData) -> np.ndarray:
    """Rows whose given role is a content role (every row when the data has no role set)."""
    role_set = config.roles.label_set
    if role_set not in data.labels:
        return np.ones(len(data), dtype=bool)
    return np.isin([row[0] for row in data.labels[role_set]], config.roles.content)


def suggest_no_content_labels_off_content_roles(
    sets: dict[str, LabelSetAudit], role_set: str, content_roles: list[str]
) -> None:
    """The model's own rule: a paragraph whose suggested role is not a content role gets no topic or frame. Each
    set was decided alone, so a row could be told "headline → promo" and "trade → economy;trade" at once, and
    taking every suggestion made data that validation refuses."""
    if role_set not in sets:
        return
    off_content = [i for i, roles in enumerate(sets[role_set].suggested) if roles and roles[0] not in content_roles]
    for name, audit in sets.items():
        if name != role_set:
            for i in off_content:
                audit.suggested[i] = []


def find_issues(
    config: RunConfig, codebooks: dict[str, Codebook], data: LabelledData, oof: dict[str, np.ndarray]
) -> AuditResult:
    """cleanlab on the out-of-fold scores of every label set, and the rows ranked."""
    from cleanlab.filter import find_label_issues
    from cleanlab.multilabel_classification.filter import find_label_issues as find_multilabel_issues
    from cleanlab.multilabel_classification.rank import get_label_quality_scores as multilabel_quality
    from cleanlab.rank import get_label_quality_scores

    content = content_mask(config, data)
    label_names = {name: cb.label_names for name, cb in codebooks.items()}
    sets: dict[str, LabelSetAudit] = {}
    for name, codebook in codebooks.items():
        labels, scores = label_names[name], oof[name]
        index = {label: j for j, label in enumerate(labels)}
        given = [[index[label] for label in row] for row in data.labels[name]]
        audited = (
            content.copy() if codebook.multi_label and name != config.roles.label_set else np.ones(len(data), bool)
        )
        rows = np.flatnonzero(audited)
        flagged, quality = np.zeros(len(data), dtype=bool), np.ones(len(data))
        try:
            if codebook.multi_label:
                subset = [given[i] for i in rows]
                flagged[rows] = find_multilabel_issues(subset, scores[rows])
                quality[rows] = multilabel_quality(
                    subset, scores[rows], aggregator_kwargs=LEAST_BELIEVED_LABEL_AGGREGATOR
                )
                thresholds = tune_thresholds(
                    data.label_matrix(name, labels)[rows], scores[rows], f1_tolerance=config.thresholds.f1_tolerance
                )
            else:
                single = np.array([row[0] for row in given])
                probabilities = scores / scores.sum(axis=1, keepdims=True)  # a role unseen in a fold scores 0
                flagged[:] = find_label_issues(single, probabilities)
                quality[:] = get_label_quality_scores(single, probabilities)
                thresholds = np.full(len(labels), 0.5)
        except ValueError as exc:  # e.g. a label given on every audited row: nothing to contrast it with
            raise TopicframeError(f"{name}: cleanlab cannot audit this label set on these rows ({exc})") from None
        decision = LabelSetModel(
            name=name,
            labels=labels,
            multi_label=codebook.multi_label,
            classifier=None,
            weights=None,
            thresholds=thresholds,
            **decision_settings(config.decision, codebook.multi_label),
        )
        if codebook.multi_label and config.decision.at_least_one == "tuned":  # as training decides it
            rows_labels = data.label_matrix(name, labels)[rows]
            decision.at_least_one = fallback_raises_micro_f1(decision, rows_labels, scores[rows])
        sets[name] = LabelSetAudit(name, audited, flagged, quality, decision.decide(scores), scores)
    suggest_no_content_labels_off_content_roles(sets, config.roles.label_set, config.roles.content)
    flagged_any = np.any([s.flagged for s in sets.values()], axis=0)
    quality_min = np.min([s.quality for s in sets.values()], axis=0)
    order = np.lexsort((quality_min, ~flagged_any))  # flagged first, then lowest quality first
    return AuditResult(data, label_names, sets, order)


def run_audit(config: RunConfig, on_fold: Callable[[], None] | None = None) -> AuditResult:
    codebooks, data = load_audit_data(config)
    return find_issues(config, codebooks, data, audit_scores(config, codebooks, data, on_fold))


def write_ranking(result: AuditResult, path: Path) -> None:
    """The ranking as CSV, written to a temporary file and renamed (never half-written)."""
    records = result.records()
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(records[0]) if records else ["rank"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    partial.replace(path)


def log_audit_run(config: RunConfig, result: AuditResult, ranking: Path, experiment: str) -> str:
    """One MLflow run: the counts as metrics, the ranking CSV as an artifact; returns the run id."""
    import mlflow

    from training.config import flatten_params
    from training.registry import tracking_client, use_tracking_store
    from training.tracking import ensure_experiment, git_commit

    use_tracking_store()
    # As training's runs: artifacts under ./mlartifacts/<id> (a path relative to the store), not ./mlruns/<id>.
    mlflow.set_experiment(experiment_id=ensure_experiment(tracking_client(), experiment))
    with mlflow.start_run(run_name=f"audit_{len(result.data)}rows") as run:
        mlflow.log_params(flatten_params(config) | {"data.n_rows": str(len(result.data))})
        mlflow.log_metrics(result.counts())
        mlflow.set_tags({"git_commit": git_commit(), "data_digest": result.data.digest()})
        mlflow.log_artifact(str(ranking), artifact_path="audit")
        return str(run.info.run_id)


def print_top(result: AuditResult, top: int) -> None:
    """The top rows as a rich table: given and suggested labels per set."""
    from rich.table import Table

    from training.console import print_wide

    table = Table(title=f"label audit: top {top} of {int(result.flagged.sum())} flagged rows", title_justify="left")
    for column in ("rank", "id", "quality", "text"):
        table.add_column(column, overflow="fold", max_width=60 if column == "text" else None)
    for name in result.sets:
        table.add_column(f"{name} given → suggested")
    for record in result.records()[:top]:
        text = record["text"] if len(record["text"]) <= 120 else record["text"][:117] + "..."
        cells = [record["rank"], record["id"], record["quality"], text]
        for name in result.sets:
            given, suggested = record[name], record[f"suggested_{name}"]
            mark = "" if record["flagged"] == "no" or name not in record["flagged_sets"].split(SEPARATOR) else "! "
            cells.append(f"{mark}{given or '-'} → {suggested or '-'}")
        table.add_row(*cells)
    print_wide(table)


def summary_line(result: AuditResult) -> str:
    counts: dict[str, Any] = result.counts()
    per_set = ", ".join(
        f"{name} {int(counts[f'{name}.flagged_rows'])}/{int(counts[f'{name}.audited_rows'])}" for name in result.sets
    )
    return f"flagged {int(counts['flagged_rows'])} of {int(counts['rows'])} rows ({per_set})"
