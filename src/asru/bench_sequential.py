"""``asru bench --sequential K``: K deletion requests applied one after another, a curve per method.

For each seed, K Personalized requests of different people (:func:`asru.eval.settings.sequential_requests`;
as many people per request as the Personalized setting forgets at ``--forget-ratio``) are written to
``OUT/runs/sequential/requests/seed{n}/step{k}.yaml``, the same for every method. For each method
of the methods file that trains (a test-time method saves no model to continue from) step k is an
ordinary ``asru unlearn`` run from step k-1's model (step 1: from the target) into
``OUT/runs/sequential/{method}/seed{n}/step{k}``, evaluated on every request so far with metrics
per request (:mod:`asru.eval.chain`). The ``target`` row evaluates the target once on the chain of
all K requests (``OUT/runs/sequential/target/seed{n}/steps{K}``): what each request's questions leak
before any unlearning.

Resumable as ``asru bench`` is: each step folder keeps ``bench_run.json`` (its config, the request's
hash) and ``bench_time.json``; a finished step is skipped, an interrupted one resumes from its
checkpoint, a step started with another config stops the benchmark with one line. The requests of
step k do not depend on K, so a larger ``--sequential`` later reuses the steps already run. With
``--workers N`` the steps run in waves (every method's and seed's step k side by side, then k+1).

Writes ``OUT/sequential.json``, ``OUT/sequential.md`` and ``OUT/sequential.png``: after each step,
per method (mean ± 95 % confidence interval over seeds), the knowledge-conditioned leakage of every request applied so
far and the worst of them, the union's leakage, retain (same people, other people) and utility.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

from asru.bench import (
    TARGET_ROW,
    BenchConfig,
    MethodEntry,
    PlannedRun,
    _dig,
    _fmt,
    _load_results,
    attempts,
    execute_todo,
    print_plan,
    run_state,
    run_values,
    summarise,
    summary_header,
)
from asru.errors import ConfigError
from asru.eval.settings import sequential_requests
from asru.io import atomic_write_bytes, atomic_write_json, atomic_write_text

SEQUENTIAL_DIR = "sequential"
SETTING = "personalized"
# (key, column title, path into results.json): the knowledge-conditioned rates every step reports
STEP_COLUMNS: list[tuple[str, str, tuple[str, ...]]] = [
    ("forget_leakage", "all requests leak ↓", ("metrics", "forget", "all", "leakage_known")),
    ("retain_same_subject", "retain same ↑", ("metrics", "retain_same_subject", "all", "exact_match_known")),
    ("retain_other", "retain other ↑", ("metrics", "retain_other", "all", "exact_match_known")),
    ("utility", "utility ↑", ("metrics", "utility", "all", "exact_match_known")),
]
GOAL_LEAKAGE = 0.05  # every request applied so far at most this leaky ...
GOAL_RETAIN = 0.95  # ... with retain at least this share of the target's (whose rates over what it knew are 1)


@dataclass
class SequentialRun(PlannedRun):
    step: int = 0  # 1..K; 0 for the target row


def request_id(step: int) -> str:
    """The id a step's request has in every chain (its file's name): step1, step2, ..."""
    return f"step{step}"


def run_label(run: PlannedRun) -> str:
    return f"{SEQUENTIAL_DIR}/{run.row}/seed{run.seed}" + (f"/step{run.step}" if getattr(run, "step", 0) else "")


def people_per_step(config: BenchConfig) -> int:
    """As many people per request as the Personalized setting forgets at the benchmark's forget ratio."""
    return max(1, round(config.forget_ratio * config.resolved_subjects()))


def sequential_entries(config: BenchConfig, entries: list[MethodEntry]) -> list[MethodEntry]:
    """The methods to chain and a check of --sequential against the world, before any work.

    A method that does not train saves no model for the next step to start from: named in
    --methods it is an error, otherwise it is left out.
    """
    from asru.methods.base import get_method

    needed = config.sequential * people_per_step(config)
    if needed >= config.resolved_subjects():
        raise ConfigError(
            f"option --sequential: {config.sequential} requests of {people_per_step(config)} people each need more than {needed} people; "
            f"the world has {config.resolved_subjects()} (--subjects); lower --sequential or --forget-ratio"
        )
    test_time = [e.name for e in entries if not get_method(e.method).trains]
    if config.methods and test_time:
        raise ConfigError(f"option --sequential: {test_time[0]!r} is a test-time method (it saves no model for the next request to start from); leave it out of --methods")
    chained = [e for e in entries if e.name not in test_time]
    if not chained:
        raise ConfigError("option --sequential: none of the methods trains a model to continue from")
    return chained


def skipped_methods(config: BenchConfig) -> list[str]:
    """The methods file's entries --sequential leaves out (test-time methods)."""
    from asru.bench import load_methods, select_methods
    from asru.methods.base import get_method

    entries = select_methods(load_methods(config.methods_file, config.quick), config.methods, config.methods_file)
    return [e.name for e in entries if not get_method(e.method).trains]


def request_files(config: BenchConfig, world, seed: int) -> list[tuple[Path, bytes, list]]:
    """Each step's request file for a seed: (path, YAML bytes, the requests), the same bytes on every invocation."""
    folder = config.resolved_out() / "runs" / SEQUENTIAL_DIR / "requests" / f"seed{seed}"
    steps = sequential_requests(world, config.sequential, people_per_step(config), seed)
    return [
        (folder / f"{request_id(k)}.yaml", yaml.safe_dump([r.model_dump(mode="json") for r in requests], sort_keys=False).encode("utf-8"), requests)
        for k, requests in enumerate(steps, start=1)
    ]


def plan_sequential(config: BenchConfig, entries: list[MethodEntry], world, target_dir: Path, attacks: list[str]) -> tuple[list[SequentialRun], dict[int, list]]:
    """Seed-major, then step-major: every method's step k before any step k+1. Also returns each seed's requests (ChainEntry list)."""
    from asru.bench import unlearn_record
    from asru.eval.chain import new_entry
    from asru.pipeline import EvalConfig
    from asru.train.unlearn import UnlearnConfig

    out = config.resolved_out() / "runs" / SEQUENTIAL_DIR
    common = {"world_hash": world.manifest.get("content_hash"), "target": target_dir.name, "attacks": attacks}
    runs, chains = [], {}
    for seed in config.resolved_seeds():
        files = request_files(config, world, seed)
        hashes = [hashlib.sha256(data).hexdigest() for _, data, _ in files]
        chains[seed] = [
            new_entry(world, requests, setting=SETTING, method=TARGET_ROW, run=out / TARGET_ROW / f"seed{seed}" / f"steps{config.sequential}", file=path, file_bytes=data)
            for path, data, requests in files
        ]
        if config.target_row:
            eval_config = EvalConfig(setting=SETTING, forget_ratio=config.forget_ratio, seed=seed, attacks=attacks)
            record = {**common, "row": TARGET_ROW, "eval_config": eval_config.model_dump(mode="json"), "requests_sha256": hashes}
            # one folder per K: a longer benchmark later evaluates the target on its longer chain beside this one
            runs.append(SequentialRun(SETTING, TARGET_ROW, seed, out / TARGET_ROW / f"seed{seed}" / f"steps{config.sequential}", record, eval_config, chain=chains[seed], step=0))
        for step, (path, _, _) in enumerate(files, start=1):
            for entry in entries:
                folder = out / entry.name / f"seed{seed}"
                unlearn_config = UnlearnConfig.model_validate({**entry.fields_for(SETTING), "setting": SETTING, "seed": seed, "forget_ratio": config.forget_ratio, "requests_file": str(path)})
                record = {**unlearn_record(common, entry.name, unlearn_config), "step": step, "requests_sha256": hashes[:step]}
                model = folder / f"step{step - 1}" / "model" if step > 1 else None
                runs.append(SequentialRun(SETTING, entry.name, seed, folder / f"step{step}", record, unlearn_config, model=model, step=step))
    return runs, chains


def write_request_files(config: BenchConfig, world) -> None:
    """Each seed's request files, written (atomically) where they differ from what is there."""
    for seed in config.resolved_seeds():
        for path, data, _ in request_files(config, world, seed):
            if not path.is_file() or path.read_bytes() != data:
                atomic_write_bytes(path, data)


def step_values(results: dict, wall_attempts: list[float] | None = None) -> dict[str, float | None]:
    """The numbers of one step: the columns, each request's leakage (known and raw) and the worst of them, attacks, wall time."""
    values = {key: _dig(results, path) for key, _, path in STEP_COLUMNS}
    values.update({k: v for k, v in run_values(results, wall_attempts).items() if k.startswith("attack.") or k == "wall_seconds"})
    known = []
    for rid, per in results.get("request_metrics", {}).items():
        forget = per.get("metrics", {}).get("forget", {})
        values[f"request.{rid}"] = forget.get("leakage_known")
        values[f"request_raw.{rid}"] = forget.get("leakage")
        values[f"request_known.{rid}"] = forget.get("n_known")
        if forget.get("leakage_known") is not None:
            known.append(forget["leakage_known"])
    values["worst_request_leakage"] = max(known) if known else None
    return values


def aggregate_sequential(config: BenchConfig, runs: list[SequentialRun]) -> dict[str, dict[str, dict]]:
    """``{row: {step: {"seeds", "runs", "metrics": {key: summary}, "partial"}}}`` from the finished steps (step "0": the target row)."""
    asked = len(config.resolved_seeds())
    table: dict[str, dict[str, dict]] = {}
    for run in runs:
        cell = table.setdefault(run.row, {}).setdefault(str(run.step), {"seeds": [], "runs": [], "per_seed": {}})
        results = _load_results(run.folder)
        if results is None:
            continue
        cell["seeds"].append(run.seed)
        cell["runs"].append(str(run.folder))
        cell["per_seed"][run.seed] = step_values(results, attempts(run.folder))
    for steps in table.values():
        for cell in steps.values():
            keys = list(dict.fromkeys(k for values in cell["per_seed"].values() for k in values))
            cell["metrics"] = {k: summarise([values.get(k) for values in cell["per_seed"].values()]) for k in keys}
            cell["partial"] = 0 < len(cell["seeds"]) < asked
            cell.pop("per_seed")
    return table


def _mean(cell: dict | None, key: str) -> float | None:
    return ((cell or {}).get("metrics", {}).get(key) or {}).get("mean")


def goal(cell: dict | None) -> bool | None:
    """Every request so far at ≤ 5 % leakage (known) and retain ≥ 95 % of the target's, on the means over seeds (None: not run)."""
    values = [_mean(cell, "worst_request_leakage"), _mean(cell, "retain_same_subject"), _mean(cell, "retain_other")]
    if not cell or not cell["seeds"] or values[0] is None:
        return None
    return values[0] <= GOAL_LEAKAGE and all(v is None or v >= GOAL_RETAIN for v in values[1:])


def markdown_sequential(summary: dict) -> str:
    from asru.report.writer import markdown_table

    config, asked, steps = summary["config"], len(summary["seeds"]), summary["steps"]
    table = summary["curves"]
    machine, world = summary["machine"], summary["world"]
    ids = [request_id(k) for k in range(1, steps + 1)]
    lines = [
        "# Sequential deletion requests" + (" (quick mode: CI-sized, not the benchmark's numbers)" if config["quick"] else ""),
        "",
        f"Written by `asru bench --sequential {steps}` on {summary['date']}. Machine: {machine['platform']}, {machine['cpu_count']} CPU cores, "
        f"torch threads {machine['torch_threads']}. Versions: " + ", ".join(f"{k} {v}" for k, v in summary["versions"].items() if k != "machine") + ".",
        "",
        f"World: {world['subjects']} people (seed {world['seed']}, hash {str(world['hash'])[:12]}); target model: {summary['target_model']['path']}. "
        f"{steps} Personalized requests per seed, applied one after another, each from {summary['people_per_step']} other "
        f"{'person' if summary['people_per_step'] == 1 else 'people'} (a random 1–4 of each one's facts); every method gets the same requests. "
        f"Seeds asked: {', '.join(map(str, summary['seeds']))}. Attacks: {', '.join(summary['attacks']) or 'none'}.",
        "",
        "Step k is an `asru unlearn` run from step k−1's model, evaluated on every request applied so far. `stepN` is the leakage of "
        "request N's questions after step k (knowledge-conditioned: over its questions the target answered correctly); `worst` the "
        "highest of them; `all requests` the leakage of their union; retain (same people: the kept facts of the people named; other "
        "people) and utility are exact match over what the target answered correctly, so the target's own are 1 and 0.95 is 95 % of "
        "the target. Each cell: mean ± the half-width of its 95 % confidence interval over seeds (Student t); a cell ending in (n/N) averages only the n seeds finished. "
        f"The `{TARGET_ROW}` row (step 0) is the target before any unlearning, on all {steps} requests.",
    ]
    if summary["skipped_methods"]:
        lines += ["", "Left out (test-time methods save no model for the next request to start from): " + ", ".join(summary["skipped_methods"]) + "."]
    rows = [r for r in summary["rows"] if r != TARGET_ROW]
    lines += [
        "", f"## After step {steps}: every request still forgotten?", "",
        f"Goal: every request at ≤ {GOAL_LEAKAGE:.0%} leakage and retain ≥ {GOAL_RETAIN:.0%} of the target (on the means over seeds).", "",
    ]
    body = []
    for row in rows:
        cell = table.get(row, {}).get(str(steps))
        met = goal(cell)
        body.append([row, f"{len((cell or {}).get('seeds', []))}/{asked}"] + [_fmt((cell or {}).get("metrics", {}).get(k), "rate", asked) for k in ("worst_request_leakage", "retain_same_subject", "retain_other", "utility")]
                    + ["–" if met is None else "yes" if met else "no"])
    lines.append(markdown_table(["method", "seeds", "worst request leak ↓", "retain same ↑", "retain other ↑", "utility ↑", "goal met"], body))
    header = ["step", "seeds"] + ids + ["worst ↓"] + [title for _, title, _ in STEP_COLUMNS] + ["wall time (s)"]
    for row in summary["rows"]:
        body = []
        for step, cell in table.get(row, {}).items():
            metrics = cell.get("metrics", {})
            done = len(cell["seeds"])
            body.append(
                [step if row != TARGET_ROW else "0 (target)", f"{done}/{asked}" + (" partial" if 0 < done < asked else " not run" if done == 0 else "")]
                + [_fmt(metrics.get(f"request.{rid}"), "rate", asked) if row == TARGET_ROW or k <= int(step) else "·" for k, rid in enumerate(ids, start=1)]
                + [_fmt(metrics.get("worst_request_leakage"), "rate", asked)]
                + [_fmt(metrics.get(key), "rate", asked) for key, _, _ in STEP_COLUMNS]
                + [_fmt(metrics.get("wall_seconds"), "seconds", asked)]
            )
        lines += ["", f"## {row}", "", markdown_table(header, body)]
    lines += ["", "## Requests", ""]
    for seed, requests in summary["requests"].items():
        body = [[r["id"], r["sha256"][:12], "; ".join(f"{q['subject']} ({q['subject_id']}): facts {', '.join(map(str, q['fact_ids']))}" for q in r["requests"])] for r in requests]
        lines += [f"Seed {seed}:", "", markdown_table(["request", "sha256", "people: fact ids"], body), ""]
    if summary["partial"]:
        lines += [f"**Partial** (fewer than {asked} seeds): " + ", ".join(summary["partial"]) + ".", ""]
    lines += ["## Plot", ""] + [f"![{name}]({file})" for name, file in summary["plots"].items()]
    return "\n".join(lines) + "\n"


def draw_sequential(table: dict, steps: int, out: Path) -> dict[str, str]:
    """sequential.png: each method's curve of the worst request, the first request, retain and utility."""
    from asru.report.plots import plot_sequential

    panels = {
        "worst_request_leakage": ("worst leakage over the requests so far ↓", GOAL_LEAKAGE),
        f"request.{request_id(1)}": ("leakage of the first request ↓", GOAL_LEAKAGE),
        "retain_same_subject": ("retain, same people ↑", GOAL_RETAIN),
        "retain_other": ("retain, other people ↑", GOAL_RETAIN),
        "utility": ("utility ↑", None),
    }
    curves = {
        row: {
            key: [(step, (cells.get(str(step), {}).get("metrics", {}).get(key) or {}).get("mean"), (cells.get(str(step), {}).get("metrics", {}).get(key) or {}).get("std")) for step in range(1, steps + 1)]
            for key in panels
        }
        for row, cells in table.items()
        if row != TARGET_ROW
    }
    return {"sequential": plot_sequential(curves, panels, steps, out / "sequential.png").name}


def write_sequential(config: BenchConfig, runs: list[SequentialRun], chains: dict[int, list], world, world_dir: Path, target_dir: Path, recipe, attacks: list[str], entries: list[MethodEntry]) -> dict:
    """sequential.json, sequential.md and sequential.png from whatever steps have finished."""
    out = config.resolved_out()
    table = aggregate_sequential(config, runs)
    summary = {
        **summary_header(config, world, world_dir, target_dir, recipe, attacks, entries),
        "steps": config.sequential,
        "people_per_step": people_per_step(config),
        "setting": SETTING,
        "requests": {str(seed): [{"id": e.id, "file": e.file, "sha256": e.sha256, "requests": [r.model_dump(mode="json") for r in e.requests]} for e in chain] for seed, chain in chains.items()},
        "skipped_methods": skipped_methods(config),
        "rows": ([TARGET_ROW] if config.target_row else []) + [e.name for e in entries],
        "columns": {key: {"title": title, "from": ".".join(path)} for key, title, path in STEP_COLUMNS},
        "goal": {"max_leakage": GOAL_LEAKAGE, "min_retain": GOAL_RETAIN, "met_after_last_step": {e.name: goal(table.get(e.name, {}).get(str(config.sequential))) for e in entries}},
        "curves": table,
        "partial": [f"{row}/step{step}" for row, cells in table.items() for step, cell in cells.items() if cell["partial"]],
        "not_run": [f"{row}/step{step}" for row, cells in table.items() for step, cell in cells.items() if not cell["seeds"]],
        "runs_finished": sum(len(cell["seeds"]) for cells in table.values() for cell in cells.values()),
        "runs_planned": len(runs),
    }
    summary["plots"] = draw_sequential(table, config.sequential, out)
    atomic_write_json(out / "sequential.json", summary)
    atomic_write_text(out / "sequential.md", markdown_sequential(summary))
    return summary


def run_sequential(config: BenchConfig, entries: list[MethodEntry], attacks: list[str], world, world_dir: Path, target_dir: Path, recipe, console=None) -> dict:
    """Plan, write the request files, run the steps (skipping finished ones, resuming an interrupted one), aggregate."""
    runs, chains = plan_sequential(config, entries, world, target_dir, attacks)
    states = [run_state(run) for run in runs]
    if not config.report_only:
        write_request_files(config, world)
        todo = [(run, state) for run, state in zip(runs, states) if state != "done"]
        print_plan(console, len(runs), todo, config.resolved_out() / "runs" / SEQUENTIAL_DIR)
        if config.workers > 1:  # a step needs the one before: the steps k of every method and seed side by side, then k + 1
            for step in sorted({run.step for run, _ in todo}):
                wave = [(run, state) for run, state in todo if run.step == step]
                execute_todo(wave, len(wave), world_dir, target_dir, config.workers, console, name=run_label, order=f"step {step}")
        else:  # in plan order: seed by seed, every method's step k before any step k + 1
            execute_todo(todo, len(runs), world_dir, target_dir, 1, console, name=run_label)
    return write_sequential(config, runs, chains, world, world_dir, target_dir, recipe, attacks, entries)
