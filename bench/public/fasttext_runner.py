"""fastText on the same split: tuned on a validation part of the training data only.

The final model is trained in a child process (``python -m bench.public.fasttext_runner``)
so its wall time and peak RSS are measured exactly like the `topicframe train`
subprocess. Multi-label sets use one-vs-all loss (``-loss ova``) and a score
threshold; single-label sets use softmax and the top label.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split

from bench.public.measure import run_measured
from training.evaluation import indicator, score_label_set

PREFIX = "__label__"
TOKEN = re.compile(r"\w+|[^\w\s]")
# wordNgrams=2 as in the fastText paper; the rest are fastText's own supervised defaults
# (dim 100, minCount 1, bucket 2M). Only lr and epoch are tuned, on a validation split.
BASE_PARAMS: dict[str, Any] = {"wordNgrams": 2, "seed": 0, "verbose": 0}
# Kept small: on a shared 2-core machine each trial on BBC takes about a minute.
LR_GRID = (0.25, 1.0)
EPOCH_GRID = (25,)
THRESHOLD_GRID = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)


@dataclass
class FastTextChoice:
    params: dict[str, Any]
    threshold: float
    validation_score: float


def normalise(text: str) -> str:
    """Lower-case and split off punctuation; one line (a newline ends a fastText example)."""
    return " ".join(TOKEN.findall(text.lower()))


def write_training_file(path: Path, texts: list[str], labels: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for text, row in zip(texts, labels, strict=True):
            f.write(" ".join(PREFIX + label for label in row) + " " + normalise(text) + "\n")
    return path


def train_params(multi_label: bool, lr: float, epoch: int) -> dict[str, Any]:
    return {**BASE_PARAMS, "lr": lr, "epoch": epoch, "loss": "ova" if multi_label else "softmax"}


def scores(model: Any, texts: list[str], labels: list[str]) -> np.ndarray:
    """(rows x labels) probabilities in ``labels`` order."""
    index = {PREFIX + label: j for j, label in enumerate(labels)}
    predicted, probs = model.predict([normalise(t) for t in texts], k=-1, threshold=0.0)
    out = np.zeros((len(texts), len(labels)))
    for i, (names, values) in enumerate(zip(predicted, probs, strict=True)):
        for name, value in zip(names, values, strict=True):
            if name in index:
                out[i, index[name]] = value
    return out


def decide(score_matrix: np.ndarray, labels: list[str], multi_label: bool, threshold: float) -> list[list[str]]:
    if not multi_label:
        return [[labels[int(np.argmax(row))]] for row in score_matrix]
    return [[labels[j] for j in np.flatnonzero(row >= threshold)] for row in score_matrix]


def evaluate(
    score_matrix: np.ndarray, y_true: np.ndarray, labels: list[str], multi_label: bool, threshold: float
) -> dict[str, Any]:
    predicted = indicator(decide(score_matrix, labels, multi_label, threshold), labels)
    return score_label_set(y_true, predicted, labels, multi_label)


def primary(report: dict[str, Any], multi_label: bool) -> float:
    return float(report["micro_f1"] if multi_label else report["accuracy"])


def tune(
    texts: list[str], labels: list[list[str]], label_names: list[str], multi_label: bool, workdir: Path
) -> FastTextChoice:
    """Grid over lr x epoch (and the ova threshold) on a 20% validation part of the training data."""
    import fasttext

    rows = np.arange(len(texts))
    stratify = None if multi_label else [row[0] for row in labels]
    fit_rows, val_rows = train_test_split(rows, test_size=0.2, random_state=0, stratify=stratify)
    path = write_training_file(
        workdir / "fasttext_tune.txt", [texts[i] for i in fit_rows], [labels[i] for i in fit_rows]
    )
    val_texts = [texts[i] for i in val_rows]
    y_val = indicator([labels[i] for i in val_rows], label_names)
    best: FastTextChoice | None = None
    for lr, epoch in itertools.product(LR_GRID, EPOCH_GRID):
        params = train_params(multi_label, lr, epoch)
        model = fasttext.train_supervised(input=str(path), **params)
        s = scores(model, val_texts, label_names)
        for threshold in THRESHOLD_GRID if multi_label else (0.5,):
            value = primary(evaluate(s, y_val, label_names, multi_label, threshold), multi_label)
            if best is None or value > best.validation_score:
                best = FastTextChoice(params, threshold, value)
        del model
    assert best is not None
    return best


def train_measured(train_file: Path, model_path: Path, params: dict[str, Any], log: Path) -> tuple[float, Any]:
    """Train in a child process; return (training seconds inside the child, its `Measured`)."""
    command = [
        sys.executable,
        "-m",
        "bench.public.fasttext_runner",
        str(train_file),
        str(model_path),
        json.dumps(params),
    ]
    measured = run_measured(command, log)
    if measured.returncode != 0:
        raise RuntimeError(f"fastText training failed (exit {measured.returncode}); see {log}")
    seconds = json.loads(log.read_text().strip().splitlines()[-1])["train_seconds"]
    return float(seconds), measured


def run(
    train_texts: list[str],
    train_labels: list[list[str]],
    label_names: list[str],
    multi_label: bool,
    workdir: Path,
) -> tuple[Any, FastTextChoice, float, Any, int]:
    """Tune, then train the final model on all training rows.

    Returns (loaded model, choice, train seconds, the child's `Measured`, model file bytes).
    """
    import fasttext

    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        choice = tune(train_texts, train_labels, label_names, multi_label, Path(tmp))
    train_file = write_training_file(workdir / "fasttext_train.txt", train_texts, train_labels)
    model_path = workdir / "fasttext.bin"
    seconds, measured = train_measured(train_file, model_path, choice.params, workdir / "fasttext_train.log")
    size = model_path.stat().st_size
    model = fasttext.load_model(str(model_path))
    model_path.unlink()  # ~800 MB with the default 2M hash buckets; the size is recorded
    train_file.unlink()
    return model, choice, seconds, measured, size


def _worker(train_file: str, model_path: str, params_json: str) -> None:
    import fasttext

    started = time.perf_counter()
    model = fasttext.train_supervised(input=train_file, **json.loads(params_json))
    seconds = time.perf_counter() - started
    model.save_model(model_path)
    print(json.dumps({"train_seconds": seconds}))


if __name__ == "__main__":
    _worker(*sys.argv[1:4])
