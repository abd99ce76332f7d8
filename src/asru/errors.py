"""The project's error types: the CLI turns them into a one-line message and exit code 2."""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, NamedTuple


class AsruError(Exception):
    """Base class for every user-facing error (bad input, bad config, missing file)."""


class DataError(AsruError):
    """A dataset file, record, field or image is wrong; the message names which."""


class ConfigError(AsruError):
    """A config file or option is wrong; the message names the file and field."""


class ModelError(AsruError):
    """A model folder is missing files or has an unsupported architecture."""


class Interrupted(BaseException):
    """A run stopped by SIGINT/SIGTERM after saving a checkpoint; the CLI exits with 128 + signal.

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception`` swallows it.
    """

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


def raise_interrupted(signum: int, frame: Any) -> None:
    """A signal handler: SIGTERM unwinds like Ctrl-C (``finally`` blocks run, temp files go) as :class:`Interrupted`."""
    raise Interrupted(f"terminated by {signal.Signals(signum).name}", signum)


@contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Inside, SIGTERM raises :class:`Interrupted` in this process, as Ctrl-C raises KeyboardInterrupt.

    Python's default SIGTERM ends a process without unwinding. A parent running a pool of workers
    (``asru.bench.execute_parallel``, ``asru.cache.build_in_parallel``) then dies without stopping
    them, and the workers, each holding the pool's pipes open for the other, wait for work forever
    (2026-12-07: two orphaned bench workers of 0.9 GB each after a SIGTERM to
    ``benchmarks/asru_bars.py``, which is not the CLI and had no handler). Workers forked inside
    inherit the handler, so one signalled between training steps returns its stop as data too.
    Outside the main thread, where Python cannot install handlers, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, raise_interrupted)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class WorkerOutcome(NamedTuple):
    """What a pool worker (a side-by-side fine-tune or bench run) sends back to its parent.

    Interrupted does not survive pickling, so a stop travels as data and the parent raises it again
    (:meth:`raise_if_interrupted`): one signal in one worker then stops the whole pool.
    """

    interrupted: bool
    message: str | None = None
    signum: int | None = None
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0

    def raise_if_interrupted(self, prefix: str = "") -> None:
        if self.interrupted:
            raise Interrupted(f"{prefix}{self.message or 'interrupted'}", self.signum or 0)


def call_in_worker(function: Callable[..., Any], *args: Any) -> WorkerOutcome:
    """``function(*args)`` in a pool worker, timed (wall and CPU), with a stop returned rather than raised."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        function(*args)
    except Interrupted as stop:
        return WorkerOutcome(True, str(stop), stop.signum, time.perf_counter() - started, time.process_time() - cpu)
    return WorkerOutcome(False, None, None, time.perf_counter() - started, time.process_time() - cpu)
