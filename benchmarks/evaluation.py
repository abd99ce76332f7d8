"""Benchmark: wall time of a full evaluation of the target model (every split, then every attack).

Uses the cached world and target model (built on first use, like `make demo`). Writes
benchmarks/results/evaluation.json and evaluation.md.

    .venv/bin/python benchmarks/evaluation.py [--subjects 40]
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path

from asru.cache import cached_target, cached_world
from asru.eval.attacks import ALL_ATTACKS
from asru.eval.evaluate import evaluate
from asru.eval.settings import make_splits
from asru.io import atomic_write_json, atomic_write_text
from asru.models import load_vlm
from asru.pipeline import versions
from asru.report.writer import markdown_table
from asru.world import load_world

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    world_dir = cached_world(0, args.subjects)
    model, processor = load_vlm(cached_target(world_dir))
    world = load_world(world_dir)
    splits = make_splits(world, "complete", 0.1)
    started = time.perf_counter()
    metrics, _, answers = evaluate(model, processor, world, splits)
    splits_seconds = time.perf_counter() - started
    started = time.perf_counter()
    _, attacks, attack_answers = evaluate(model, processor, world, splits, split_names=(), attacks=ALL_ATTACKS)
    attacks_seconds = time.perf_counter() - started
    result = {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "versions": versions(),
        "subjects": args.subjects,
        "splits": {"answers": len(answers), "seconds": round(splits_seconds, 1), "answers_per_second": round(len(answers) / splits_seconds, 1)},
        "attacks": {"answers": len(attack_answers), "seconds": round(attacks_seconds, 1), "names": list(ALL_ATTACKS)},
        "target_exact_match": {split: {k: metrics[split][k]["exact_match"] for k in ("qa", "cloze", "image", "text") if k in metrics[split]} for split in ("forget", "retain_other")},
        "attack_leakage_on_target": {name: values["leakage"] for name, values in attacks.items()},
    }
    atomic_write_json(args.out / "evaluation.json", result)
    rows = [
        ["all splits (complete, 10 %)", len(answers), f"{splits_seconds:.1f}"],
        ["all attacks on the forget split", len(attack_answers), f"{attacks_seconds:.1f}"],
    ]
    table = markdown_table(["evaluation", "answers", "seconds"], rows)
    atomic_write_text(args.out / "evaluation.md", f"# Evaluation time ({result['date']}, {args.subjects} people, {os.cpu_count()} CPU cores)\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
