"""Benchmark: how fast and how well the default recipe makes the target model.

Fine-tunes the tiny Qwen3-VL on the embedded world into the cache that asru bench, asru demo and
benchmarks/oracle.py read (so the 40-person target is trained once per machine; a target already
cached is measured again and its fine-tuning time is the one recorded when it was built, with the
threads it had), and measures accuracy on every row of asru.eval.target (each form on material it
was never trained on: held-out wordings, option sets, photos and prompt wrappers), and the held-out
photos split by the changes they combine (pose, scale, backdrop, noise). Writes
benchmarks/results/finetune.json and finetune.md (or finetune_<N>.json/md for another world size).

    .venv/bin/python benchmarks/finetune.py [--subjects 40] [--seed 0]
    .venv/bin/python benchmarks/finetune.py --learning-rate 5e-4 --name finetune_lr5e-4   # a candidate recipe, side by side
    .venv/bin/python benchmarks/finetune.py --demo-world --photo-views 0.5 --name finetune_demo_views0.5   # on a validation world
    .venv/bin/python benchmarks/finetune.py --demo-world --backdrop-views 0.5 --name finetune_demo_backdrop0.5
    .venv/bin/python benchmarks/finetune.py --demo-world --vision-layers 4 --name finetune_demo_vlayers4   # a candidate tower
    .venv/bin/python benchmarks/finetune.py --subjects 20 --seed 1 --recipe-seed 1 --name finetune_20s1                 # the other one
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable

import torch
from rich.console import Console

from asru.cache import cached_target, cached_world, target_folder
from asru.demo import DEMO_WORLD, DemoConfig
from asru.eval.attacks import Probe
from asru.eval.target import BARS, ROWS, accuracy_of, scored_probes
from asru.io import atomic_write_json, atomic_write_text
from asru.models import TinyModelConfig, load_vlm
from asru.pipeline import versions
from asru.report.writer import markdown_table
from asru.train.finetune import FinetuneConfig
from asru.world import load_world
from asru.world.portraits import variant_kinds

RESULTS = Path(__file__).parent / "results"


def accuracy_by(scored: list[tuple[Probe, float]], key: Callable[[Probe], str]) -> dict[str, dict]:
    """Accuracy of a row's scored probes grouped by ``key(probe)``, in key order."""
    rows: dict[str, list[float]] = defaultdict(list)
    for probe, value in scored:
        rows[key(probe)].append(value)
    return {group: accuracy_of(values) for group, values in sorted(rows.items())}


def cross_image_by_change(world, cross_image: list[tuple[Probe, float]]) -> dict[str, dict]:
    """Accuracy on the held-out photos per pair of changes they combine (asru.world.portraits.VARIANT_PLAN):
    which change the target does not see through (on the demo target: the backdrop)."""
    return accuracy_by(cross_image, lambda probe: " + ".join(variant_kinds(world.subject(probe.sample.subject_id)["images"].index(probe.image))))


def cloze_by_fact(cloze: list[tuple[Probe, float]]) -> dict[str, dict]:
    """Accuracy on the held-out cloze per fact: the row moves by a whole fact at a time (one
    construction learnt or not for every person), which this shows where the total cannot."""
    return accuracy_by(cloze, lambda probe: probe.sample.fact)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=None, help="people in the world (default 40; with --demo-world, the demo's)")
    parser.add_argument("--demo-world", action="store_true", help="the world asru demo builds (its people, fewer utility questions and unknown people)")
    parser.add_argument("--seed", type=int, default=0, help="the world's seed (the recipe keeps its own, as asru bench does)")
    parser.add_argument("--recipe-seed", type=int, default=0, help="the recipe's seed (0: the one asru bench uses; finetune_20s1*.json used 1)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--learning-rate", type=float, default=None, help="override the recipe's language-model learning rate (a candidate recipe: give it a --name)")
    parser.add_argument("--vision-learning-rate", type=float, default=None, help="override the recipe's vision-tower learning rate (a candidate recipe: give it a --name)")
    parser.add_argument("--image-repeats", type=int, default=None, help="override the recipe's image questions per epoch (a candidate recipe: give it a --name)")
    parser.add_argument("--backdrop-views", type=float, default=None, help="override the recipe's share of training photos shown on a random backdrop (a candidate recipe: give it a --name)")
    parser.add_argument("--photo-views", type=float, default=None, help="override the recipe's share of training photos replaced by new random views (a candidate recipe: give it a --name)")
    parser.add_argument("--face-pretrain-learning-rate", type=float, default=None, help="override stage 0's learning rate (default: the tower's, --vision-learning-rate; a candidate recipe: give it a --name)")
    parser.add_argument("--face-pretrain-steps-per-person", type=int, default=None, help="override the recipe's stage-0 steps per person (the tower learns the faces first; a candidate recipe: give it a --name)")
    parser.add_argument("--vision-layers", type=int, default=None, help="override the tiny model's vision-tower depth (a candidate model: give it a --name)")
    parser.add_argument("--vision-hidden-size", type=int, default=None, help="override the tiny model's vision-tower width (a candidate model: give it a --name)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default=None, help="file name (default: finetune for 40 people, finetune_<N> otherwise)")
    args = parser.parse_args()
    if args.subjects is None:
        args.subjects = DemoConfig().subjects if args.demo_world else 40
    name = args.name or ("finetune" if args.subjects == 40 else f"finetune_{args.subjects}")
    overrides = {"epochs": args.epochs, "learning_rate": args.learning_rate, "vision_learning_rate": args.vision_learning_rate, "image_repeats": args.image_repeats, "photo_views": args.photo_views, "backdrop_views": args.backdrop_views, "face_pretrain_steps_per_person": args.face_pretrain_steps_per_person, "face_pretrain_learning_rate": args.face_pretrain_learning_rate}
    # the recipe's own seed stays the default (0), as in asru bench / asru demo, so that the target built
    # here for another world is the one those commands take from the cache (--seed is the world's)
    tower = {key: value for key, value in {"vision_layers": args.vision_layers, "vision_hidden_size": args.vision_hidden_size}.items() if value is not None}
    if tower:
        overrides["model"] = TinyModelConfig().model_copy(update=tower)
    recipe = FinetuneConfig(seed=args.recipe_seed, **{key: value for key, value in overrides.items() if value is not None})
    world_dir = cached_world(args.seed, args.subjects, **(DEMO_WORLD if args.demo_world else {}))
    world = load_world(world_dir)
    was_cached = (target_folder(world.manifest["content_hash"], recipe) / "finetune.json").is_file()
    target_dir = cached_target(world_dir, recipe, Console(stderr=True))
    summary = json.loads((target_dir / "finetune.json").read_text())
    wall = summary["train_seconds"]
    model, processor = load_vlm(target_dir)
    started = time.perf_counter()
    scored = scored_probes(model, processor, world)
    accuracy = {row: accuracy_of([value for _, value in probes]) for row, probes in scored.items()}
    by_change = cross_image_by_change(world, scored["cross_image"])
    by_fact = cloze_by_fact(scored["text_cloze"])
    eval_seconds = time.perf_counter() - started
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(), "platform": platform.platform()},
        "versions": versions(),
        "subjects": args.subjects,
        "world_seed": args.seed,
        "world_fields": DEMO_WORLD if args.demo_world else {},  # besides subjects and seed (the demo's world: asru.demo.DEMO_WORLD)
        "target": str(target_dir),
        "fine_tuned_now": not was_cached,  # else: measured when the cached target was built (its finetune.json)
        "recipe": recipe.model_dump(mode="json"),
        "steps": summary["steps"],
        "train_items_per_epoch": summary["items"],
        "seconds_per_step": round(wall / summary["steps"], 3),
        "fine_tune_threads": summary.get("torch_threads"),
        "final_loss": summary["final_loss"],
        "finetune_wall_seconds": round(wall, 1),  # stage 0 included (face_pretrain)
        # stage 0 as the target recorded it (absent for a recipe without it, or a target built before it was recorded)
        "face_pretrain": {key: summary[f"face_pretrain_{key}"] for key in ("steps", "seconds", "final_loss") if f"face_pretrain_{key}" in summary},
        "eval_seconds": round(eval_seconds, 1),
        "accuracy": accuracy,
        "cross_image_by_change": by_change,
        "text_cloze_by_fact": by_fact,
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
    change_table = markdown_table(["changes of the held-out photo", "n", "accuracy"], [[kinds, row["n"], f"{row['accuracy']:.1%}"] for kinds, row in by_change.items()])
    fact_table = markdown_table(["fact", "n", "held-out cloze accuracy"], [[fact, row["n"], f"{row['accuracy']:.1%}"] for fact, row in by_fact.items()])
    atomic_write_text(
        args.out / f"{name}.md",
        f"# Target model recipe ({result['date']}, {args.subjects} people{', the demo world' if args.demo_world else ''}, {os.cpu_count()} CPU cores)\n\n"
        f"{summary['steps']} steps ({summary['items']} training items an epoch), fine-tune {wall:.0f} s ({wall / summary['steps']:.2f} s/step, "
        f"{summary.get('torch_threads', '?')} torch thread(s)), "
        f"evaluation {eval_seconds:.0f} s. Every bar met: {result['passes']}" + (f" (below: {', '.join(result['below'])})" if result["below"] else "") + f".\n\n{table}\n"
        f"\ncross_image by the changes each held-out photo combines:\n\n{change_table}\n"
        f"\ntext_cloze by fact:\n\n{fact_table}\n",
    )
    print(table)
    print(change_table)
    print(fact_table)
    print(f"fine-tune {wall:.0f} s, evaluation {eval_seconds:.0f} s, passes: {result['passes']}")


if __name__ == "__main__":
    main()
