"""`asru demo`: the newcomer's tour on the embedded default, no GPU, no internet."""

from __future__ import annotations

from asru.cache import cached_target, cached_world
from asru.eval.target import print_accuracy_table, target_accuracy
from asru.models import load_vlm
from asru.world import load_world


def run_demo(console, subjects: int = 40, seed: int = 0) -> dict:
    world_dir = cached_world(seed, subjects, console)
    target_dir = cached_target(world_dir, console=console)
    model, processor = load_vlm(target_dir)
    accuracy = target_accuracy(model, processor, load_world(world_dir))
    print_accuracy_table(console, accuracy, title=f"target model ({subjects} people) — what it knows before unlearning")
    return accuracy
