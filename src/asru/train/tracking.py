"""Experiment trackers (TensorBoard, trackio, Weights & Biases) through accelerate's tracker API.

Every training loop (target fine-tuning, the unlearning trainer, ASRU's GRPO) builds its
``Accelerator`` with :func:`tracker_options`, runs inside :func:`tracking` and sends each row of
its own JSON log to the trackers with :func:`log_row`. Our JSON
logs and PNG plots are written as before; the trackers get the same numbers.

TensorBoard writes under ``OUT/trackers/<phase>`` (``tensorboard --logdir OUT/trackers``); trackio
and wandb use ``<phase>`` as the project and the output folder's name as the run name, and follow
their own settings (``TRACKIO_DIR``, ``WANDB_MODE=offline``...).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal

from asru.errors import ConfigError

ReportTo = Literal["none", "tensorboard", "trackio", "wandb"]


def check_tracker_installed(report_to: str) -> None:
    """A one-line error naming the option and the install command when the tracker's package is missing.

    accelerate itself only logs a debug line and trains without the tracker, which would leave the
    user watching an empty dashboard.
    """
    from accelerate.utils import is_tensorboard_available, is_trackio_available, is_wandb_available

    available = {"tensorboard": is_tensorboard_available, "trackio": is_trackio_available, "wandb": is_wandb_available}
    if report_to != "none" and not available[report_to]():
        raise ConfigError(f"option --report-to {report_to}: the {report_to} package is not installed (pip install {report_to})")


def tracker_options(report_to: str, out_dir: str | Path | None) -> dict[str, Any]:
    """Keyword arguments for ``Accelerator(...)``: ``log_with`` and the folder TensorBoard writes into."""
    if report_to == "none":
        return {}
    check_tracker_installed(report_to)
    if out_dir is None:
        raise ConfigError(f"option --report-to {report_to}: the tracker needs an output folder")
    return {"log_with": report_to, "project_dir": str(Path(out_dir) / "trackers")}


def flat_hparams(config: dict[str, Any], prefix: str = "") -> dict[str, bool | int | float | str]:
    """A nested config as flat ``a.b: value`` scalars (TensorBoard's hparams take scalars only)."""
    flat: dict[str, bool | int | float | str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flat_hparams(value, f"{name}."))
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:  # lists and None
            flat[name] = str(value)
    return flat


@contextmanager
def tracking(accelerator, phase: str, config: dict[str, Any], out_dir: str | Path | None) -> Iterator[None]:
    """The trackers of ``accelerator`` (if any) open for one training phase, closed however it ends.

    Closed with each tracker's ``finish()``, not ``accelerator.end_training()``: that also
    destroys the process group, and under ``accelerate launch`` the unlearning trainer, GRPO and
    the evaluation follow one another in the same processes.
    """
    if not accelerator.log_with:
        yield
        return
    run_name = Path(out_dir).name if out_dir is not None else phase
    accelerator.init_trackers(phase, config=flat_hparams(config), init_kwargs={"wandb": {"name": run_name}, "trackio": {"name": run_name}})
    try:
        yield
    finally:
        for tracker in accelerator.trackers:
            tracker.finish()
        accelerator.trackers = []


def log_row(accelerator, row: dict[str, Any]) -> None:
    """One row of our JSON log (``{"step": n, ...}``) sent to the trackers at step n."""
    if accelerator.trackers:
        accelerator.log({k: v for k, v in row.items() if k != "step"}, step=row["step"])
