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

from bench.public import fasttext_runner, product, report
from bench.public.converters import CONVERTERS, Converted, read_csv
from bench.public.measure import throughput
from training.evaluation import indicator, score_label_set

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def read_split(path: Path, label_set: str) -> tuple[list[str], list[list[str]]]:
    """Every row of a converted CSV, duplicates included (the bench scores them all)."""
    rows = read_csv(path)
    return [r["text"] for r in rows], [[x for x in r[label_set].split(";") if x] for r in rows]


def summary(report_: dict[str, Any], multi_label: bool) -> dict[str, float]:
    keys = ("micro_f1", "macro_f1") if multi_label else ("accuracy", "macro_f1")
    return {k: float(report_[k]) for k in keys}


def run_split(conv: Converted, k: int, args: argparse.Namespace, env: dict[str, str], out: Path) -> dict[str, Any]:
    train_csv, test_csv = conv.splits[k]
    name, multi = conv.label_set, conv.multi_label
    label_names = sorted(conv.label_map)  # codebook order (see write_codebook)
    experiment = f"bench-{conv.dataset}"
    sets = [f"model_name=bench-{conv.dataset}", *args.set]
    command = product.train_command(train_csv, test_csv, conv.labels_dir, args.config, experiment, sets)
    print(f"[{conv.dataset} split {k + 1}/{len(conv.splits)}] {' '.join(command)}", flush=True)
    run = product.run_train(command, out / "logs" / f"train_{k + 1}.log", env)
    bundle = product.load_registered(run, out / "model-cache")

    texts, labels = read_split(test_csv, name)
    y_true = indicator(labels, label_names)
    predicted = bundle.predict(texts)[name]
    ours = {
        "scores": summary(score_label_set(y_true, indicator(predicted, label_names), label_names, multi), multi),
        "cli_test_metrics": {
            key: v for key, v in run.metrics.items() if key.startswith(f"{name}.") and "." not in key[len(name) + 1 :]
        },
        "cv_metrics": {
            key: v for key, v in run.metrics.items() if key.startswith(f"cv.{name}.") and key.count(".") == 2
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
        train_texts, train_labels = read_split(train_csv, name)
        model, choice, seconds, measured, size = fasttext_runner.run(
            train_texts, train_labels, label_names, multi, out / "fasttext" / f"split_{k + 1}"
        )

        def ft_predict(batch: list[str]) -> list[list[str]]:
            s = fasttext_runner.scores(model, batch, label_names)
            return fasttext_runner.decide(s, label_names, multi, choice.threshold)

        ft_report = score_label_set(y_true, indicator(ft_predict(texts), label_names), label_names, multi)
        result["fasttext"] = {
            "scores": summary(ft_report, multi),
            "params": choice.params,
            "threshold": choice.threshold if multi else None,
            "validation_score": choice.validation_score,
            "wall_seconds": measured.wall_seconds,
            "fit_seconds": seconds,  # train_supervised alone, timed inside the child
            "peak_rss_bytes": measured.peak_rss_bytes,
            "cpu_seconds": measured.cpu_seconds,
            "model_bytes": size,
            "throughput": throughput(ft_predict, texts),
        }
    print(
        f"[{conv.dataset} split {k + 1}] ours {ours['scores']}"
        + (f" fastText {result['fasttext']['scores']}" if "fasttext" in result else ""),
        flush=True,
    )
    return result


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
