"""``asru bench --tune``: every method's grid on the validation seeds, one declared rule, ``tuned.yaml``.

The fair-comparison protocol (README "Trade-off benchmark"): hyper-parameters are chosen on
**validation seeds** (forget sets drawn by seeds never reported) and the tables are reported on
**test seeds**; no seed is both. Every method of the methods file that has a ``grid:`` is run at
each of its grid points (at most :data:`MAX_GRID`, the same number for every method: an equal
tuning budget) on every setting and validation seed, into
``OUT/runs/validation/{setting}/{method}/g{k}/seed{n}`` (plus the target and oracle rows of each
validation seed, as in the tables). Then, per method and setting, the rule (:data:`RULE`): the
highest mean unlearning score (:mod:`asru.eval.score`) over the validation seeds among the grid
points whose utility part stays >= 0.9 of the target's; where none does, the point with the highest
utility, marked ineligible. The choice goes to ``tuned.yaml`` (the grid point's overrides, its
validation score and utility), every point's numbers to ``OUT/validation.json`` / ``validation.md``.
``asru bench`` (the test run) then applies ``tuned.yaml`` on top of each method's entry, per setting.
Resumable like the tables: a finished grid run is skipped.
"""

from __future__ import annotations

import datetime
import itertools
import json
from pathlib import Path
from typing import Any

import yaml

from asru.bench import (
    ORACLE_ROW,
    TARGET_ROW,
    BenchConfig,
    MethodEntry,
    PlannedRun,
    Recorded,
    _fmt,
    aggregate,
    bench_common,
    every,
    execute_with_oracles,
    merge,
    print_plan,
    recorded_runs,
    rejudge_finished,
    run_state,
    summary_header,
    target_builds,
    unlearn_record,
)
from asru.errors import ConfigError, DataError
from asru.eval.score import UTILITY_FLOOR
from asru.io import atomic_write_json, atomic_write_text

MAX_GRID = 8
VALIDATION_DIR = "validation"
RULE = (
    f"the highest mean unlearning score over the validation seeds among the grid points whose utility part (retain and general "
    f"utility relative to the target) stays >= {UTILITY_FLOOR}; where none does, the point with the highest utility (marked ineligible)"
)


def expand_grid(grid: Any, where: str) -> list[dict]:
    """``{"learning_rate": [..], "method_args.beta": [..]}`` -> one nested override mapping per combination (in order)."""
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{where}: field 'grid': expected a mapping of config fields (dotted for method_args) to lists of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: field 'grid.{key}': expected a non-empty list of values")
    points = []
    for combination in itertools.product(*grid.values()):
        point: dict = {}
        for key, value in zip(grid, combination):
            *parents, leaf = str(key).split(".")
            nested: dict = {leaf: value}
            for parent in reversed(parents):
                nested = {parent: nested}
            point = merge(point, nested)
        points.append(point)
    if len(points) > MAX_GRID:
        raise ConfigError(f"{where}: field 'grid': {len(points)} configurations; the tuning budget is at most {MAX_GRID} per method")
    return points


def check_equal_budget(entries: list[MethodEntry]) -> list[MethodEntry]:
    """The entries with a grid, all of one size (an equal tuning budget); one line naming the sizes otherwise."""
    tuned = [e for e in entries if e.grid]
    if not tuned:
        raise ConfigError("option --tune: no method of the methods file has a 'grid:' to tune")
    sizes = {e.name: len(e.grid) for e in tuned}
    if len(set(sizes.values())) > 1:
        raise ConfigError("option --tune: every method needs the same number of grid points (an equal tuning budget); got " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    return tuned


def point_row(name: str, index: int) -> str:
    return f"{name}@g{index}"


def plan_validation(config: BenchConfig, entries: list[MethodEntry], world, target_dir: Path, attacks: list[str]) -> list[PlannedRun]:
    """Seed-major, as the tables: each validation seed's target and oracle rows, then every method's grid points."""
    from asru.pipeline import EvalConfig
    from asru.train.unlearn import UnlearnConfig

    out = config.resolved_out() / "runs" / VALIDATION_DIR
    common = bench_common(world, target_dir, attacks)
    runs = []
    for seed in config.resolved_validation_seeds():
        for setting in config.settings:
            eval_config = EvalConfig(setting=setting, forget_ratio=config.forget_ratio, seed=seed, attacks=attacks)
            for row, wanted in ((TARGET_ROW, config.target_row), (ORACLE_ROW, config.oracle_row)):
                if wanted:
                    record = {**common, "row": row, "eval_config": eval_config.model_dump(mode="json")}
                    runs.append(PlannedRun(setting, row, seed, out / setting / row / f"seed{seed}", record, eval_config))
            for entry in entries:
                for index, point in enumerate(entry.grid):
                    fields = merge(entry.point_fields(point, setting), {"setting": setting, "seed": seed, "forget_ratio": config.forget_ratio})
                    unlearn_config = UnlearnConfig.model_validate(fields)
                    record = {**unlearn_record(common, point_row(entry.name, index), unlearn_config), "grid_point": point}
                    runs.append(PlannedRun(setting, point_row(entry.name, index), seed, out / setting / entry.name / f"g{index}" / f"seed{seed}", record, unlearn_config))
    return runs


def one_build_per_grid(runs: list[PlannedRun], recorded: Recorded) -> Recorded:
    """``recorded`` without the runs of another build of the target in any grid that is not wholly recorded on that one build.

    Why: the same recipe fine-tuned on another machine moves one run's score by several hundredths
    (0.847 against 0.804 for ASRU's default, Complete, seed 100), as much as grid points differ: a
    choice among points of two builds would read the builds. A grid (method and setting) finished on
    one build keeps it; any other grid runs (again) on this machine's build.
    """
    grids: dict[tuple[str, str], list[PlannedRun]] = {}
    for run in runs:
        if "@g" in run.row:
            grids.setdefault((run.setting, run.row.rsplit("@g", 1)[0]), []).append(run)
    kept = dict(recorded)
    for grid in grids.values():
        keys = [(run.setting, run.row, run.seed) for run in grid]
        builds = {recorded[key][1].get("target_build") for key in keys if key in recorded}
        here = grid[0].record.get("target_build")
        if all(key in recorded for key in keys) and len(builds) == 1:
            continue
        for key in keys:
            if key in recorded and recorded[key][1].get("target_build") != here:
                del kept[key]
    return kept


def choose(table: dict, entries: list[MethodEntry], seeds: int = 1) -> dict[str, dict[str, dict]]:
    """Per method and setting, the grid point the rule picks, with its validation numbers.

    Only once every grid point is scored on all ``seeds`` validation seeds: a choice among the
    points finished so far (a tuning stopped half-way) would favour whichever ran first.
    """
    chosen: dict[str, dict[str, dict]] = {}
    for setting, rows in table.items():
        for entry in entries:
            candidates = []
            for index, point in enumerate(entry.grid):
                cell = rows.get(point_row(entry.name, index), {})
                metrics = cell.get("metrics", {})
                score, utility = (metrics.get("score") or {}).get("mean"), (metrics.get("score_utility") or {}).get("mean")
                if score is not None and utility is not None and len(cell.get("seeds", [])) >= seeds:
                    candidates.append((index, point, score, utility))
            if len(candidates) < len(entry.grid):
                continue
            eligible = [c for c in candidates if c[3] >= UTILITY_FLOOR]
            index, point, score, utility = max(eligible, key=lambda c: (c[2], c[3])) if eligible else max(candidates, key=lambda c: (c[3], c[2]))
            chosen.setdefault(entry.name, {})[setting] = {
                "fields": point, "grid_point": index, "validation_score": round(score, 4), "validation_utility": round(utility, 4),
                "eligible": bool(eligible),
            }
    return chosen


def validation_markdown(summary: dict) -> str:
    from asru.report.writer import markdown_table

    asked = len(summary["validation_seeds"])
    lines = [
        "# Tuning on validation seeds", "",
        f"Written by `asru bench --tune` on {summary['date']}. Validation seeds: {', '.join(map(str, summary['validation_seeds']))} "
        "(never reported; the tables use the test seeds). Each cell: mean ± 95 % CI over the validation seeds.", "",
        f"Rule: {RULE}. Chosen points are marked ✓ and written to `{summary['tuned_file']}`.",
    ]
    builds = summary.get("target_builds") or {}
    if len(builds) > 1:  # the same recipe fine-tuned on other machines: the choice reads them together (asru.bench.recorded_runs)
        lines += ["", "Runs on more than one build of the target (its recipe fine-tuned on different machines; the weights differ in rounding): "
                  + ", ".join(f"{build}: {count}" for build, count in sorted(builds.items())) + "."]
    for setting, rows in summary["settings"].items():
        body = []
        for entry_name, points in summary["grids"].items():
            pick = summary["chosen"].get(entry_name, {}).get(setting, {"grid_point": None, "eligible": True})
            for index, point in enumerate(points):
                metrics = rows.get(point_row(entry_name, index), {}).get("metrics", {})
                body.append([
                    entry_name, f"g{index}", ", ".join(f"{k}={v}" for k, v in _flatten(point).items()),
                    *[_fmt(metrics.get(k), "score", asked) for k in ("score", "score_efficacy", "score_closeness", "score_utility")],
                    ("✓" if pick.get("grid_point") == index else "") + ("" if pick.get("eligible", True) or pick.get("grid_point") != index else " (utility < floor)"),
                ])
        header = ["method", "point", "overrides", "score ↑", "efficacy ↑", "closeness ↑", "utility ↑", "chosen"]
        waiting = [name for name in summary["grids"] if setting not in summary["chosen"].get(name, {})]
        lines += ["", f"## {setting}", "", markdown_table(header, body)]
        if waiting:
            lines += ["", f"Not chosen yet (a grid point still unfinished on a validation seed): {', '.join(waiting)}."]
    return "\n".join(lines) + "\n"


def _flatten(point: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in point.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def run_tuning(
    config: BenchConfig, entries: list[MethodEntry], attacks: list[str], world, world_dir: Path, target_dir: Path, recipe, console=None,
    every_entry: list[MethodEntry] | None = None,
) -> dict:
    """Run (or resume) the grid points of ``entries`` on the validation seeds, choose, write tuned.yaml and validation.json/.md.

    The report and the choice cover every grid of the methods file (``every_entry``), whatever
    ``--methods`` ran this time: the grids can be run a few methods at a time, and tuned.yaml holds
    each method whose grid is complete. A choice for a setting not run this time is kept from the
    tuned file when that file is of the same world, target and validation seeds.
    """
    untuned = [e.name for e in entries if not e.grid and not e.tuned_as]
    borrowed = [f"{e.name} (as {e.tuned_as})" for e in entries if e.tuned_as]
    entries = check_equal_budget(entries)
    all_entries = check_equal_budget(every_entry) if every_entry is not None else entries
    if untuned and console:
        console.print(f"not tuned (no grid in the methods file): {', '.join(untuned)}", soft_wrap=True)
    if borrowed and console:
        console.print(f"ablations that take another entry's choice (no grid of their own): {', '.join(borrowed)}", soft_wrap=True)
    runs = plan_validation(config, all_entries, world, target_dir, attacks)  # the report's: every grid, finished or not
    out = config.resolved_out()
    recorded = one_build_per_grid(runs, recorded_runs(out / "validation.json", runs, same_build=False))
    if not config.report_only:
        selected = {TARGET_ROW, ORACLE_ROW} | {point_row(e.name, index) for e in entries for index in range(len(e.grid))}
        to_run = [run for run in runs if run.row in selected]
        # tune_this_build: what another build recorded runs again here (the report keeps it until then: one build per grid)
        here = runs[0].record.get("target_build") if runs else None
        reusable = {key: value for key, value in recorded.items() if not config.tune_this_build or value[1].get("target_build") == here}
        states = ["done" if (run.setting, run.row, run.seed) in reusable else run_state(run) for run in to_run]
        todo = [(run, state) for run, state in zip(to_run, states) if state != "done"]
        known = sum((run.setting, run.row, run.seed) in reusable for run in to_run)
        print_plan(console, len(to_run), todo, out / "runs" / VALIDATION_DIR, known, "validation.json")
        execute_with_oracles(
            to_run, states, world, world_dir, target_dir, out, config.workers, console, order="every grid point's first validation seed first",
            after_each=every(lambda: write_tuning(config, all_entries, runs, recorded, world, world_dir, target_dir, recipe, attacks), console),
        )
    rejudge_finished(runs, console)
    return write_tuning(config, all_entries, runs, recorded, world, world_dir, target_dir, recipe, attacks)


def write_tuning(config: BenchConfig, entries: list[MethodEntry], runs: list, recorded, world, world_dir: Path, target_dir: Path, recipe, attacks: list[str]) -> dict:
    """Aggregate the finished grid points, choose, write validation.json/.md and tuned.yaml; the summary.

    At the end of the tuning, and every ``asru.bench.SNAPSHOT_SECONDS`` while it runs (a grid not yet finished is not chosen).
    """
    out = config.resolved_out()
    table = aggregate(config.model_copy(update={"seeds": config.resolved_validation_seeds()}), runs, recorded)
    chosen = choose(table, entries, len(config.resolved_validation_seeds()))
    header = summary_header(config, world, world_dir, target_dir, recipe, attacks, entries)
    tuned_file = config.resolved_tuned_file()
    summary = {
        **header, "validation_seeds": config.resolved_validation_seeds(), "rule": RULE, "utility_floor": UTILITY_FLOOR, "max_grid": MAX_GRID,
        "grids": {e.name: e.grid for e in entries}, "settings": table, "chosen": chosen, "tuned_file": str(tuned_file),
        "runs_finished": sum(len(cell["seeds"]) for rows in table.values() for cell in rows.values()), "runs_planned": len(runs),
        "target_builds": target_builds(table),
    }
    atomic_write_json(out / "validation.json", summary)
    atomic_write_text(out / "validation.md", validation_markdown(summary))
    tuned = {
        "written": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "rule": RULE,
        "validation_seeds": config.resolved_validation_seeds(), "world_hash": world.manifest.get("content_hash"), "target": target_dir.name,
        "methods": merge_other_settings(chosen, tuned_file, config, world, target_dir, {e.name for e in entries}),
    }
    atomic_write_text(tuned_file, "# written by `asru bench --tune` (asru.bench_tuning); the validation numbers are in validation.json\n" + yaml.safe_dump(json.loads(json.dumps(tuned)), sort_keys=False, allow_unicode=True))  # a JSON round trip: no YAML anchors (&id001) where two settings chose one point
    return summary


def merge_other_settings(chosen: dict, tuned_file: Path, config: BenchConfig, world, target_dir: Path, names: set[str]) -> dict:
    """``chosen`` plus the tuned file's choices for settings not run this time (same world, target, validation seeds only)."""
    try:
        old = yaml.safe_load(tuned_file.read_text(encoding="utf-8")) if tuned_file.is_file() else None
    except (OSError, yaml.YAMLError):
        old = None
    same = isinstance(old, dict) and isinstance(old.get("methods"), dict) and (old.get("world_hash"), old.get("target"), old.get("validation_seeds")) == (
        world.manifest.get("content_hash"), target_dir.name, config.resolved_validation_seeds())
    if not same:
        return chosen
    merged = {name: dict(settings) for name, settings in chosen.items()}
    for name, settings in old["methods"].items():
        if name in names and isinstance(settings, dict):
            for setting, choice in settings.items():
                if setting not in config.settings:
                    merged.setdefault(name, {})[setting] = choice
    return merged


def load_tuned(config: BenchConfig, world, target_dir: Path) -> dict[str, dict[str, dict]] | None:
    """tuned.yaml's choices to apply to the test run, or None when there is no file (or ``use_tuned`` is off).

    A file tuned on another world or target model, or on a seed the test run reports, is one line.
    """
    path = config.resolved_tuned_file()
    if not config.use_tuned or not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise DataError(f"{path}: unreadable ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("methods"), dict):
        raise DataError(f"{path}: expected a mapping with 'methods' (written by asru bench --tune)")
    if data.get("world_hash") != world.manifest.get("content_hash") or data.get("target") != target_dir.name:
        raise ConfigError(f"{path}: tuned on another world or target model ({data.get('target')}); run asru bench --tune again, or --no-tuned")
    reused = sorted(set(data.get("validation_seeds") or []) & set(config.resolved_seeds()))
    if reused:
        raise ConfigError(f"option --seeds: seed {reused[0]} chose the hyper-parameters in {path} (validation seeds {data.get('validation_seeds')}); report on other seeds")
    return data["methods"]
