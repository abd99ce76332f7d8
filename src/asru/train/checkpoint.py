"""Atomic, resumable checkpoints through accelerate's ``save_state`` / ``load_state``.

The state (model as safetensors, optimizer, scheduler, RNG) goes to a temporary folder that is
renamed into place only when complete, so a kill at any moment leaves the previous checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from asru.io import atomic_write_json

STEP_FILE = "asru_step.json"


def save_checkpoint(accelerator, folder: Path, step: int, extra: dict | None = None) -> None:
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    accelerator.save_state(str(tmp), safe_serialization=True)
    atomic_write_json(tmp / STEP_FILE, {"step": step, **(extra or {})})
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        if old.exists():
            shutil.rmtree(old)
        folder.rename(old)
    tmp.rename(folder)
    if old.exists():
        shutil.rmtree(old)


def find_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint: ``folder`` itself, or ``.old`` if a swap was interrupted."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / STEP_FILE).is_file():
            return candidate
    return None


def load_checkpoint(accelerator, folder: Path) -> dict:
    """Restore state saved by :func:`save_checkpoint`; returns its step record."""
    accelerator.load_state(str(folder))
    return json.loads((Path(folder) / STEP_FILE).read_text())
