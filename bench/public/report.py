"""Markdown rows and the results JSON of one benchmark run."""

from __future__ import annotations

import json
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Published figures as given in ../shared/data (README and PROVENANCE files); "recalled" ones are
# quoted from memory of the papers there and are marked so in the docs.
PUBLISHED = {
    "reuters": "Yang & Liu 1999 SVM: micro-F1 0.860 / macro-F1 0.525 (recalled)",
    "nyt": "CAP-style SVM topic coding ≈ 0.70–0.80 accuracy (recalled, vague)",
    "gvfc": "Liu et al. 2019 fine-tuned BERT ≈ 0.84 accuracy (recalled)",
    "bbc": "TF-IDF + linear SVM ≈ 0.98 accuracy (usual figure)",
    "default": "none (the project's own corpus)",
}

HEADER = (
    "| dataset | system | score | train wall s | fit s | train CPU s | peak RSS MB | model MB | predict para/s |\n"
    "|---|---|---|---:|---:|---:|---:|---:|---:|"
)


def score_text(scores: dict[str, float], multi_label: bool) -> str:
    if any("." in key for key in scores):  # several label sets: "topic.micro_f1", "frame.micro_f1", ...
        names = list(dict.fromkeys(key.split(".", 1)[0] for key in scores))
        parts = {name: _unprefixed(scores, name) for name in names}
        return "; ".join(f"{name} {score_text(part, 'micro_f1' in part)}" for name, part in parts.items())
    if multi_label:
        return f"micro-F1 {scores['micro_f1']:.4f} / macro-F1 {scores['macro_f1']:.4f}"
    return f"acc {scores['accuracy']:.4f} / macro-F1 {scores['macro_f1']:.4f}"


def _unprefixed(scores: dict[str, float], name: str) -> dict[str, float]:
    return {key.split(".", 1)[1]: value for key, value in scores.items() if key.startswith(f"{name}.")}


def row(dataset: str, system: str, result: dict[str, Any], multi_label: bool) -> str:
    mb = 1024 * 1024
    return (
        f"| {dataset} | {system} | {score_text(result['scores'], multi_label)} | {result['wall_seconds']:.1f} | "
        f"{result['fit_seconds']:.1f} | {result['cpu_seconds']:.1f} | {result['peak_rss_bytes'] / mb:.0f} | "
        f"{result['model_bytes'] / mb:.1f} | "
        f"{result['throughput']:.0f} |"
    )


def machine() -> dict[str, str]:
    """CPU model, core count and load: other people run tests on this machine at the same time."""
    model = "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), model)
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    import os

    return {
        "cpu": model,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_at_end": load,
    }


def write(out: Path, results: dict[str, Any]) -> str:
    """Write ``results.json`` and ``results.md``; return the markdown."""
    multi = results["multi_label"]
    dataset = results["dataset"]
    lines = [HEADER, row(dataset, "topicframe (ours)", results["ours"], multi)]
    if results.get("fasttext"):
        lines.append(row(dataset, "fastText", results["fasttext"], multi))
    lines.append(f"| {dataset} | published | {PUBLISHED[dataset]} | | | | | | |")
    targets = results.get("targets", {})
    if targets:
        lines.append("")
        lines.append(
            f"Targets: beats fastText on every score: {targets['beats_fasttext']}; "
            f"fit within 3× fastText's training time: {targets['fit_within_3x']} "
            f"({targets['fit_ratio']:.1f}×; process CPU {targets['cpu_ratio']:.1f}×; "
            f"end-to-end wall {targets['wall_ratio']:.1f}×)."
        )
    m = results["machine"]
    lines.append(
        f"Machine: {m['cpu']}, {m['cores']} cores; {m['date']}; load average at end {m['load_average_at_end']}."
    )
    markdown = "\n".join(lines) + "\n"
    (out / "results.json").write_text(json.dumps(results, indent=2))
    (out / "results.md").write_text(markdown)
    return markdown
