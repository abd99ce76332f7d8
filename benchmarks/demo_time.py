"""Benchmark: how long `make demo` takes on a fresh machine and with the target model cached.

Clones this repository into a temporary folder and, with an empty model cache and no pip cache,
times the newcomer's path in its parts: `make install` (venv, torch first, the package), then
`make demo` (world, target fine-tuning, the eight runs), then `asru demo` again into a new folder
with the target cached. Checks that both demos printed the same numbers and measures what the
demo's freshly trained target knows (accuracy per question type, the recipe's bars). Writes
benchmarks/results/demo.json and demo.md. Needs the network for pip (as `make demo` does) and
about 17 minutes on 2 cores; run it on an otherwise idle machine.

    .venv/bin/python benchmarks/demo_time.py [--repo .] [--keep]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from asru.bench import machine_info
from asru.eval.target import BARS, target_accuracy
from asru.io import atomic_write_json, atomic_write_text
from asru.models import load_vlm
from asru.pipeline import versions
from asru.report.writer import markdown_table
from asru.world import load_world

RESULTS = Path(__file__).parent / "results"
GOALS = {"fresh_seconds": 15 * 60, "cached_seconds": 3 * 60}
TIMES_FILE = "times.json"  # the timed commands' seconds, in the temporary folder (written before the results)


def timed(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Run ``command`` (no shell) with its output appended to ``log``; its wall seconds. A failure stops the benchmark."""
    started = time.perf_counter()
    with log.open("a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        code = subprocess.call(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if code != 0:
        sys.exit(f"{' '.join(command)} failed with exit code {code}; its output: {log}")
    return time.perf_counter() - started


def demo_numbers(summary: dict) -> dict:
    """The metrics and example answers a demo printed (its demo.json), without its wall times (which differ run to run)."""
    numbers = {}
    for setting, entry in summary["settings"].items():
        rows = {row: {k: v for k, v in info["values"].items() if k != "wall_seconds"} for row, info in entry["rows"].items()}
        numbers[setting] = {"rows": rows, "examples": entry["examples"]}
    return numbers


def write_results(tmp: Path, commit: str, install: float, fresh: float, cached: float, out: Path) -> dict:
    """demo.json and demo.md from the timed commands and what they left in ``tmp`` (the clone, its cache, the cached demo)."""
    clone, cache = tmp / "asru", tmp / "cache"
    built = [(p.parent, json.loads(p.read_text())) for p in (cache / "targets").glob("*/finetune.json")]
    # the target, and the oracle the demo fine-tuned beside it (the target's recipe with facts excluded)
    ((target_dir, target),) = [(folder, info) for folder, info in built if not info["recipe"]["exclude"]]
    oracles = [info for _, info in built if info["recipe"]["exclude"]]
    (world_dir,) = [p.parent for p in (cache / "worlds").glob("*/world.json")]
    accuracy = target_accuracy(*load_vlm(target_dir), load_world(world_dir))  # what the demo's target knows
    fresh_demo = json.loads((clone / "runs" / "demo" / "demo.json").read_text())
    cached_demo = json.loads((tmp / "cached" / "demo.json").read_text())
    result = {
        "date": datetime.date.today().isoformat(),
        "commit": commit,
        "machine": machine_info(),
        "versions": versions(),
        "subjects": fresh_demo["config"]["subjects"],
        "fresh": {
            "seconds": round(install + fresh, 1),
            "install_seconds": round(install, 1),
            "make_demo_seconds": round(fresh, 1),
            "target_finetune_seconds": round(target["train_seconds"], 1),
            "target_steps": target["steps"],
            "seconds_per_finetune_step": round(target["train_seconds"] / target["steps"], 3),
            "finetune_threads": target.get("torch_threads"),
            "oracle_finetune_seconds": [round(info["train_seconds"], 1) for info in oracles],  # side by side with the target's
            "oracle_steps": [info["steps"] for info in oracles],
            "demo_reported_seconds": fresh_demo["seconds"],
        },
        "cached": {"seconds": round(cached, 1), "demo_reported_seconds": cached_demo["seconds"], "cpu_seconds": cached_demo["cpu_seconds"], "workers": cached_demo["workers"]},
        "target_accuracy": accuracy,
        "target_passes": all(accuracy[k]["accuracy"] >= bar for k, bar in BARS.items() if k in accuracy),
        "same_numbers": demo_numbers(fresh_demo) == demo_numbers(cached_demo),
        "numbers": demo_numbers(cached_demo),  # the tables and example answers both demos printed
        "goals": GOALS,
    }
    result["fresh"]["within_goal"] = result["fresh"]["seconds"] <= GOALS["fresh_seconds"]
    result["cached"]["within_goal"] = result["cached"]["seconds"] <= GOALS["cached_seconds"]

    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "demo.json", result)
    f, c = result["fresh"], result["cached"]
    minutes = lambda seconds: f"{int(seconds // 60)} min {seconds % 60:.0f} s"
    atomic_write_text(
        out / "demo.md",
        f"# `make demo` time ({result['date']}, {result['machine']['cpu_count']} CPU cores, {result['machine']['cpu']}, "
        f"torch {result['versions']['torch']}, commit {commit[:12]})\n\n"
        + markdown_table(["path", "wall", "goal", "parts"], [
            ["fresh clone, empty caches (`make install` + `make demo`)", minutes(f["seconds"]), f"15 min {'met' if f['within_goal'] else 'missed'}",
             f"install {f['install_seconds']:.0f} s, target fine-tuning {f['target_finetune_seconds']:.0f} s ({f['target_steps']} steps, "
             f"{f['seconds_per_finetune_step']:.2f} s each"
             + (f"; the oracle's {', '.join(f'{t:.0f} s' for t in f['oracle_finetune_seconds'])} side by side" if f["oracle_finetune_seconds"] else "")
             + f"), the rest of the demo {f['make_demo_seconds'] - max([f['target_finetune_seconds'], *f['oracle_finetune_seconds']]):.0f} s"],
            ["target cached (`asru demo`)", minutes(c["seconds"]), f"3 min {'met' if c['within_goal'] else 'missed'}",
             f"the runs' CPU {sum(c['cpu_seconds'].values()):.0f} s in {c['workers']} processes"],
        ])
        + "\n\n"
        f"Both demos printed the same numbers and answers: {result['same_numbers']}.\n\n"
        f"What the demo's target model knows ({result['subjects']} people; the rows of benchmarks/finetune.py, held-out material but for "
        "text_qa, image_qa, identity, refusal, unknown_people and utility):\n\n"
        + markdown_table(["question type", "n", "accuracy", "bar"], [[k, r["n"], f"{r['accuracy']:.1%}", f"{BARS[k]:.0%}" if k in BARS else ""] for k, r in accuracy.items()])
        + "\n",
    )
    print((out / "demo.md").read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent, help="the repository to clone (its committed HEAD)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the temporary clone, cache and logs")
    parser.add_argument("--measured", type=Path, default=None, help="a kept folder whose timings are done: write the results from it")
    args = parser.parse_args()
    if args.measured:  # the timings are done (the results step failed, or is being redone): only measure and write
        times = json.loads((args.measured / TIMES_FILE).read_text())
        write_results(args.measured, times["commit"], times["install"], times["fresh"], times["cached"], args.out)
        return
    tmp = Path(tempfile.mkdtemp(prefix="asru_demo_time_"))
    clone, cache, log = tmp / "asru", tmp / "cache", tmp / "demo.log"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "OMP_NUM_THREADS", "ASRU_CACHE")}
    env.update(ASRU_CACHE=str(cache), PIP_NO_CACHE_DIR="1", COLUMNS="100")
    subprocess.run(["git", "clone", "--quiet", str(args.repo), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, capture_output=True, text=True, check=True).stdout.strip()
    print(f"timing a fresh make demo of {commit[:12]} in {clone} (output: {log})", flush=True)
    install = timed(["make", "install"], clone, env, log)
    print(f"make install {install:.0f} s", flush=True)
    fresh = timed(["make", "demo"], clone, env, log)
    print(f"make demo (fresh cache) {fresh:.0f} s", flush=True)
    cached = timed([str(clone / ".venv" / "bin" / "asru"), "demo", "--out", str(tmp / "cached")], clone, env, log)
    print(f"asru demo (cached target) {cached:.0f} s", flush=True)

    atomic_write_json(tmp / TIMES_FILE, {"commit": commit, "install": install, "fresh": fresh, "cached": cached})
    write_results(tmp, commit, install, fresh, cached, args.out)
    if args.keep:
        print(f"kept {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
