"""Benchmark: agreement of the offline judge with the hand-labelled answers.

Reads tests/eval/data/judge_labelled.jsonl (400 answers labelled by hand; 54 marked
"held_out" were written after the rules were tuned on the rest). Writes
benchmarks/results/judge.json and judge.md, with the confusion matrix.

    .venv/bin/python benchmarks/judge.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from asru.eval.judge import LABELS, judge_many
from asru.io import atomic_write_json, atomic_write_text
from asru.report.writer import markdown_table

ROOT = Path(__file__).parent
DATA = ROOT.parent / "tests" / "eval" / "data" / "judge_labelled.jsonl"


def main() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    verdicts = judge_many(rows)
    pairs = [(row["label"], verdict.label, row.get("batch")) for row, verdict in zip(rows, verdicts)]
    agree = sum(gold == got for gold, got, _ in pairs)
    held = [(gold, got) for gold, got, batch in pairs if batch == "held_out"]
    confusion = Counter((gold, got) for gold, got, _ in pairs)
    result = {
        "answers": len(rows),
        "agreement": agree / len(rows),
        "held_out_answers": len(held),
        "held_out_agreement": sum(g == p for g, p in held) / max(len(held), 1),
        "confusion": {gold: {got: confusion[(gold, got)] for got in LABELS} for gold in LABELS},
    }
    atomic_write_json(ROOT / "results" / "judge.json", result)
    table = markdown_table(["hand label \\ judge"] + list(LABELS), [[gold] + [confusion[(gold, got)] for got in LABELS] for gold in LABELS])
    text = (
        f"# Offline judge agreement\n\n{agree}/{len(rows)} = {result['agreement']:.1%} overall; "
        f"held-out batch {sum(g == p for g, p in held)}/{len(held)} = {result['held_out_agreement']:.1%}\n\n{table}\n"
    )
    atomic_write_text(ROOT / "results" / "judge.md", text)
    print(text)


if __name__ == "__main__":
    main()
