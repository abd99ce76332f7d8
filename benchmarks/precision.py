"""Benchmark: one unlearning run in float32 against the same run under bf16 autocast, alone on the machine.

Issue 21 asks for one ASRU run (train + eval) in 3 minutes on 2 CPU cores; `asru_bars.py --solo-seeds` times
it alone at 243-287 s. Mixed precision is accelerate's own lever (`accelerate launch --mixed_precision bf16`,
or ``ACCELERATE_MIXED_PRECISION``, which every asru trainer's Accelerator reads): the trained model's matrix
products run in bfloat16 under autocast, its weights, the optimizer and the frozen reference stay in float32.
This script runs `asru unlearn` (every attack, the method's defaults) once per precision and setting, one run
at a time with every core, each in its own process (accelerate's state is one per process), and writes each
run's wall time, its training and evaluation parts and its headline numbers side by side, with the float32 /
bf16 ratio of each time measured in the same invocation.

Defaults: ASRU on validation seed 100 of the 40-person benchmark world and its target (the cache folders
named in configs/bench/asru_defaults.yaml), so nothing here touches a test seed. A CPU without native
bfloat16 (avx512_bf16 / AMX) emulates it and may be slower.

    .venv/bin/python benchmarks/precision.py                                   # Complete, float32 then bf16
    .venv/bin/python benchmarks/precision.py --settings complete,selective,personalized
    .venv/bin/python benchmarks/precision.py --world W --model M --seed 100 --method asru --out DIR

Writes benchmarks/results/precision.json and precision.md; the run folders go to
benchmarks/results/precision_runs/ (not committed; a finished run is not run again).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from asru.bench import SETTINGS, available_cores, machine_info, run_values
from asru.config import read_yaml
from asru.io import atomic_write_json, atomic_write_text
from asru.pipeline import versions
from asru.report.writer import markdown_table

RESULTS = Path(__file__).parent / "results"
DEFAULTS_FILE = Path(__file__).parent.parent / "configs" / "bench" / "asru_defaults.yaml"
PRECISIONS = ("no", "bf16")  # accelerate's names: "no" is float32
TIMES = ("wall_seconds", "total_train_seconds", "stage1_seconds", "eval_seconds")  # stage 1: the method's training (ASRU's first stage; a one-stage method's all)
NUMBERS = ("forget_leakage", "forget_refusal", "retain_same_subject", "retain_other", "utility", "contextual_share", "names_fact")


def validation_inputs() -> tuple[Path, Path]:
    """The 40-person world and target that ASRU's defaults are chosen on (configs/bench/asru_defaults.yaml)."""
    config = read_yaml(DEFAULTS_FILE)
    return Path(config["world"]).expanduser(), Path(config["model"]).expanduser()


def run_one(world: Path, model: Path, out: Path, method: str, setting: str, seed: int, precision: str, log: Path) -> float | None:
    """``asru unlearn`` in a child process under ``precision``; its wall seconds, None where the folder had finished already."""
    if (out / "results.json").is_file():
        return None
    env = {**os.environ, "ACCELERATE_MIXED_PRECISION": precision}
    env.pop("OMP_NUM_THREADS", None)  # alone: every core
    command = [sys.executable, "-m", "asru", "unlearn", "--model", str(model), "--world", str(world), "--out", str(out),
               "--method", method, "--setting", setting, "--seed", str(seed), "--attacks", "all"]
    started = time.perf_counter()
    with log.open("a") as handle:
        handle.write(f"$ ACCELERATE_MIXED_PRECISION={precision} {' '.join(command)}\n")
        handle.flush()
        code = subprocess.call(command, env=env, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if code != 0:
        sys.exit(f"the {'float32' if precision == 'no' else precision} run of {setting} failed (exit code {code}); its output: {log}")
    return time.perf_counter() - started


def row(folder: Path, wall: float | None) -> dict:
    """A finished run's times and headline numbers (``wall``: this script's clock around the run, else the run's own parts)."""
    results = json.loads((folder / "results.json").read_text())
    values = run_values(results)
    timing = results.get("timing", {})
    times = {"wall_seconds": round(wall, 1) if wall is not None else values.get("wall_seconds"),
             "total_train_seconds": timing.get("total_train_seconds"), "stage1_seconds": timing.get("train_seconds"), "eval_seconds": timing.get("eval_seconds")}
    return {**times, **{key: values.get(key) for key in NUMBERS}, "timed_alone": wall is not None}


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def markdown(record: dict) -> str:
    lines = [
        "# One run in float32 against bf16 autocast", "",
        f"{record['date']}; {record['machine'].get('cpu')}, {record['machine'].get('cpu_count')} CPUs, every core for one run at a time; "
        f"torch {record['versions'].get('torch')}; `asru unlearn --method {record['method']}`, every attack, seed {record['seed']} "
        "(validation: nothing here was reported as a result), world and target of configs/bench/asru_defaults.yaml.", "",
        "`timed alone`: yes = wall time on this script's clock around the run (this or an earlier invocation, whose record it keeps); "
        "no = a run finished outside it, whose wall time is its own parts (training + evaluation).", "",
    ]
    header = ["setting", "precision", "wall s", "train s", "of it stage 1 s", "eval s", *NUMBERS, "timed alone"]
    body = []
    for setting, runs in record["settings"].items():
        for precision, values in runs["runs"].items():
            body.append([setting, precision, *[values.get(k) for k in TIMES], *[values.get(k) for k in NUMBERS], "yes" if values["timed_alone"] else "no"])
    lines.append(markdown_table(header, body))
    lines += ["", "float32 time / bf16 time (above 1: bf16 faster)", ""]
    lines.append(markdown_table(["setting", *TIMES], [[s, *[r["ratios"].get(k) for k in TIMES]] for s, r in record["settings"].items()]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, default=None, help="world folder (default: asru_defaults.yaml's, the 40-person world)")
    parser.add_argument("--model", type=Path, default=None, help="target model folder (default: asru_defaults.yaml's)")
    parser.add_argument("--method", default="asru")
    parser.add_argument("--settings", default="complete", help="comma-separated settings")
    parser.add_argument("--seed", type=int, default=100, help="forget-set seed (default: the validation seed)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    settings = [s for s in args.settings.split(",") if s]
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown or not settings:
        why = f"{unknown[0]!r} is not a setting" if unknown else "none given"
        parser.error(f"--settings: {why}; choose from {', '.join(SETTINGS)}")
    world, model = validation_inputs()
    world, model = args.world or world, args.model or model
    for path, option in ((world, "--world"), (model, "--model")):
        if not path.is_dir():
            parser.error(f"{option}: {path} is not a folder (build the benchmark world and target first: asru bench, or give the option)")
    runs = args.out / "precision_runs"
    runs.mkdir(parents=True, exist_ok=True)
    summary = args.out / "precision.json"
    before = json.loads(summary.read_text()) if summary.is_file() else {}
    same = all(before.get(k) == v for k, v in (("method", args.method), ("seed", args.seed), ("world", str(world)), ("model", str(model))))
    earlier = before.get("settings", {}) if same else {}  # the rows an earlier invocation timed, on the same runs
    record = {"benchmark": "precision", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": {**machine_info(), "torch_threads": available_cores()}, "versions": versions(),
              "method": args.method, "seed": args.seed, "world": str(world), "model": str(model), "settings": {}}
    for setting in settings:
        measured = {}
        for precision in PRECISIONS:
            folder = runs / setting / args.method / f"seed{args.seed}_{precision}"
            print(f"{setting}, {precision}: {folder}", flush=True)
            wall = run_one(world, model, folder, args.method, setting, args.seed, precision, runs / "log.txt")
            kept = earlier.get(setting, {}).get("runs", {}).get(precision)
            # a row timed earlier keeps its clock; columns added since come from its folder
            measured[precision] = {**row(folder, None), **kept} if wall is None and kept and kept.get("timed_alone") else row(folder, wall)
        no, bf16 = measured["no"], measured["bf16"]
        record["settings"][setting] = {"runs": measured, "ratios": {k: ratio(no.get(k), bf16.get(k)) for k in TIMES}}
        atomic_write_json(summary, {**record, "settings": {**earlier, **record["settings"]}})  # after each setting: an interrupted run keeps what finished
    record["settings"] = {**earlier, **record["settings"]}  # the settings not asked this time stay as measured
    atomic_write_json(summary, record)
    text = markdown(record)
    atomic_write_text(args.out / "precision.md", text)
    print(text)
    return record


if __name__ == "__main__":
    main()
