"""`topicframe feedback export` and retraining on its CSV (`--prefer-feedback`), on a real SQLite store."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import LABELS
from training.cli import app
from training.codebook import Codebook
from training.dataset import DataValidationError, load_labelled_data
from training.feedback.store import Correction, FeedbackStore, open_store

runner = CliRunner()


def corpus_row(corpus: Path) -> dict[str, str]:
    """The first body paragraph with a topic: the one the corrections below contradict."""
    with corpus.open(newline="", encoding="utf-8") as f:
        return next(row for row in csv.DictReader(f) if row["role"] == "body" and row["topic"])


@pytest.fixture
def store(tmp_path: Path) -> FeedbackStore:
    return open_store(f"sqlite:///{tmp_path / 'feedback.db'}")


@pytest.fixture
def corrected(store: FeedbackStore, tiny_corpus: tuple[Path, Path]) -> dict[str, str]:
    """Four corrections: two of one corpus paragraph (the newer one wins), a caption, one without a role."""
    row = corpus_row(tiny_corpus[0])
    wrong = "climate" if "climate" not in row["topic"] else "trade"
    store.add(Correction(text=row["text"], labels={"topic": ["security"], "frame": []}, role="body"))
    store.add(Correction(text=row["text"], labels={"topic": [wrong, "economy"], "frame": ["conflict"]}, role="body"))
    store.add(Correction(text="Photograph: A. Reader", labels={"topic": [], "frame": []}, role="caption"))
    store.add(Correction(text="A new paragraph on tariffs.", labels={"topic": ["trade"], "frame": []}, article_id="Z1"))
    return {"text": row["text"], "topic": f"{wrong};economy", "frame": "conflict"}


def export(url: str, out: Path, *extra: str) -> tuple[int, str]:
    result = runner.invoke(
        app, ["feedback", "export", "--out", str(out), "--url", url, "--labels", str(LABELS), *extra]
    )
    return result.exit_code, result.output


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_export_writes_the_newest_correction_of_each_text_in_the_training_format(
    store: FeedbackStore, corrected: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "corrections.csv"
    code, output = export(store.url, out)
    assert code == 0, output
    assert "wrote 3 correction(s)" in output and "1 older correction(s)" in output
    # The retraining hint names the codebooks' folder it was given (it said labels/ from anywhere).
    hint = f"--data {LABELS.as_posix()}/paragraphs.csv --data {out} --test-data {LABELS.as_posix()}/paragraphs_test.csv"
    assert hint in " ".join(output.split()) and f"--labels {LABELS.as_posix()}" in " ".join(output.split())
    rows = read(out)
    assert list(rows[0]) == ["id", "article_id", "text", "frame", "topic", "role", "sent_article_id"]
    by_text = {row["text"]: row for row in rows}
    assert by_text[corrected["text"]]["topic"] == corrected["topic"]  # the newer of the two
    assert by_text[corrected["text"]]["frame"] == "conflict"
    assert by_text["Photograph: A. Reader"]["role"] == "caption" and by_text["Photograph: A. Reader"]["topic"] == ""
    no_role = by_text["A new paragraph on tariffs."]
    assert no_role["role"] == "body"
    # Its own group in training (a corpus article "Z1" would have taken it in); the id sent is kept beside it.
    assert no_role["article_id"] == "" and no_role["sent_article_id"] == "Z1"
    assert all(row["id"].startswith("feedback-") for row in rows)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_export_refuses_an_existing_file_unless_overwrite(
    store: FeedbackStore, corrected: dict, tmp_path: Path
) -> None:
    out = tmp_path / "corrections.csv"
    out.write_text("keep me\n")
    code, output = export(store.url, out)
    refused = f"error: {out}: already exists (pass --overwrite to replace it)"  # as every command words it
    assert code == 1 and output.strip().splitlines() == [refused]
    assert out.read_text() == "keep me\n"
    code, output = export(store.url, out, "--overwrite")
    assert code == 0, output
    assert len(read(out)) == 3


def test_export_leaves_out_corrections_of_paragraphs_in_an_excluded_file(
    store: FeedbackStore, corrected: dict, tiny_corpus: tuple[Path, Path], tmp_path: Path
) -> None:
    """A correction of a test paragraph is a leak training refuses; without a way to leave it out of the export,
    it stopped every retraining (a tester edited the CSV by hand)."""
    test_like = tmp_path / "test.csv"
    test_like.write_text(f'id,text,topic\nt1,"<p>{corrected["text"]}</p>",trade\n', encoding="utf-8")
    out = tmp_path / "corrections.csv"
    code, output = export(store.url, out, "--exclude", str(test_like))
    assert code == 0, output
    assert "1 correction(s) of paragraphs in" in " ".join(output.split())
    assert sorted(row["text"] for row in read(out)) == ["A new paragraph on tariffs.", "Photograph: A. Reader"]
    no_text = tmp_path / "ids.csv"
    no_text.write_text("id\nt1\n")
    code, output = export(store.url, tmp_path / "x.csv", "--exclude", str(no_text))
    assert code == 1 and f"--exclude {no_text}: no 'text' column" in output and not (tmp_path / "x.csv").exists()


def test_export_since_and_bad_input(store: FeedbackStore, corrected: dict, tmp_path: Path) -> None:
    code, output = export(store.url, tmp_path / "none.csv", "--since", "2999-01-01")
    assert code == 0 and read(tmp_path / "none.csv") == []
    code, output = export(store.url, tmp_path / "x.csv", "--since", "last tuesday")
    assert code == 1 and "--since: 'last tuesday' is not an ISO date" in output
    code, output = export(store.url, tmp_path / "x.csv", "--since", "9999-12-31T23:59:59-05:00")
    assert code == 1 and "--since: 9999-12-31T23:59:59-05:00 is outside the years 1-9999 once" in output
    code, output = export(f"sqlite:///{tmp_path / 'missing.db'}", tmp_path / "y.csv")
    assert code == 1 and "no feedback store at" in output and not (tmp_path / "missing.db").exists()
    code, output = export("mysql://u@h/db", tmp_path / "z.csv")
    assert code == 1 and "'mysql' databases are not supported" in output
    code, output = export(store.url, tmp_path / "x.csv", "--labels", str(tmp_path / "no-labels"))
    assert code == 1 and "no-labels: labels directory not found" in output  # not a CSV training then refuses
    assert not any((tmp_path / name).exists() for name in ("x.csv", "y.csv", "z.csv"))


def test_a_correction_contradicting_the_corpus_is_a_conflict_unless_feedback_is_preferred(
    store: FeedbackStore,
    corrected: dict[str, str],
    tiny_corpus: tuple[Path, Path],
    codebooks: dict[str, Codebook],
    tmp_path: Path,
) -> None:
    out = tmp_path / "corrections.csv"
    assert export(store.url, out)[0] == 0
    files = [tiny_corpus[0], out]
    with pytest.raises(DataValidationError) as conflict:
        load_labelled_data(files, codebooks)
    assert any(f"{out}:" in str(p) and "different labels" in p.message for p in conflict.value.problems)

    data = load_labelled_data(files, codebooks, prefer_feedback=True)
    rows = [i for i, text in enumerate(data.texts) if text == corrected["text"]]
    assert rows and all(";".join(data.labels["topic"][i]) == corrected["topic"] for i in rows)
    assert all(data.labels["frame"][i] == ("conflict",) for i in rows)
    assert "A new paragraph on tariffs." in data.texts
    assert any("1 row(s) overridden" in p.message for p in data.warnings)
    # The corpus row keeps its id and its place in its article, and the correction of it is dropped, whatever
    # the order of the files (read first, the correction was the copy kept, at the top of the article).
    corpus_id = corpus_row(tiny_corpus[0])["id"]
    assert [data.ids[i] for i in rows] == [corpus_id]
    reversed_order = load_labelled_data(files[::-1], codebooks, prefer_feedback=True)
    by_article = {
        order: [(a, i) for a, i in zip(d.article_ids, d.ids, strict=True) if not i.startswith("feedback-")]
        for order, d in (("corpus first", data), ("corrections first", reversed_order))
    }
    assert by_article["corpus first"] == by_article["corrections first"]
    assert sorted(reversed_order.ids) == sorted(data.ids) and len(reversed_order) == len(data)


def test_train_prefer_feedback_flag_resolves_the_conflict_and_says_how_many_rows(
    store: FeedbackStore,
    corrected: dict[str, str],
    tiny_corpus: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")  # never reached: see below
    out = tmp_path / "corrections.csv"
    assert export(store.url, out)[0] == 0
    # An impossible label floor under --strict stops `train` right after validation, before anything is fitted.
    stop = ["--set", "data.min_positives=1000000", "--strict", "--no-register", "--labels", str(LABELS)]
    preferred = runner.invoke(
        app, ["train", "--data", str(tiny_corpus[0]), "--data", str(out), "--prefer-feedback", *stop]
    )
    assert preferred.exit_code == 1, preferred.output
    assert "different labels" not in preferred.output and "1 row(s) overridden" in preferred.output
    # With a test file too, the corrections apply to the training data only: no "0 rows overridden" for the test.
    with_test = runner.invoke(
        app,
        ["train", "--data", str(tiny_corpus[0]), "--data", str(out), "--test-data", str(tiny_corpus[1]),
         "--prefer-feedback", *stop],
    )  # fmt: skip
    assert with_test.exit_code == 1, with_test.output
    assert with_test.output.count("--prefer-feedback:") == 1 and "1 row(s) overridden" in with_test.output
    assert not (tmp_path / "mlflow.db").exists()


def test_a_correction_sent_again_is_the_latest_and_markup_is_one_paragraph(
    store: FeedbackStore, tmp_path: Path
) -> None:
    """Sent A, then B, then A again: A is the user's latest word (the export kept B, by id). And a paragraph
    sent with and without its tags is one paragraph, as training reads it (both were exported, a conflict)."""
    text = "Customs officers seized the shipment under the forced labour law."
    a = Correction(text=text, labels={"topic": ["trade", "human_rights"], "frame": ["responsibility"]}, role="body")
    b = Correction(text=text, labels={"topic": ["trade"], "frame": []}, role="body")
    first, _, again = store.add(a), store.add(b), store.add(a)
    assert again.duplicate and again.id == first.id
    store.add(Correction(text="<p>Talks <b>resumed</b> in Doha</p>", labels={"topic": ["diplomacy"], "frame": []}))
    store.add(Correction(text="Talks resumed in Doha", labels={"topic": ["security"], "frame": []}))
    out = tmp_path / "corrections.csv"
    code, output = export(store.url, out)
    assert code == 0, output
    rows = {row["text"]: row for row in read(out)}
    assert set(rows[text]["topic"].split(";")) == {"trade", "human_rights"} and rows[text]["frame"] == "responsibility"
    assert [row["topic"] for t, row in rows.items() if "Doha" in t] == ["security"]  # the newer, once


def test_a_store_made_before_last_sent_at_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    """Migration 0002 on a database at 0001 with a row: the row is kept, its last send is its creation."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    import training.feedback.store as feedback_store

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(Path(feedback_store.__file__).with_name("migrations")))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            sa.text(
                "INSERT INTO feedback (content_hash, created_at, text, labels) "
                "VALUES ('h', '2026-12-01 10:00:00', 'Envoys met in Doha.', '{\"topic\": [\"diplomacy\"]}')"
            )
        )
    engine.dispose()
    store = open_store(url)
    (item,) = store.list()
    assert item.correction.text == "Envoys met in Doha." and item.sent_at == item.created_at
    with store.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0002"
