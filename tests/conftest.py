"""Shared fixtures: the default codebooks, a small labelled CSV writer, one trained bundle per session."""

from __future__ import annotations

import csv
import fcntl
import os
import pickle
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from training.bundle import ModelBundle
from training.codebook import Codebook, load_codebooks
from training.config import RunConfig, load_config
from training.train import prepare_data, train_model

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "labels"
# Written for the tests: a German news paragraph, which the model cannot read (`decision.min_known_words`).
# A short article of the Daily Ledger (written for these tests): two body paragraphs and a photo credit.
LEDGER_ARTICLE = [
    "Washington and Beijing agreed to extend the tariff truce, with China pledging to buy more soybeans and liquefied "
    "natural gas from American exporters over the next two years.",
    "Customs officers detained three shipments of solar panels at the port of Los Angeles under the forced labour "
    "law, saying the polysilicon inside was traced to camps in Xinjiang.",
    "Photograph: Kim Lee for the Daily Ledger",
]

GERMAN_NEWS = (
    "Die Bundesregierung will die Zölle auf Stahl aus Fernost erhöhen, teilte das Wirtschaftsministerium am Montag "
    "in Berlin mit; die Gespräche mit Peking sollen dennoch weitergehen."
)

SESSION_PID = os.getpid()

# The slowest test files (seconds in one 2-core run of `./dev test`, 2026-12-07), collected first whatever their
# names: `./dev test` hands whole files to its pytest-xdist workers in collection order, so these start early
# instead of meeting at the end of the run while the other worker has nothing to do. The batch tests come first:
# they need the session model (`trained`) at once, and the files after them do not, so the other worker runs
# those while the first fits it, rather than waiting for it on the lock.
SLOWEST_FILES = [
    "tests/integration/test_batch_spark.py",  # 416 s, 214 of them its setup (the session model, Spark)
    "tests/integration/test_sweep_mlflow.py",  # 180, no session model
    "tests/integration/test_training_mlflow.py",  # 159, no session model
    "tests/integration/test_mlflow_ui.py",  # 61, no session model
    "tests/integration/test_service_http.py",  # 199
    "tests/unit/training/test_bundle.py",  # 147
    "tests/integration/web/test_corrections.py",  # 53
    "tests/integration/web/test_page.py",  # 37
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        # schemathesis 4.32 names each generated test `test_x[POST /v1/classify]` but passes pytest 9 no
        # parameters, and pytest 9 builds the id from those: all 13 API operations had one id. pytest-xdist sends
        # tests to its workers by id and ran one of the 13 (696 of 708 tests passed, no error said so). Each now
        # has its operation in its id, and two tests with one id stop the run before anything runs.
        label = getattr(item, "operation_label", None)
        if label and not item.nodeid.endswith("]"):
            item._id = item._id.with_params(label)  # type: ignore[attr-defined]
    ids = Counter(item.nodeid for item in items)
    if repeated := [nodeid for nodeid, n in ids.items() if n > 1]:
        raise pytest.UsageError(f"tests share an id, and pytest-xdist would run one of each: {repeated}")
    rank = {path: i for i, path in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: the rest keep their order


@pytest.fixture(autouse=True)
def only_the_session_process_runs_tests() -> None:
    """A forked copy of the test process that escapes its worker code runs the rest of the suite as a second
    session, writing into the same log and temp dir, and CI waits for it: once 90 minutes (a pool worker raised
    KeyboardInterrupt as it started, training/console.py). Such a copy ends here, at its first test."""
    if os.getpid() != SESSION_PID:
        os._exit(70)


def keep_mlflow_uris(monkeypatch: pytest.MonkeyPatch) -> None:
    """Record MLflow's process-wide tracking and registry URIs (module globals, and the environment variables
    MLflow copies them into) so that ``monkeypatch`` puts them back: code that logs through MLflow's fluent
    API sets them, and later tests in this process (and their subprocesses) would talk to that store."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        original = os.environ.get(name)
        monkeypatch.setenv(name, original or "")  # recorded: restored (or removed) afterwards
        if original is None:
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def codebooks() -> dict[str, Codebook]:
    return load_codebooks(LABELS, ["role", "topic", "frame"])


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> Path:
    """Rows as a labelled CSV; a row that names no role is body text."""
    header = header or ["id", "article_id", "text", "topic", "frame", "role"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, extrasaction="ignore")
        writer.writeheader()
        writer.writerows([{"role": "body", **row} for row in rows])
    return path


@pytest.fixture(scope="session")
def corpus_texts() -> list[str]:
    """Every test paragraph of the shipped corpus and every third training paragraph, as text: every style,
    script and punctuation habit of the corpus, at a third of the time of all of it (what the fast TF-IDF
    tests fit seven vectorizers on)."""
    texts = []
    for name, every in (("paragraphs.csv", 3), ("paragraphs_test.csv", 1)):
        with (LABELS / name).open(newline="", encoding="utf-8") as f:
            texts += [row["text"] for row in csv.DictReader(f)][::every]
    return texts


def unsorted_copy(X: sp.csr_matrix) -> sp.csr_matrix:
    """The same matrix with each row's entries in reverse column order, as `sp.hstack` of context blocks
    leaves them: scipy sorts such a matrix in place the first time anything reduces over it."""
    rows = [slice(X.indptr[i], X.indptr[i + 1]) for i in range(X.shape[0])]
    indices = np.concatenate([X.indices[r][::-1] for r in rows])
    data = np.concatenate([X.data[r][::-1] for r in rows]).astype(np.float32)
    return sp.csr_matrix((data, indices, X.indptr.copy()), shape=X.shape)


def subset_articles(source: Path, target: Path, every: int) -> Path:
    """Every `every`-th article of a corpus CSV, whole and in page order (a deterministic, spread-out sample)."""
    with source.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows, header = list(reader), list(reader.fieldnames or [])
    articles = list(dict.fromkeys(row["article_id"] for row in rows))
    kept = set(articles[::every])
    with target.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row for row in rows if row["article_id"] in kept)
    return target


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A ninth of the training articles and a quarter of the test articles (3,317 and 331 paragraphs): every
    style, role and label still, at a size that trains in well under a minute (the suite trains several models).
    The session model is fitted on it (42 s here, against 140 s on a third of the articles), and so are the
    tests of machinery: sweeps, diffs, hot reload."""
    directory = tmp_path_factory.mktemp("tiny-corpus")
    return (
        subset_articles(LABELS / "paragraphs.csv", directory / "train.csv", 9),
        subset_articles(LABELS / "paragraphs_test.csv", directory / "test.csv", 4),
    )


@pytest.fixture(scope="session")
def default_config(tiny_corpus: tuple[Path, Path]) -> RunConfig:
    """The shipped default config on the tiny corpus, with 3 CV folds to keep the suite fast."""
    train, test = tiny_corpus
    return load_config(
        None,
        {"data.train": [str(train)], "data.test": [str(test)], "data.labels_dir": str(LABELS), "cv.folds": 3},
    )


@pytest.fixture(scope="session")
def trained(default_config: RunConfig, tmp_path_factory: pytest.TempPathFactory):
    """One training run (no MLflow) shared by the tests: the suite's most expensive fixture.

    `./dev test` runs a pytest-xdist worker per core, each a process with its own session fixtures. The first
    worker to need this model fits it and leaves a copy in the run's shared temp dir; the others wait on the lock
    and read that copy instead of fitting the same model again beside it. The copy is a pickle: written and read
    by this test run only, never a model artifact (those are pickle-free, training/artifact.py).
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:  # one process: nobody to share with
        return train_model(default_config, prepare_data(default_config))
    shared = tmp_path_factory.getbasetemp().parent / "trained-tiny-corpus.pickle"  # the run's dir, not a worker's
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this worker dies
        if shared.exists():
            return pickle.loads(shared.read_bytes())
        result = train_model(default_config, prepare_data(default_config))
        partial = shared.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(result))
        partial.replace(shared)  # a worker that died while writing leaves no half copy under the name
        return result


@pytest.fixture(scope="session")
def bundle(trained) -> ModelBundle:
    return trained.bundle


@pytest.fixture(scope="session")
def saved_bundle(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The session bundle saved to disk, and the digest `save` returned (what the registry would record)."""
    directory = tmp_path_factory.mktemp("bundle")
    return directory, bundle.save(directory)


@pytest.fixture(scope="session")
def bundle_dir(saved_bundle: tuple[Path, str]) -> Path:
    """The session bundle's directory (manifest.json, model.json, arrays.npz)."""
    return saved_bundle[0]


@pytest.fixture(scope="session")
def bundle_sha256(saved_bundle: tuple[Path, str]) -> str:
    """The session bundle's digest: loading a directory needs it (`load_bundle(bundle_dir, bundle_sha256)`)."""
    return saved_bundle[1]
