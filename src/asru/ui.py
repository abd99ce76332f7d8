"""Rich progress bars and consoles shared by every long command."""

from __future__ import annotations

from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@contextmanager
def progress_bar(console: Console | None, description: str = ""):
    """A progress bar with a live ``loss`` field; silent (but functional) when ``console`` is None."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(quiet=True),
        disable=console is None,
        transient=False,
    )
    with progress:
        yield progress
