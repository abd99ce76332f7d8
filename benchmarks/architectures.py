"""Benchmark: the target recipe, ASRU and the strongest baselines on each tiny VLM family (issue 24).

Part 1, the target: fine-tunes the tiny Qwen3-VL, LLaVA and Idefics3 / SmolVLM on the same embedded
world with the default recipe (each family's default learning rate,
asru.train.finetune.FAMILY_RECIPES), one after another with the same torch thread count, into
the cache that asru reads (a target already cached is measured again; its fine-tuning time is the
one recorded when it was built, and ``fine_tuned_now`` says so), and measures every row of
asru.eval.target.

Part 2, unlearning: ``asru bench --architectures`` on those targets (every setting, ``--methods``,
``--bench-seeds``, every attack; each method at its methods-file config in every family, nothing
re-tuned per family) into benchmarks/results/architectures/<family>/ (full tradeoff tables) and
architectures/architectures.json/.md (side by side). Without ``--oracle`` no retrained oracle is
fine-tuned (nine more fine-tunes): the unlearning score is then the harmonic mean of efficacy and
utility, and the tables say so.

Writes benchmarks/results/architectures.json and architectures.md (both parts).

    .venv/bin/python benchmarks/architectures.py [--subjects 8] [--seed 0] [--threads 1] [--workers 2]

About 35-40 minutes on one core for the three 8-person targets (1,710 steps each), then about
90 minutes of one core for the unlearning runs at three seeds (3 x 45 runs of 10-140 s; measured
2026-12-03 as one single-family ``asru bench`` per core, which the final call found finished).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import torch
from rich.console import Console

from asru.bench import BenchConfig
from asru.bench_architectures import architectures_markdown, run_architectures
from asru.cache import cached_target, cached_world, target_folder
from asru.config import ARCHITECTURES
from asru.eval.target import BARS, ROWS, target_accuracy
from asru.io import atomic_write_json, atomic_write_text
from asru.models import TinyModelConfig, load_vlm
from asru.pipeline import versions
from asru.report.writer import markdown_table
from asru.train.finetune import FinetuneConfig
from asru.world import load_world

RESULTS = Path(__file__).parent / "results"
FAMILIES = ARCHITECTURES
STRONGEST = "asru,grad_diff_lr3e-4,npo_lr3e-4,idk"  # ASRU and the baselines that moved the 40-person target most (tradeoff.md, sequential.md)


def measure(family: str, world_dir: Path, console: Console, epochs: int | None = None) -> dict:
    """Fine-tune (or find cached) the family's target on the world (the recipe asru bench builds) and measure every accuracy row."""
    recipe = FinetuneConfig(model=TinyModelConfig(architecture=family), **({"epochs": epochs} if epochs else {}))
    world = load_world(world_dir)
    was_cached = (target_folder(world.manifest["content_hash"], recipe) / "finetune.json").is_file()
    target_dir = cached_target(world_dir, recipe, console)
    summary = json.loads((target_dir / "finetune.json").read_text())
    model, processor = load_vlm(target_dir)
    started = time.perf_counter()
    accuracy = target_accuracy(model, processor, world)
    return {
        "target": str(target_dir),
        "fine_tuned_now": not was_cached,  # else: timed when the cached target was built (its finetune.json)
        "parameters": sum(p.numel() for p in model.parameters()),
        "learning_rate": recipe.learning_rate,
        "steps": summary["steps"],
        "finetune_wall_seconds": round(summary["train_seconds"], 1),
        "seconds_per_step": round(summary["train_seconds"] / summary["steps"], 3),
        "fine_tune_threads": summary.get("torch_threads"),
        "final_loss": summary["final_loss"],
        "eval_seconds": round(time.perf_counter() - started, 1),
        "accuracy": accuracy,
        "below": [k for k, bar in BARS.items() if k in accuracy and (accuracy[k]["accuracy"] or 0) < bar],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads for every fine-tune (the same for all, so times compare)")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (a quick check of the script, not the benchmark)")
    parser.add_argument("--methods", default=STRONGEST, help="entries of configs/bench/methods.yaml for the unlearning part ('' skips it)")
    parser.add_argument("--bench-seeds", default="0,1,2", help="test seeds of the unlearning part")
    parser.add_argument("--workers", type=int, default=2, help="unlearning runs at a time")
    parser.add_argument("--oracle", action="store_true", help="also fine-tune the retrained oracle of every family, setting and seed")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="architectures")
    args = parser.parse_args()
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    unknown = sorted(set(families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {', '.join(unknown)} (known: {', '.join(FAMILIES)})")
    torch.set_num_threads(args.threads)
    console = Console(stderr=True)
    world_dir = cached_world(args.seed, args.subjects)
    by_family = {family: measure(family, world_dir, console, args.epochs) for family in families}
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unlearning = None
    if methods and args.epochs is None:  # the benchmark's own targets only: asru bench builds the default recipe
        bench = BenchConfig(
            out=str(args.out / args.name), architectures=families, methods=methods, seeds=[int(s) for s in args.bench_seeds.split(",")],
            subjects=args.subjects, world_seed=args.seed, oracle_row=args.oracle, use_tuned=False, workers=args.workers,
        )
        unlearning = run_architectures(bench, console)
    base = by_family.get("qwen3_vl")
    for record in by_family.values():
        record["time_vs_qwen3_vl"] = round(record["finetune_wall_seconds"] / base["finetune_wall_seconds"], 2) if base else None
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "torch_threads": args.threads, "platform": platform.platform(), "load_average_at_end": os.getloadavg()},
        "versions": versions(),
        "subjects": args.subjects,
        "seed": args.seed,
        "epochs": args.epochs or FinetuneConfig().epochs,
        "world": str(world_dir),
        "bars": BARS,
        "families": by_family,
        # part 2 (asru bench --architectures): every family's rows per setting; the full tables under unlearning_out
        "unlearning_out": str(args.out / args.name) if unlearning else None,
        "unlearning": {family: data["settings"] for family, data in unlearning["families"].items()} if unlearning else None,
        "unlearning_best": unlearning["best"] if unlearning else None,
        "unlearning_seeds": unlearning["seeds"] if unlearning else None,
        "oracle_row": args.oracle,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / f"{args.name}.json", result)
    kinds = sorted({kind for record in by_family.values() for kind in record["accuracy"]})
    rows = [
        [kind, ROWS.get(kind, ""), *(_percent(by_family[f]["accuracy"].get(kind)) for f in families), f"≥ {BARS[kind]:.0%}" if kind in BARS else ""]
        for kind in kinds
    ]
    rows += [
        ["fine-tune", "wall seconds (s/step)", *(f"{by_family[f]['finetune_wall_seconds']:.0f} ({by_family[f]['seconds_per_step']:.2f})" for f in families), ""],
        ["time vs Qwen3-VL", "", *(f"{by_family[f]['time_vs_qwen3_vl']}x" if by_family[f]["time_vs_qwen3_vl"] else "–" for f in families), "≤ 1.5x"],
        ["learning rate", "language model (vision 3e-3)", *(f"{by_family[f]['learning_rate']:g}" for f in families), ""],
    ]
    table = markdown_table(["row", "what it asks", *families, "bar"], rows)
    atomic_write_text(
        args.out / f"{args.name}.md",
        f"# The target recipe per model family ({result['date']}, {args.subjects} people, seed {args.seed}, {result['epochs']} epochs, "
        f"{os.cpu_count()} CPU cores, {args.threads} torch thread(s), fine-tunes one after another)\n\n"
        "Times are wall seconds on a shared machine: compare them within this file only. "
        f"Fine-tuned in this run: {', '.join(f for f in families if by_family[f]['fine_tuned_now']) or 'none (all cached)'}.\n\n{table}\n"
        + (
            "\n## Unlearning on each family\n\n"
            + ("" if args.oracle else "No oracle row (`--oracle` not given): the unlearning score is the harmonic mean of efficacy and utility, without closeness to the oracle.\n\n")
            + architectures_markdown(unlearning, args.out).split("\n", 1)[1]  # without its title
            if unlearning else ""
        ),
    )
    print(table)


def _percent(row: dict | None) -> str:
    return "–" if row is None or row["accuracy"] is None else f"{row['accuracy']:.1%}"


if __name__ == "__main__":
    main()
