"""Benchmark: how fast and how well the default recipe makes the target model.

Builds the embedded world, fine-tunes the tiny Qwen3-VL from scratch (no cache), and measures
accuracy per question type. Writes benchmarks/results/finetune.json and finetune.md.

    .venv/bin/python benchmarks/finetune.py [--subjects 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import tempfile
import time
from pathlib import Path

import torch

from asru.eval.target import BARS, target_accuracy
from asru.io import atomic_write_json, atomic_write_text
from asru.models import load_vlm
from asru.pipeline import versions
from asru.report.writer import markdown_table
from asru.train.finetune import FinetuneConfig, finetune
from asru.world import WorldConfig, build_world, load_world

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    recipe = FinetuneConfig(seed=args.seed, **({"epochs": args.epochs} if args.epochs else {}))
    with tempfile.TemporaryDirectory() as tmp:
        world_dir = Path(tmp) / "world"
        build_world(WorldConfig(seed=args.seed, subjects=args.subjects), world_dir)
        started = time.perf_counter()
        summary = finetune(world_dir, Path(tmp) / "model", recipe)
        wall = time.perf_counter() - started
        model, processor = load_vlm(Path(tmp) / "model")
        started = time.perf_counter()
        accuracy = target_accuracy(model, processor, load_world(world_dir))
        eval_seconds = time.perf_counter() - started
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform()},
        "versions": versions(),
        "subjects": args.subjects,
        "recipe": recipe.model_dump(mode="json"),
        "steps": summary["steps"],
        "train_items": summary["items"],
        "final_loss": summary["final_loss"],
        "finetune_wall_seconds": round(wall, 1),
        "eval_seconds": round(eval_seconds, 1),
        "accuracy": accuracy,
        "bars": BARS,
        "passes": all(accuracy[k]["accuracy"] >= bar for k, bar in BARS.items() if k in accuracy),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "finetune.json", result)
    rows = [[kind, row["n"], f"{row['accuracy']:.1%}", f"{BARS[kind]:.0%}" if kind in BARS else ""] for kind, row in accuracy.items()]
    table = markdown_table(["question type", "n", "accuracy", "bar"], rows)
    atomic_write_text(
        args.out / "finetune.md",
        f"# Target model recipe ({result['date']}, {args.subjects} people, {os.cpu_count()} CPU cores)\n\n"
        f"{summary['steps']} steps, {summary['items']} training items, fine-tune {wall:.0f} s, evaluation {eval_seconds:.0f} s.\n\n{table}\n",
    )
    print(table)
    print(f"fine-tune {wall:.0f} s, evaluation {eval_seconds:.0f} s, passes: {result['passes']}")


if __name__ == "__main__":
    main()
