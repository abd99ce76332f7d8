"""The per-machine cache of built worlds and target models (``ASRU_CACHE``, default ~/.cache/asru).

Entries are keyed by a content hash of everything that determines them, built in a
``.partial`` folder (which keeps its checkpoints, so an interrupted build resumes) and renamed
into place when complete.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("ASRU_CACHE") or Path.home() / ".cache" / "asru")


def cached_world(seed: int, subjects: int, console=None, **fields) -> Path:
    """Build (once) and return the embedded world for ``seed``, ``subjects`` and other WorldConfig ``fields``."""
    from asru.world import WorldConfig, build_world
    from asru.world.generate import GENERATOR_VERSION

    config = WorldConfig(seed=seed, subjects=subjects, **fields)
    # the generator's version is part of the key: a new asru that words or draws the world differently builds anew
    key = hashlib.sha256(f"{GENERATOR_VERSION}:{config.model_dump_json()}".encode()).hexdigest()[:16]
    folder = cache_root() / "worlds" / key
    if not (folder / "world.json").is_file():
        if console:
            console.print(f"building world ({subjects} people, seed {seed}) in {folder}")
        partial = folder.with_name(folder.name + ".partial")
        build_world(config, partial)
        partial.rename(folder)
    return folder


def target_folder(world_hash: str, recipe) -> Path:
    """Where the cache keeps the model ``recipe`` (a FinetuneConfig) trains on the world with this content hash."""
    from asru.train.finetune import target_cache_key

    return cache_root() / "targets" / target_cache_key(world_hash, recipe)


def cached_target(world_dir: Path, recipe=None, console=None) -> Path:
    """Fine-tune (once) and return the target model for ``world_dir`` and ``recipe``."""
    from asru.train.finetune import FinetuneConfig, finetune
    from asru.world import load_world

    recipe = recipe or FinetuneConfig()
    world = load_world(world_dir)
    folder = target_folder(world.manifest["content_hash"], recipe)
    if not (folder / "finetune.json").is_file():
        if console:
            console.print(f"fine-tuning the target model into {folder} (once per machine)")
        partial = folder.with_name(folder.name + ".partial")
        finetune(world_dir, partial, recipe, console=console)
        partial.rename(folder)
    return folder


def oracle_recipe(recipe, excluded):
    """The retrained oracle's recipe: ``recipe`` (the target's FinetuneConfig) with the ``excluded``
    facts ({subject id: fact ids}, a forget set) never trained, on top of any the target already left out."""
    from asru.train.finetune import ExcludedFacts

    facts: dict[str, set[int]] = {}
    for entry in [*recipe.exclude, *(ExcludedFacts(subject_id=s, fact_ids=sorted(ids)) for s, ids in excluded.items())]:
        facts.setdefault(entry.subject_id, set()).update(entry.fact_ids)
    # one canonical order, so the same forget set always has the same cache key
    return recipe.model_copy(update={"exclude": [ExcludedFacts(subject_id=s, fact_ids=sorted(ids)) for s, ids in sorted(facts.items())]})


def cached_oracle(world_dir: Path, recipe, excluded, console=None, build: bool = True) -> Path | None:
    """The retrained oracle of a forget set: the target's ``recipe`` without the ``excluded`` facts,
    fine-tuned once per machine and cached by content hash like the target (:func:`cached_target`), so
    every method of a setting and seed shares it. ``build=False``: its folder if built, else None."""
    from asru.world import load_world

    oracle = oracle_recipe(recipe, excluded)
    folder = target_folder(load_world(world_dir).manifest["content_hash"], oracle)
    if (folder / "finetune.json").is_file():
        return folder
    if not build:
        return None
    if console:
        people = len(excluded)
        console.print(f"fine-tuning the oracle: the target's recipe without the forget set ({sum(map(len, excluded.values()))} facts of {people} {'person' if people == 1 else 'people'})")
    return cached_target(world_dir, oracle, console)
