"""General utility on real models: lmms-eval tasks on the evaluated model, stored beside our metrics.

Optional (``pip install lmms-eval``, or ``python:`` pointing at an interpreter that has it: its
dependencies pin their own torchvision). After ``asru unlearn`` / ``asru eval`` has evaluated a
model, ``python -m lmms_eval --model MODEL --model_args pretrained=<model folder> --tasks ...``
runs in a subprocess (an argument list, no shell) into a temporary folder, and
:func:`lmms_eval_scores` turns the results file it writes (``<output>/[<model>/]<date>_results.json``)
into ``results.json``'s ``lmms_eval`` entry::

    "lmms_eval": {"tasks": {"mme": {"mme_perception_score": 1512.3, ...}}, "n": {"mme": 2374},
                  "higher_is_better": {"mme": {...}}, "model": "qwen3_vl", "lmms_eval_version": "...", "seconds": 812.4}

A test-time steering run has no saved model to hand over (its hooks live in asru), so it is refused.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from asru.config import StrictConfig
from asru.errors import AsruError, ConfigError

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")  # task and model names: no spaces, no option-looking values


class LmmsEvalConfig(StrictConfig):
    """Which lmms-eval tasks to run on the evaluated model, and how (``lmms_eval:`` in an eval/unlearn config)."""

    tasks: list[str] = Field(default_factory=list, description="lmms-eval task names (e.g. mme, mmmu_val); empty: lmms-eval is not run")
    model: str = Field("qwen3_vl", description="lmms-eval's model adapter for the model folder (its --model)")
    model_args: str = Field("", description="more of lmms-eval's --model_args after pretrained=<model folder>, e.g. 'device_map=auto,attn_implementation=sdpa'")
    batch_size: int = Field(1, ge=1)
    limit: int | None = Field(None, ge=1, description="documents per task at most (lmms-eval's --limit)")
    device: str | None = Field(None, description="lmms-eval's --device (default: its own choice)")
    include_path: str | None = Field(None, description="a folder of extra task YAMLs (lmms-eval's --include_path)")
    python: str | None = Field(None, description="a Python interpreter that has lmms-eval installed (default: this one)")

    @field_validator("tasks")
    @classmethod
    def _task_names(cls, tasks: list[str]) -> list[str]:
        for task in tasks:
            if not _NAME.match(task) or task.startswith("-"):
                raise ValueError(f"{task!r} is not an lmms-eval task name (letters, digits, _ . -)")
        return tasks

    @field_validator("model")
    @classmethod
    def _model_name(cls, model: str) -> str:
        if not _NAME.match(model) or model.startswith("-"):
            raise ValueError(f"{model!r} is not an lmms-eval model name")
        return model


def lmms_eval_installed() -> bool:
    """lmms-eval importable by this interpreter (without importing it: its import is slow and heavy)."""
    return importlib.util.find_spec("lmms_eval") is not None


def check_lmms_eval(config: LmmsEvalConfig, trains: bool = True) -> None:
    """Fail before any work when tasks are asked and lmms-eval cannot run them here."""
    if not config.tasks:
        return
    if not trains:
        raise ConfigError("option --lmms-eval: a test-time steering run has no saved model for lmms-eval to load (evaluate a trained method's model)")
    if config.python is None and not lmms_eval_installed():
        raise ConfigError("option --lmms-eval: lmms-eval is not installed (pip install lmms-eval; or set lmms_eval.python to an interpreter that has it)")
    if config.python is not None and not Path(config.python).is_file():
        raise ConfigError(f"lmms_eval.python: {config.python} is not a file")


def lmms_eval_command(model_dir: str | Path, config: LmmsEvalConfig, output: str | Path) -> list[str]:
    """The argument list that runs lmms-eval on ``model_dir`` into ``output``."""
    model_args = ",".join(part for part in (f"pretrained={model_dir}", config.model_args) if part)
    command = [config.python or sys.executable, "-m", "lmms_eval", "--model", config.model, "--model_args", model_args,
               "--tasks", ",".join(config.tasks), "--batch_size", str(config.batch_size), "--output_path", str(output)]
    for option, value in (("--limit", config.limit), ("--device", config.device), ("--include_path", config.include_path)):
        if value is not None:
            command += [option, str(value)]
    return command


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def lmms_eval_scores(raw: dict[str, Any]) -> dict[str, Any]:
    """``results.json``'s ``lmms_eval`` entry from lmms-eval's results file.

    ``results[task]["<metric>,<filter>"]`` becomes ``tasks[task]["<metric>"]`` (``"<metric>,<filter>"``
    for a filter other than ``none``); non-numbers ("N/A" stderrs, aliases) are left out.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("results"), dict):
        raise AsruError("lmms-eval results: no 'results' mapping in the results file")
    tasks: dict[str, dict[str, float]] = {}
    for task, values in raw["results"].items():
        if not isinstance(values, dict):
            continue
        scores = {}
        for key, value in values.items():
            metric, _, filter_name = key.partition(",")
            if _number(value) and filter_name:
                scores[metric if filter_name == "none" else key] = value
        tasks[task] = scores
    samples = raw.get("n-samples", {})
    return {
        "tasks": tasks,
        "n": {task: entry.get("effective", entry.get("original")) for task, entry in samples.items() if isinstance(entry, dict)},
        "higher_is_better": raw.get("higher_is_better", {}),
        "model": raw.get("config", {}).get("model") if isinstance(raw.get("config"), dict) else None,
        "lmms_eval_version": raw.get("lmms_eval_version"),
    }


def run_lmms_eval(model_dir: str | Path, config: LmmsEvalConfig, console=None) -> dict[str, Any]:
    """Run the configured tasks on ``model_dir``; their scores (:func:`lmms_eval_scores`).

    A failed run is one :class:`AsruError` line with lmms-eval's last error line.
    """
    check_lmms_eval(config)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="asru-lmms-eval-") as output:
        command = lmms_eval_command(model_dir, config, output)
        status = console.status(f"lmms-eval: {', '.join(config.tasks)}") if console else None
        if status:
            status.start()
        try:
            done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 (an argument list, validated names)
        except OSError as error:
            raise AsruError(f"lmms-eval: cannot start {command[0]} ({error.strerror or error})") from None
        finally:
            if status:
                status.stop()
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        last_error = next((line for line in reversed(lines) if "error" in line.lower()), lines[-1] if lines else "no output")
        if done.returncode != 0:
            raise AsruError(f"lmms-eval failed (exit {done.returncode}) on tasks {','.join(config.tasks)}: {last_error[:300]}")
        found = sorted(Path(output).rglob("*_results.json"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise AsruError(f"lmms-eval wrote no results file for tasks {','.join(config.tasks)}: {last_error[:300]}")
        try:
            raw = json.loads(found[-1].read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise AsruError(f"lmms-eval results {found[-1].name}: not JSON ({error})") from None
    scores = lmms_eval_scores(raw)
    missing = [task for task in config.tasks if task not in scores["tasks"]]
    if missing:  # a group task reports its subtasks; a plain task that is absent is an error
        groups = raw.get("group_subtasks", {})
        missing = [task for task in missing if task not in groups]
    if missing:
        raise AsruError(f"lmms-eval results hold no scores for {', '.join(missing)} (got {', '.join(scores['tasks']) or 'none'})")
    return {**scores, "limit": config.limit, "seconds": round(time.perf_counter() - started, 1)}
