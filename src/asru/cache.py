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


def cached_target(world_dir: Path, recipe=None, console=None) -> Path:
    """Fine-tune (once) and return the target model for ``world_dir`` and ``recipe``."""
    from asru.train.finetune import FinetuneConfig, finetune, target_cache_key
    from asru.world import load_world

    recipe = recipe or FinetuneConfig()
    world = load_world(world_dir)
    folder = cache_root() / "targets" / target_cache_key(world.manifest["content_hash"], recipe)
    if not (folder / "finetune.json").is_file():
        if console:
            console.print(f"fine-tuning the target model into {folder} (once per machine)")
        partial = folder.with_name(folder.name + ".partial")
        finetune(world_dir, partial, recipe, console=console)
        partial.rename(folder)
    return folder
