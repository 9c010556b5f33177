"""`topicframe diff RUN_A RUN_B`: what changed between two runs, per label and per paragraph.

Per-label changes come from the runs' logged test metrics. Paragraph changes
come from scoring RUN_B's logged test data (``data/test.csv``) with both
models: a registered version is loaded through the registry (digest from the
model version's tags); an unregistered run's model is verified against the
run's ``bundle_sha256`` tag. Light sweep trials have no model: for them only
the metric changes are shown.
"""

from __future__ import annotations

import csv
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
from mlflow.entities import Run
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from training.bundle import ModelBundle, load_bundle
from training.compare import SWEEP_ROLE, held_out_from_own_files, resolve_run, test_data_digest
from training.errors import ModelLoadError, TopicframeError
from training.features import ArticleLayout
from training.registry import existing_store_client, load_model

_PER_LABEL = re.compile(r"^(?P<set>[^.]+)\.f1\.(?P<label>.+)$")


@dataclass
class LabelChange:
    label_set: str
    label: str  # a label, or "micro_f1"/"macro_f1" for the summary rows
    a: dict[str, float]  # f1, precision, recall (whatever was logged)
    b: dict[str, float]
    support: float | None = None


@dataclass
class ChangedParagraph:
    id: str
    text: str
    label_set: str
    gold: str
    a: str
    b: str


@dataclass
class RunDiff:
    run_a: Run
    run_b: Run
    labels: list[LabelChange]
    paragraphs: list[ChangedParagraph] = field(default_factory=list)
    n_test: int = 0
    note: str = ""  # why paragraphs could not be compared, if they could not
    caveats: list[str] = field(default_factory=list)  # why the figures may not compare like with like


def label_changes(a: Run, b: Run) -> list[LabelChange]:
    """Summary and per-label rows for every label set both runs have, from their test metrics."""
    ma, mb = a.data.metrics, b.data.metrics
    rows: list[LabelChange] = []
    sets = [s for s in dict.fromkeys(_sets(ma)) if s in _sets(mb)]
    for label_set in sets:
        for stat in ("micro_f1", "macro_f1"):
            key = f"{label_set}.{stat}"
            if key in ma and key in mb:
                rows.append(LabelChange(label_set, stat, {"f1": ma[key]}, {"f1": mb[key]}))
        labels = [m["label"] for name in ma if (m := _PER_LABEL.match(name)) and m["set"] == label_set]
        for label in sorted(labels):
            if f"{label_set}.f1.{label}" in mb:
                support = mb.get(f"{label_set}.support.{label}")
                rows.append(
                    LabelChange(label_set, label, _stats(ma, label_set, label), _stats(mb, label_set, label), support)
                )
    return rows


def _stats(metrics: dict[str, float], label_set: str, label: str) -> dict[str, float]:
    keys = {s: f"{label_set}.{s}.{label}" for s in ("f1", "precision", "recall")}
    return {s: metrics[k] for s, k in keys.items() if k in metrics}


def _sets(metrics: dict[str, float]) -> list[str]:
    return [name.split(".")[0] for name in metrics if name.endswith(".micro_f1") and name.count(".") == 1]


def load_run_model(client: MlflowClient, run: Run, cache_dir: Path) -> ModelBundle | None:
    """The run's model (verified), or None when the run logged none (a light sweep trial)."""
    tags, params = run.data.tags, run.data.params
    version, name = tags.get("registered_version"), params.get("model_name")
    if version and name:
        try:
            bundle, _ = load_model(f"models:/{name}/{version}", cache_dir, client=client)
            return bundle
        except ModelLoadError:
            pass  # the version may have been deleted: fall back to the run's own model
    expected = tags.get("bundle_sha256")
    if not expected:
        return None
    target = Path(tempfile.mkdtemp(dir=cache_dir))
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{run.info.run_id}/model/artifacts/bundle",
            dst_path=str(target),
            tracking_uri=client.tracking_uri,
        )
    except MlflowException:
        return None
    # The digest comes from the tracking store, not from beside the downloaded file.
    return load_bundle(local, expected_sha256=expected)


def test_records(client: MlflowClient, run: Run, directory: Path) -> list[dict[str, str]] | None:
    try:
        local = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path="data/test.csv",
            dst_path=str(directory),
            tracking_uri=client.tracking_uri,
        )
    except (MlflowException, OSError):
        return None
    with open(local, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def changed_paragraphs(
    a: ModelBundle, b: ModelBundle, records: list[dict[str, str]]
) -> tuple[list[ChangedParagraph], str]:
    shared = [s for s in a.label_sets if s in b.label_sets]
    if not shared:
        return [], "the two models share no label set"
    texts = [r["text"] for r in records]
    # Scored as articles, as training evaluated them (rows of one article_id in file order).
    layout = ArticleLayout.from_article_ids([r.get("article_id") or None for r in records])
    pred_a, pred_b = a.predict(texts, shared, layout), b.predict(texts, shared, layout)
    changed = []
    for i, record in enumerate(records):
        for label_set in shared:
            la, lb = pred_a[label_set][i], pred_b[label_set][i]
            if set(la) != set(lb):
                gold = record.get(label_set, "")
                changed.append(ChangedParagraph(record.get("id", str(i)), texts[i], label_set, gold, _j(la), _j(lb)))
    return changed, ""


def _j(labels: list[str]) -> str:
    return ";".join(sorted(labels))


def diff_runs(run_a: str, run_b: str) -> RunDiff:
    client = existing_store_client()  # passed to every call: no process-wide MLflow state
    a, b = resolve_run(client, run_a), resolve_run(client, run_b)
    for given, run in ((run_a, a), (run_b, b)):
        if run.data.tags.get(SWEEP_ROLE) == "parent":  # it only summarises its trials: no metrics of its own
            best = run.data.tags.get("best_run_id")
            instead = f"its best trial is {best[:8]}" if best else "diff one of its trials"
            raise TopicframeError(f"{given}: run {run.info.run_id[:8]} is a sweep's parent run; {instead}")
    result = RunDiff(a, b, label_changes(a, b), caveats=test_data_caveats(a, b))
    with tempfile.TemporaryDirectory(prefix="topicframe-diff-") as tmp:
        work = Path(tmp)
        records = test_records(client, b, work) or test_records(client, a, work)
        models = [load_run_model(client, run, work) for run in (a, b)]
        missing = [run.info.run_name or run.info.run_id for run, m in zip((a, b), models, strict=True) if m is None]
        if missing:
            result.note = f"no model logged for {', '.join(missing)} (a light sweep trial?): metric changes only"
        elif records is None:
            result.note = "neither run logged data/test.csv: metric changes only"
        else:
            bundle_a, bundle_b = models
            assert bundle_a is not None and bundle_b is not None
            result.paragraphs, result.note = changed_paragraphs(bundle_a, bundle_b, records)
            result.n_test = len(records)
    return result


def test_data_caveats(a: Run, b: Run) -> list[str]:
    """What keeps the two runs' figures from comparing like with like: tests on different data, or B's test
    paragraphs held out from B's own training files, on some of which A may have been trained."""
    caveats = []
    digests = test_data_digest(a), test_data_digest(b)
    if None not in digests and digests[0] != digests[1]:
        caveats.append(
            "A and B were tested on different data: their f1 columns are not on the same paragraphs (support is B's), "
            "and the paragraph changes are B's test data scored by both models"
        )
    method = held_out_from_own_files(b)
    if method is not None:
        caveats.append(
            f"B was tested on a part of its own training files ({method}), not on a separate test file: A may have "
            "been trained on some of those paragraphs, which favours A ('B broke'). Train both with --test-data to "
            "compare on data neither has seen"
        )
    return caveats


def write_changes(path: Path, paragraphs: list[ChangedParagraph]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "label_set", "gold", "run_a", "run_b", "text"])
        for p in paragraphs:
            writer.writerow([p.id, p.label_set, p.gold, p.a, p.b, p.text])
