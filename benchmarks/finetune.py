"""Benchmark: how fast and how well the default recipe makes the target model.

Builds the embedded world, fine-tunes the tiny Qwen3-VL from scratch (no cache), and measures
accuracy on every row of asru.eval.target (each form on material it was never trained on: held-out
wordings, option sets, photos and prompt wrappers). Writes benchmarks/results/finetune.json and
finetune.md (or finetune_<N>.json/md for another world size).

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

from asru.eval.target import BARS, ROWS, target_accuracy
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
    parser.add_argument("--name", default=None, help="file name (default: finetune for 40 people, finetune_<N> otherwise)")
    args = parser.parse_args()
    name = args.name or ("finetune" if args.subjects == 40 else f"finetune_{args.subjects}")
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
        "train_items_per_epoch": summary["items"],
        "seconds_per_step": round(wall / summary["steps"], 3),
        "final_loss": summary["final_loss"],
        "finetune_wall_seconds": round(wall, 1),
        "eval_seconds": round(eval_seconds, 1),
        "accuracy": accuracy,
        "bars": BARS,
        "passes": all(accuracy[k]["accuracy"] is not None and accuracy[k]["accuracy"] >= bar for k, bar in BARS.items() if k in accuracy),
        "below": [k for k, bar in BARS.items() if k in accuracy and (accuracy[k]["accuracy"] or 0) < bar],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / f"{name}.json", result)
    rows = [
        [kind, ROWS.get(kind, ""), row["n"], "–" if row["accuracy"] is None else f"{row['accuracy']:.1%}", f"≥ {BARS[kind]:.0%}" if kind in BARS else ""]
        for kind, row in accuracy.items()
    ]
    table = markdown_table(["row", "what it asks", "n", "accuracy", "bar"], rows)
    atomic_write_text(
        args.out / f"{name}.md",
        f"# Target model recipe ({result['date']}, {args.subjects} people, {os.cpu_count()} CPU cores)\n\n"
        f"{summary['steps']} steps ({summary['items']} training items an epoch), fine-tune {wall:.0f} s ({wall / summary['steps']:.2f} s/step), "
        f"evaluation {eval_seconds:.0f} s. Every bar met: {result['passes']}" + (f" (below: {', '.join(result['below'])})" if result["below"] else "") + f".\n\n{table}\n",
    )
    print(table)
    print(f"fine-tune {wall:.0f} s, evaluation {eval_seconds:.0f} s, passes: {result['passes']}")


if __name__ == "__main__":
    main()
