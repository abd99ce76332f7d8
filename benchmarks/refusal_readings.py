"""Benchmark: what ASRU's finished runs show about its refusals and hidden states (issue 21), per run.

The run folders `asru bench` and `benchmarks/asru_defaults.py` leave are not committed; this summary of
them is, so that the README's reading of contextual refusals quotes a JSON, not a one-off. Per run
folder (given as ``LABEL=GLOB``, the glob matching run folders, relative to the repository root or
absolute):

- the contextual share of the forget answers (the judge's ``refusal_contextual`` over the labelled
  forget answers, as ``benchmarks/asru_defaults.py`` counts it);
- stage 1's refusal-text NLL over its last 20 logged steps (``train_log.json``): how well it learnt the
  refusal text;
- the linear probe's best-layer recovery of the forget facts and its largest gap to the oracle's
  (``results.json``: what the audit checks);
- its rigid refusals by the judge's reason (:attr:`asru.eval.judge.Judgement.rigid_cause`), also by
  question form and modality.

Writes ``OUT/refusal_readings.json`` and ``.md``; no model is loaded, it takes seconds.

    .venv/bin/python benchmarks/refusal_readings.py \\
        grid=benchmarks/results/runs/validation/*/asru/g*/seed100 \\
        test=benchmarks/results/runs/*/asru/seed* \\
        steps480=benchmarks/results/asru_defaults_runs/stage1_steps480/*/seed100

The committed JSON (2026-12-05) also holds ``test_strangers_off`` (the test rows of 18:15, run with the
strangers' refusal off, kept aside when they were re-run) and ``demo`` (a fresh clone's ``make demo``
runs, ``runs/demo/*/asru``), given the same way with their folders' paths.
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import statistics
from collections import Counter
from pathlib import Path

from asru.eval.judge import RIGID_CAUSES, judge_many
from asru.io import atomic_write_json, atomic_write_text
from asru.report.writer import markdown_table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
LAST_STEPS = 20


def run_reading(folder: Path) -> dict:
    """The readings of one finished run folder."""
    forget = [row for row in map(json.loads, (folder / "answers.jsonl").read_text(encoding="utf-8").splitlines()) if row and row.get("split") == "forget"]
    labelled = [row for row in forget if row.get("label")]
    causes, by_form = Counter(), Counter()
    rigid = [row for row in forget if row.get("label") == "refusal_rigid"]
    for row, judgement in zip(rigid, judge_many(rigid)):  # re-judged: answers.jsonl keeps the label, not the reasons
        causes[judgement.rigid_cause] += 1
        by_form[f"{judgement.rigid_cause} {row.get('form')} {row.get('modality')}"] += 1
    nll = None
    log_file = folder / "train_log.json"
    if log_file.is_file():
        last = [row["refusal_nll"] for row in json.loads(log_file.read_text(encoding="utf-8"))["log"] if "refusal_nll" in row][-LAST_STEPS:]
        nll = statistics.fmean(last) if last else None
    probe = json.loads((folder / "results.json").read_text(encoding="utf-8")).get("linear_probe") or {}
    return {
        "forget_answers": len(forget),
        "contextual_share": sum(row["label"] == "refusal_contextual" for row in labelled) / len(labelled) if labelled else None,
        "rigid": len(rigid),
        "rigid_causes": {cause: causes[cause] for cause in RIGID_CAUSES},
        "rigid_by_form": dict(by_form.most_common()),
        "refusal_nll_last_steps": nll,
        "probe_best": max(probe["recovery"]) if probe.get("recovery") else None,
        "probe_gap": probe.get("gap"),
    }


def readings(groups: dict[str, str]) -> dict[str, dict[str, dict]]:
    """``{label: {run folder (relative to the repository where it lies inside): readings}}``; a group matching no finished run is an error."""
    out = {}
    for label, pattern in groups.items():
        folders = sorted(Path(p) for p in glob.glob(pattern if Path(pattern).is_absolute() else str(ROOT / pattern)))
        folders = [f for f in folders if (f / "answers.jsonl").is_file() and (f / "results.json").is_file()]
        if not folders:
            raise SystemExit(f"{label}={pattern}: no finished run folder (answers.jsonl and results.json) matches")
        out[label] = {str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f): run_reading(f) for f in folders}
    return out


def _cell(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(summary: dict) -> str:
    lines = ["# ASRU's refusals and hidden states, run by run", "",
             f"Written by `benchmarks/refusal_readings.py` on {summary['date']}. Contextual: share of the labelled forget answers; "
             f"refusal NLL: stage 1's mean over its last {LAST_STEPS} steps; probe: best layer's recovery and the largest gap to the oracle's; "
             "rigid refusals by the judge's reason: broken wording / wrong topic / another person / template.", ""]
    for label, runs in summary["groups"].items():
        body = [[run, r["forget_answers"], _cell(r["contextual_share"]), _cell(r["refusal_nll_last_steps"]), _cell(r["probe_best"]), _cell(r["probe_gap"]),
                 " / ".join(str(r["rigid_causes"][c]) for c in RIGID_CAUSES)] for run, r in runs.items()]
        total = Counter()
        for r in runs.values():
            total.update(r["rigid_by_form"])
        lines += [f"## {label}", "", markdown_table(["run", "forget answers", "contextual", "refusal NLL", "probe", "probe gap", "rigid: broken / topic / person / template"], body), "",
                  "Rigid refusals by reason, form and modality, over the group: " + ", ".join(f"{key} {n}" for key, n in total.most_common()) + ".", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="+", metavar="LABEL=GLOB", help="a label and a glob of run folders")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    groups = {}
    for item in args.groups:
        label, sep, pattern = item.partition("=")
        if not sep or not label or not pattern:
            parser.error(f"{item!r}: give LABEL=GLOB")
        groups[label] = pattern
    summary = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "groups": readings(groups)}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "refusal_readings.json", summary)
    atomic_write_text(args.out / "refusal_readings.md", markdown(summary))
    print(f"wrote {args.out / 'refusal_readings.md'}")
    return summary


if __name__ == "__main__":
    main()
