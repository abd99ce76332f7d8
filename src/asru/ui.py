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


def time_left(elapsed_seconds: float, done: int, total: int) -> str:
    """"about 2 h 05 min left" at the pace so far (elapsed / done runs), for logs where no live bar shows its estimate;
    "" before the first run finishes or after the last."""
    if done <= 0 or done >= total:
        return ""
    minutes = round(elapsed_seconds / done * (total - done) / 60)
    if minutes < 1:
        return "under a minute left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left" if minutes >= 60 else f"about {minutes} min left"
