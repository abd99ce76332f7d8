"""Benchmark: ASRU's acceptance bars on the embedded world (issue 6), and where stage 1 takes its loss.

(Not named asru.py: a script in benchmarks/ called asru.py would shadow the asru package.)

Runs, through `asru bench` (resumable, one folder per run under benchmarks/results/asru_runs/):
ASRU with its default config and the three stage-1 loss positions alone, in the Complete (10 % of
the people) and Selective settings, plus the target model for reference. Then checks each bar and
writes benchmarks/results/asru.json and asru.md.

Bars (Complete): forget leakage <= 5 % and refusal >= 90 % on image and on text questions;
retain-other accuracy >= 95 % of the target's; naturalness of forget answers >= 4 / 5; whole ASRU
run <= 10 minutes. Selective: the forgotten people's other facts keep >= 90 % of the target's accuracy.
Each bar is checked on all question forms and on the qa form alone (the form the target model
was trained on: it answers cloze and multiple-choice forms far less often, so "all forms" numbers
mix real forgetting with questions the target never knew).

    .venv/bin/python benchmarks/asru_bars.py            # ~20 minutes on 2 CPU cores
    .venv/bin/python benchmarks/asru_bars.py --workers 2  # ~10 minutes: two runs side by side
    .venv/bin/python benchmarks/asru_bars.py --quick    # seconds-scale smoke on a tiny world (numbers meaningless)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console

from asru.bench import BenchConfig, machine_info, run_bench
from asru.io import atomic_write_json, atomic_write_text
from asru.pipeline import versions
from asru.report.writer import markdown_table

RESULTS = Path(__file__).parent / "results"
METHODS_FILE = Path(__file__).parent.parent / "configs" / "bench" / "asru.yaml"
ROWS = ["target", "asru", "stage1_response", "stage1_tokens", "stage1_last"]


def _get(results: dict | None, split: str, group: str, metric: str) -> float | None:
    try:
        value = results["metrics"][split][group][metric]
    except (KeyError, TypeError):
        return None
    return float(value) if value is not None else None


def _form_metric(results: dict | None, split: str, modality: str, form: str, metric: str) -> float | None:
    """A metric over one modality, either all forms or the qa form alone (from the per-form table)."""
    return _get(results, split, modality if form == "all" else f"{modality}_{form}", metric)


def _load(out: Path, setting: str, row: str) -> dict | None:
    path = out / "runs" / setting / row / "seed0" / "results.json"
    return json.loads(path.read_text()) if path.is_file() else None


def _wall(out: Path, setting: str, row: str) -> float | None:
    path = out / "runs" / setting / row / "seed0" / "bench_time.json"
    if not path.is_file():
        return None
    return float(sum(json.loads(path.read_text()).get("attempts", [])))


def bars(out: Path) -> list[dict]:
    """Every acceptance bar, measured, with pass/fail."""
    target_c, asru_c = _load(out, "complete", "target"), _load(out, "complete", "asru")
    target_s, asru_s = _load(out, "selective", "target"), _load(out, "selective", "asru")
    rows = []

    def add(name, form, value, goal, passed):
        rows.append({"bar": name, "forms": form, "value": value, "goal": goal, "pass": None if value is None else bool(passed)})

    for form in ("qa", "all"):
        for modality in ("image", "text"):
            leak = _form_metric(asru_c, "forget", modality, form, "leakage")
            refusal = _form_metric(asru_c, "forget", modality, form, "refusal_rate")
            add(f"complete: forget leakage ({modality})", form, leak, "<= 0.05", leak is not None and leak <= 0.05)
            add(f"complete: forget refusal ({modality})", form, refusal, ">= 0.90", refusal is not None and refusal >= 0.90)
        group = "all" if form == "all" else "qa"
        kept, before = _get(asru_c, "retain_other", group, "exact_match"), _get(target_c, "retain_other", group, "exact_match")
        ratio = kept / before if kept is not None and before else None
        add("complete: retain other / target", form, ratio, ">= 0.95", ratio is not None and ratio >= 0.95)
        kept, before = _get(asru_s, "retain_same_subject", group, "exact_match"), _get(target_s, "retain_same_subject", group, "exact_match")
        ratio = kept / before if kept is not None and before else None
        add("selective: same person's other facts / target", form, ratio, ">= 0.90", ratio is not None and ratio >= 0.90)
    naturalness = _get(asru_c, "forget", "judge", "naturalness")
    add("complete: naturalness of forget answers", "all", naturalness, ">= 4.0", naturalness is not None and naturalness >= 4.0)
    wall = _wall(out, "complete", "asru")
    add("complete: whole ASRU run (train + eval), seconds", "-", wall, "<= 600", wall is not None and wall <= 600)
    return rows


def comparison(out: Path) -> list[list]:
    """Stage-1 positions (and full ASRU) side by side, Complete setting."""
    table = []
    for row in ROWS:
        r = _load(out, "complete", row)
        if r is None:
            continue
        judge = r["metrics"]["forget"].get("judge", {})
        table.append([
            row,
            _get(r, "forget", "qa", "leakage"), _get(r, "forget", "image", "refusal_rate"), _get(r, "forget", "text", "refusal_rate"),
            _get(r, "retain_other", "qa", "exact_match"), _get(r, "utility", "all", "exact_match"), judge.get("naturalness"),
            judge.get("labels", {}).get("refusal_contextual"), _wall(out, "complete", row),
        ])
    return table


def fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny world and target, few steps (a smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="where asru.json/.md and the runs go (default benchmarks/results)")
    parser.add_argument("--workers", type=int, default=1, help="runs at a time, each in its own process (asru bench --workers)")
    args = parser.parse_args()
    results_dir = args.out or (RESULTS / "quick" if args.quick else RESULTS)
    runs_dir = results_dir / "asru_runs"
    console = Console()
    started = time.perf_counter()
    config = BenchConfig(out=str(runs_dir), methods_file=str(METHODS_FILE), settings=["complete", "selective"], seeds=[0], attacks=[], quick=args.quick, workers=args.workers)
    summary = run_bench(config, console)
    measured = bars(runs_dir)
    table = comparison(runs_dir)
    record = {
        "benchmark": "asru", "date": summary.get("date"), "machine": machine_info(), "versions": versions(),
        "quick": args.quick, "bars": measured, "stage1_positions": [dict(zip(COLUMNS, row)) for row in table],
        "seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_json(results_dir / "asru.json", record)
    lines = [
        "# ASRU acceptance bars (embedded world, seed 0)", "",
        f"{record['date']}; {record['machine'].get('platform')}, {record['machine'].get('cpu_count')} CPUs; torch {record['versions'].get('torch')}"
        + ("; **quick mode: tiny world and target, numbers meaningless**" if args.quick else ""), "",
        markdown_table(["bar", "forms", "measured", "goal", "pass"], [[b["bar"], b["forms"], fmt(b["value"]), b["goal"], {True: "yes", False: "**no**", None: "–"}[b["pass"]]] for b in measured]),
        "", "## Stage-1 loss positions (Complete, 10 % of the people)", "",
        markdown_table(COLUMNS, [[fmt(v) for v in row] for row in table]), "",
    ]
    atomic_write_text(results_dir / "asru.md", "\n".join(lines))
    console.print("\n".join(lines))


COLUMNS = ["row", "forget qa leak", "refusal image", "refusal text", "retain other qa", "utility", "naturalness", "contextual refusal", "wall s"]

if __name__ == "__main__":
    main()
