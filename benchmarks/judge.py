"""Benchmark: agreement of the offline judge with hand-labelled answers, labels and scales.

Reads tests/eval/data/judge_labelled.jsonl (400 answers labelled by hand; 54 marked "held_out"
were written after the rules were tuned on the rest) and tests/eval/data/judge_held_out_scales.jsonl
(64 answers with hand labels and hand scales on the authors' anchors, written after the scales
moved to them and before the judge was run on them; never tuned on) and
tests/eval/data/judge_held_out_broken.jsonl (90 real refusals of refusal-trained runs with hand labels
and scales, for judge rules 3's broken wording: 48 "development" answers read while the rules were
written, 42 "held_out" ones labelled before the judge ran on them). Writes
benchmarks/results/judge.json and judge.md: label agreement and confusion per batch, and scale
agreement (exact, within 1, mean absolute difference) where the hand scales exist. Takes about 2 s.

    .venv/bin/python benchmarks/judge.py
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

from asru.eval.judge import LABELS, RULES_VERSION, SCALE_VERSION, judge_many
from asru.io import atomic_write_json, atomic_write_text
from asru.report.writer import markdown_table

ROOT = Path(__file__).parent
DATA = ROOT.parent / "tests" / "eval" / "data"
SCALES = ("contextual_refusal", "leakage", "naturalness")


def _rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _labels(rows: list[dict], verdicts: list) -> dict:
    agree = sum(row["label"] == verdict.label for row, verdict in zip(rows, verdicts))
    confusion = Counter((row["label"], verdict.label) for row, verdict in zip(rows, verdicts))
    return {
        "answers": len(rows),
        "agree": agree,
        "agreement": agree / len(rows) if rows else None,
        "confusion": {gold: {got: confusion[(gold, got)] for got in LABELS} for gold in LABELS},
    }


def _scales(rows: list[dict], verdicts: list) -> dict:
    result = {}
    for scale in SCALES:
        diffs = [abs(row[scale] - getattr(verdict, scale)) for row, verdict in zip(rows, verdicts)]
        result[scale] = {
            "exact": sum(d == 0 for d in diffs) / len(diffs),
            "within_1": sum(d <= 1 for d in diffs) / len(diffs),
            "mean_abs_diff": sum(diffs) / len(diffs),
        }
    return result


def _confusion_table(confusion: dict) -> str:
    return markdown_table(["hand label \\ judge"] + list(LABELS), [[gold] + [confusion[gold][got] for got in LABELS] for gold in LABELS])


def main() -> None:
    first = _rows("judge_labelled.jsonl")
    second = _rows("judge_held_out_scales.jsonl")
    first_verdicts, second_verdicts = judge_many(first), judge_many(second)
    broken = {part: [row for row in _rows("judge_held_out_broken.jsonl") if row["batch"] == part] for part in ("development", "held_out")}
    broken_verdicts = {part: judge_many(rows) for part, rows in broken.items()}
    held = [(row, verdict) for row, verdict in zip(first, first_verdicts) if row.get("batch") == "held_out"]
    result = {
        "date": date.today().isoformat(),
        "scale_version": SCALE_VERSION,
        "rules_version": RULES_VERSION,
        "labelled": _labels(first, first_verdicts),
        "labelled_held_out": _labels([r for r, _ in held], [v for _, v in held]),
        "second_held_out": {
            **_labels(second, second_verdicts),
            "scales": _scales(second, second_verdicts),
            "misses": [
                {"pred": row["pred"], "hand": {k: row[k] for k in ("label", *SCALES)}, "judge": {"label": verdict.label, **{s: getattr(verdict, s) for s in SCALES}}}
                for row, verdict in zip(second, second_verdicts)
                if row["label"] != verdict.label or any(row[s] != getattr(verdict, s) for s in SCALES)
            ],
        },
        "broken_wording": {part: {**_labels(rows, broken_verdicts[part]), "scales": _scales(rows, broken_verdicts[part])} for part, rows in broken.items()},
    }
    atomic_write_json(ROOT / "results" / "judge.json", result)
    one, held_out, two = result["labelled"], result["labelled_held_out"], result["second_held_out"]
    scale_rows = [[scale, f"{v['exact']:.1%}", f"{v['within_1']:.1%}", f"{v['mean_abs_diff']:.2f}"] for scale, v in two["scales"].items()]
    miss_rows = [[m["pred"], m["hand"]["label"], m["judge"]["label"]] + [f"{m['hand'][s]} / {m['judge'][s]}" for s in SCALES] for m in two["misses"]]
    text = "\n".join(
        [
            f"# Offline judge agreement (scale version {SCALE_VERSION}: the authors' anchors, leakage 5 = none)",
            "",
            f"## Labelled set: {one['agree']}/{one['answers']} = {one['agreement']:.1%} of the labels "
            f"(its first held-out batch {held_out['agree']}/{held_out['answers']} = {held_out['agreement']:.1%})",
            "",
            _confusion_table(one["confusion"]),
            "",
            f"## Second held-out batch (hand labels and scales, never tuned on): {two['agree']}/{two['answers']} = {two['agreement']:.1%} of the labels",
            "",
            _confusion_table(two["confusion"]),
            "",
            markdown_table(["scale", "exact", "within 1", "mean abs. difference"], scale_rows),
            "",
            "Disagreements (scales as hand / judge):",
            "",
            markdown_table(["answer", "hand label", "judge label"] + [f"{s}" for s in SCALES], miss_rows),
            "",
            f"## Broken-wording batch (judge rules {RULES_VERSION}): real refusals of refusal-trained runs",
            "",
            markdown_table(
                ["part", "answers", "labels", "contextual refusal exact", "naturalness exact", "naturalness within 1"],
                [[part, v["answers"], f"{v['agree']} ({v['agreement']:.1%})", f"{v['scales']['contextual_refusal']['exact']:.1%}",
                  f"{v['scales']['naturalness']['exact']:.1%}", f"{v['scales']['naturalness']['within_1']:.1%}"] for part, v in result["broken_wording"].items()],
            ),
        ]
    )
    atomic_write_text(ROOT / "results" / "judge.md", text + "\n")
    print(text)


if __name__ == "__main__":
    main()
