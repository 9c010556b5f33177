"""`python -m bench.public DATASET --data DIR --out DIR`: one public benchmark, end to end.

1. convert the dataset into project CSVs + a codebook under ``OUT/converted``;
2. run the real ``topicframe train`` CLI per split (one split, or one per CV fold)
   against ``MLFLOW_TRACKING_URI`` (default: ``OUT/mlflow.db``) and read the run's metrics;
3. load the registered ModelBundle, score every test row and time batch prediction;
4. tune (on a validation part of train) and train fastText on the same split;
5. write ``OUT/results.{json,md}`` and print the markdown rows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from bench.public import fasttext_runner, product, report
from bench.public.converters import CONVERTERS, Converted, read_csv
from bench.public.measure import throughput
from training.evaluation import indicator, score_label_set

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def read_split(path: Path, label_set: str) -> tuple[list[str], list[list[str]]]:
    """Every row of a converted CSV, duplicates included (the bench scores them all)."""
    rows = read_csv(path)
    return [r["text"] for r in rows], [[x for x in r[label_set].split(";") if x] for r in rows]


def codebook_labels(labels_dir: Path, label_set: str) -> tuple[list[str], bool]:
    """A codebook's label names in codebook order, and whether the set is multi-label."""
    codebook = yaml.safe_load((labels_dir / f"{label_set}.yaml").read_text())
    return [label["name"] for label in codebook["labels"]], bool(codebook.get("multi_label", False))


def summary(report_: dict[str, Any], multi_label: bool, prefix: str = "") -> dict[str, float]:
    return {prefix + k: float(report_[k]) for k in report_keys(multi_label)}


def run_split(conv: Converted, k: int, args: argparse.Namespace, env: dict[str, str], out: Path) -> dict[str, Any]:
    train_csv, test_csv = conv.splits[k]
    sets = {name: codebook_labels(conv.labels_dir, name) for name in conv.label_sets}
    # One set keeps the plain metric names of the earlier results; several are named "set.metric".
    prefixes = {name: f"{name}." if len(sets) > 1 else "" for name in sets}
    experiment = f"bench-{conv.dataset}"
    overrides = [f"model_name=bench-{conv.dataset}", *args.set]
    command = product.train_command(train_csv, test_csv, conv.labels_dir, args.config, experiment, overrides)
    command += ["--jobs", str(args.jobs)] if args.jobs else []
    print(f"[{conv.dataset} split {k + 1}/{len(conv.splits)}] {' '.join(command)}", flush=True)
    run = product.run_train(command, out / "logs" / f"train_{k + 1}.log", env)
    bundle = product.load_registered(run, out / "model-cache")

    texts = [r["text"] for r in read_csv(test_csv)]
    truth = {name: indicator(read_split(test_csv, name)[1], labels) for name, (labels, _) in sets.items()}
    scores: dict[str, float] = {}
    if conv.scored_as_articles:  # the run's test metrics: paragraphs read as articles, the role rule applied
        for name, (_, multi) in sets.items():
            scores |= summary({key: run.metrics[f"{name}.{key}"] for key in report_keys(multi)}, multi, prefixes[name])
    else:
        predicted = bundle.predict(texts)
        for name, (labels, multi) in sets.items():
            y_pred = indicator(predicted[name], labels)
            scores |= summary(score_label_set(truth[name], y_pred, labels, multi), multi, prefixes[name])
    ours = {
        "scores": scores,
        "cli_test_metrics": {
            key: v
            for key, v in run.metrics.items()
            if any(key.startswith(f"{name}.") and "." not in key[len(name) + 1 :] for name in sets)
        },
        "cv_metrics": {
            key: v
            for key, v in run.metrics.items()
            if any(key.startswith(f"cv.{name}.") for name in sets) and key.count(".") == 2
        },
        "wall_seconds": run.wall_seconds,
        "fit_seconds": run.metrics["fit_seconds"],
        "peak_rss_bytes": run.peak_rss_bytes,
        "cpu_seconds": run.cpu_seconds,
        "model_bytes": run.metrics["model_size_bytes"],
        "throughput": throughput(bundle.predict, texts),
        "run_id": run.run_id,
        "model": f"models:/{run.model_name}/{run.version}",
        "command": command,
    }
    result: dict[str, Any] = {"ours": ours, "n_test": len(texts)}
    if not args.skip_fasttext:
        result["fasttext"] = run_fasttext(train_csv, texts, truth, sets, prefixes, out / "fasttext" / f"split_{k + 1}")
    print(
        f"[{conv.dataset} split {k + 1}] ours {ours['scores']}"
        + (f" fastText {result['fasttext']['scores']}" if "fasttext" in result else ""),
        flush=True,
    )
    return result


def report_keys(multi_label: bool) -> tuple[str, ...]:
    return ("micro_f1", "macro_f1") if multi_label else ("accuracy", "macro_f1")


def run_fasttext(
    train_csv: Path,
    texts: list[str],
    truth: dict[str, np.ndarray],
    sets: dict[str, tuple[list[str], bool]],
    prefixes: dict[str, str],
    workdir: Path,
) -> dict[str, Any]:
    """One fastText model per label set (``-loss ova`` for multi-label sets), on the same rows; with several
    sets, times, CPU and model sizes add up and peak RSS is the largest (the models are trained one by one)."""
    runs = {}
    for name, (labels, multi) in sets.items():
        train_texts, train_labels = read_split(train_csv, name)
        where = workdir if len(sets) == 1 else workdir / name
        runs[name] = fasttext_runner.run(train_texts, train_labels, labels, multi, where)

    def ft_predict(batch: list[str]) -> dict[str, list[list[str]]]:
        decided = {}
        for name, (model, choice, *_) in runs.items():
            labels, multi = sets[name]
            decided[name] = fasttext_runner.decide(
                fasttext_runner.scores(model, batch, labels), labels, multi, choice.threshold
            )
        return decided

    predicted = ft_predict(texts)
    scores: dict[str, float] = {}
    for name, (labels, multi) in sets.items():
        report_ = score_label_set(truth[name], indicator(predicted[name], labels), labels, multi)
        scores |= summary(report_, multi, prefixes[name])
    first = runs[next(iter(runs))]
    return {
        "scores": scores,
        "params": first[1].params if len(runs) == 1 else {name: r[1].params for name, r in runs.items()},
        "threshold": (
            first[1].threshold
            if len(runs) == 1
            else {name: r[1].threshold for name, r in runs.items() if sets[name][1]}
        ),
        "validation_score": (
            first[1].validation_score if len(runs) == 1 else {name: r[1].validation_score for name, r in runs.items()}
        ),
        "wall_seconds": sum(r[3].wall_seconds for r in runs.values()),
        "fit_seconds": sum(r[2] for r in runs.values()),  # train_supervised alone, timed inside the child
        "peak_rss_bytes": max(r[3].peak_rss_bytes for r in runs.values()),
        "cpu_seconds": sum(r[3].cpu_seconds for r in runs.values()),
        "model_bytes": sum(r[4] for r in runs.values()),
        "throughput": throughput(ft_predict, texts),
    }


def average(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean over CV folds of every number (peak RSS: the maximum); non-numbers from the first fold."""
    merged: dict[str, Any] = {}
    for key, value in parts[0].items():
        if isinstance(value, dict):
            merged[key] = (
                average([p[key] for p in parts]) if all(isinstance(v, float | int) for v in value.values()) else value
            )
        elif isinstance(value, float | int) and not isinstance(value, bool):
            values = [p[key] for p in parts]
            merged[key] = max(values) if key == "peak_rss_bytes" else float(np.mean(values))
        else:
            merged[key] = value
    return merged


def targets(ours: dict[str, Any], fasttext: dict[str, Any]) -> dict[str, Any]:
    return {
        "beats_fasttext": all(ours["scores"][k] > fasttext["scores"][k] for k in ours["scores"]),
        "fit_ratio": ours["fit_seconds"] / fasttext["fit_seconds"],
        "fit_within_3x": ours["fit_seconds"] <= 3 * fasttext["fit_seconds"],
        "wall_ratio": ours["wall_seconds"] / fasttext["wall_seconds"],
        "cpu_ratio": ours["cpu_seconds"] / fasttext["cpu_seconds"],
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.public", description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(CONVERTERS))
    parser.add_argument("--data", type=Path, required=True, help="the dataset's folder, e.g. ../shared/data/bbc_news")
    parser.add_argument("--out", type=Path, required=True, help="output folder (converted CSVs, MLflow store, results)")
    parser.add_argument("--config", type=Path, help="run config (default bench/configs/DATASET.yaml)")
    parser.add_argument("--set", action="append", default=[], help="extra `topicframe train --set KEY=VALUE`")
    parser.add_argument("--skip-fasttext", action="store_true", help="only run topicframe")
    parser.add_argument("--jobs", type=int, help="`topicframe train --jobs N` (default: its own, every usable core)")
    args = parser.parse_args(argv)
    args.config = args.config or CONFIGS / f"{args.dataset}.yaml"
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    default_store = "MLFLOW_TRACKING_URI" not in os.environ
    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{out / 'mlflow.db'}"
    os.environ["MLFLOW_TRACKING_URI"] = uri  # load_model in this process reads the same store
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}

    conv = CONVERTERS[args.dataset](args.data.resolve(), out / "converted")
    conv.save(out / "conversion.json")
    for note in conv.notes:
        print(f"[{args.dataset}] conversion: {note}", flush=True)
    product.ensure_experiment(uri, f"bench-{args.dataset}", out / "mlartifacts" if default_store else None)

    parts = [run_split(conv, k, args, env, out) for k in range(len(conv.splits))]
    results: dict[str, Any] = {
        "dataset": args.dataset,
        "multi_label": conv.multi_label,
        "splits": len(parts),
        "config": str(args.config),
        "extra_sets": args.set,
        "jobs": args.jobs,
        "conversion": {"notes": conv.notes, "counts": conv.counts, "label_map": conv.label_map},
        "ours": average([p["ours"] for p in parts]),
        "per_split": parts,
        "tracking_uri": uri,
    }
    if not args.skip_fasttext:
        results["fasttext"] = average([p["fasttext"] for p in parts])
        results["targets"] = targets(results["ours"], results["fasttext"])
    results["machine"] = report.machine()
    print(report.write(out, results))


if __name__ == "__main__":
    main()
