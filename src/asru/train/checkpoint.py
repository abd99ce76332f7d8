"""Atomic, resumable checkpoints through accelerate's ``save_state`` / ``load_state``.

The state (model as safetensors, optimizer, scheduler, RNG) goes to a temporary folder whose
files are fsynced before it is renamed into place, so a kill (even SIGKILL) at any moment leaves
the previous checkpoint. SIGINT/SIGTERM during a training loop are turned into a clean stop:
the current step finishes, a checkpoint is written, and :class:`~asru.errors.Interrupted` says
how to resume (run the same command again).
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch

from asru.errors import AsruError, Interrupted
from asru.io import WRITE_ERRORS, atomic_write_json, fsync_tree, write_error_reason

STEP_FILE = "asru_step.json"


def save_checkpoint(accelerator, folder: Path, step: int, extra: dict | None = None) -> None:
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    main = accelerator.is_main_process  # with several processes, each saves its own RNG state; the main one does the rest
    try:
        if main and tmp.exists():
            shutil.rmtree(tmp)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp), safe_serialization=True)
        accelerator.wait_for_everyone()
        if main:
            atomic_write_json(tmp / STEP_FILE, {"step": step, **(extra or {})})
            fsync_tree(tmp)
    except WRITE_ERRORS as error:  # full disk, no permission
        shutil.rmtree(tmp, ignore_errors=True)
        raise AsruError(f"cannot write checkpoint {folder}: {write_error_reason(error)} (the previous checkpoint is kept)") from None
    except AsruError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if main:
        old = folder.with_name(folder.name + ".old")
        if folder.exists():
            if old.exists():
                shutil.rmtree(old)
            folder.rename(old)
        tmp.rename(folder)
        if old.exists():
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


def find_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint: ``folder`` itself, or ``.old`` if a swap was interrupted."""
    folder = Path(folder)
    for candidate in (folder, folder.with_name(folder.name + ".old")):
        if (candidate / STEP_FILE).is_file():
            return candidate
    return None


def load_checkpoint(accelerator, folder: Path) -> dict:
    """Restore state saved by :func:`save_checkpoint`; returns its step record.

    Weights come from safetensors; optimizer, scheduler and RNG state through accelerate's
    ``torch.load(weights_only=True)``, which unpickles tensors and plain containers only. A
    damaged or tampered checkpoint is a one-line error, not a traceback or code execution.
    """
    try:
        accelerator.load_state(str(folder))
        return json.loads((Path(folder) / STEP_FILE).read_text())
    except Exception as error:  # noqa: BLE001 -- torch, safetensors and accelerate each raise their own
        reason = " ".join(str(error).split())[:200]
        raise AsruError(f"{folder}: cannot resume from this checkpoint ({type(error).__name__}: {reason}); delete it to start the run over") from error


class StopRequest:
    """Records a SIGINT/SIGTERM received during a step; the loop calls :meth:`stop_here` after it."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    def stop_here(self, accelerator, folder: Path | None, step: int, total: int, extra: dict | None = None) -> None:
        """If a signal came in: checkpoint ``step`` into ``folder`` (when given) and raise :class:`Interrupted`.

        Under ``accelerate launch`` the processes agree first (any one signalled stops them all at
        the same step), so that none waits forever in a collective the others left.
        """
        if accelerator.num_processes > 1:
            flag = torch.tensor([self.signum or 0], device=accelerator.device)
            self.signum = int(accelerator.gather(flag).max().item()) or None
        if self.signum is None:
            return
        name = signal.Signals(self.signum).name
        if folder is None:
            raise Interrupted(f"interrupted by {name} after step {step}/{total} (no checkpoint folder)", self.signum)
        save_checkpoint(accelerator, folder, step, extra)
        raise Interrupted(
            f"interrupted by {name} after step {step}/{total}; checkpoint saved in {folder}; run the same command again to resume",
            self.signum,
        )


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Turn SIGINT/SIGTERM into a stop after the current step; a second signal stops at once.

    Stopping between steps (rather than wherever the signal lands) is what makes the checkpoint
    exact. The previous handlers come back on exit. Outside the main thread, where Python cannot
    install handlers, it does nothing.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return

    def handler(signum, frame) -> None:
        if request.signum is not None:
            raise Interrupted(f"interrupted by {signal.Signals(signum).name} again: stopped at once (the last checkpoint is kept)", signum)
        request.signum = signum

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield request
    finally:
        for sig, old_handler in previous.items():
            signal.signal(sig, old_handler)
