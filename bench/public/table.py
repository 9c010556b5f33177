"""`python -m bench.public.table OUT...`: one markdown table from several benchmark output folders."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.public.report import HEADER, PUBLISHED, row


def combined(outs: list[Path]) -> str:
    lines = [HEADER]
    notes = []
    for out in outs:
        results = json.loads((out / "results.json").read_text())
        dataset, multi = results["dataset"], results["multi_label"]
        lines.append(row(dataset, "**topicframe**", results["ours"], multi))
        if results.get("fasttext"):
            lines.append(row(dataset, "fastText", results["fasttext"], multi))
        lines.append(f"| {dataset} | published | {PUBLISHED[dataset]} | | | | | | |")
        t = results.get("targets")
        if t:
            notes.append(
                f"- {dataset}: beats fastText on every score: **{'yes' if t['beats_fasttext'] else 'no'}**; "
                f"fit ≤ 3× fastText: **{'yes' if t['fit_within_3x'] else 'no'}** ({t['fit_ratio']:.1f}× fit, "
                f"{t['cpu_ratio']:.1f}× process CPU, {t['wall_ratio']:.1f}× process wall); "
                f"load average at end {results['machine']['load_average_at_end']}"
            )
    return "\n".join(lines) + "\n\n" + "\n".join(notes) + "\n"


if __name__ == "__main__":
    print(combined([Path(p) for p in sys.argv[1:]]))
