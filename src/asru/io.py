"""Atomic file writes: write to a temp file in the same folder, fsync, rename.

A crash or a full disk leaves the previous file intact, never a half-written one. A failed write
is an :class:`AsruError` naming the path and the reason ("No space left on device").
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from safetensors import SafetensorError

from asru.errors import AsruError

# What a failed write of weights or state raises besides OSError: safetensors' own error, and
# RuntimeError from torch.save ("PytorchStreamWriter failed writing file").
WRITE_ERRORS = (OSError, RuntimeError, SafetensorError)


def write_error_reason(error: BaseException) -> str:
    """The short reason of a failed write ("No space left on device"), for one-line messages."""
    return getattr(error, "strerror", None) or str(error).splitlines()[0]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise AsruError(f"cannot write {path}: {write_error_reason(error)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise AsruError(f"cannot write {path}: {write_error_reason(error)}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_writable(folder: Path) -> None:
    """Fail at the start, not after hours of training, when results cannot be written into ``folder``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".asru-write-check.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise AsruError(f"cannot write to {folder}: {write_error_reason(error)}") from None


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def fsync_tree(folder: Path) -> None:
    """Flush every file under ``folder`` to disk, so that a rename publishes complete files."""
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())


def write_folder_atomically(folder: Path, write: Callable[[Path], None]) -> None:
    """Let ``write`` fill a temporary folder beside ``folder``, fsync it, then move each entry in.

    Each move is an atomic rename, so a full disk or a permission error while writing (the slow,
    failure-prone part) leaves ``folder`` exactly as it was; used for saved models.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".tmp"))
    except OSError as error:
        raise AsruError(f"cannot write {folder}: {write_error_reason(error)}") from None
    try:
        write(tmp)
        fsync_tree(tmp)
        for entry in sorted(tmp.iterdir()):
            target = folder / entry.name
            if entry.is_dir() and target.is_dir():
                shutil.rmtree(target)
            os.replace(entry, target)
    except WRITE_ERRORS as error:
        raise AsruError(f"cannot write {folder}: {write_error_reason(error)}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
