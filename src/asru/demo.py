"""``asru demo``: the project's story on the embedded default, no GPU, no internet.

1. build (or load from the cache) the 20-person world and the target model that knows it (half the
   benchmarks' 40 people, so that a fresh machine's first demo, target fine-tuning included, fits
   in 15 minutes on 2 cores);
2. forget one person entirely (Complete: a deletion request for all of their facts) and the
   sensitive facts of another (Selective: a request naming their ``sensitive`` fact ids, as the
   selective setting chooses them) with ASRU, GradDiff and NPO at their defaults: six ordinary
   ``asru unlearn`` run folders, ``OUT/{setting}/{method}``, plus the target model evaluated on the
   same questions, ``OUT/{setting}/target``, and the retrained oracle (the target's recipe without
   the request, fine-tuned once per machine and cached: ``asru oracle``), ``OUT/{setting}/oracle``,
   what a model that never saw the facts answers and what forget quality and PrivLeak compare with;
3. one table per setting (the ``asru bench`` columns and helpers: rates over the questions the
   target answered correctly, :mod:`asru.eval.knowledge`), and for each method the answers
   to three questions before (the target) and after: a forgotten question, a kept question about
   the same person (Selective) or another forgotten one (Complete), and a question about someone
   else — read back from the runs' ``answers.jsonl``;
4. the runs' HTML reports and a comparison per setting (``asru.report.compare``) in
   ``OUT/comparison/{setting}``; everything the tables show also goes to ``OUT/demo.json``.

Runs are resumable as in ``asru bench`` (a finished run is skipped, an interrupted one resumes, a
folder started with another config is refused). To stay within a few minutes on 2 CPU cores the
evaluation asks only the splits the table needs (no paraphrase copies, no attacks), the bigger
ones capped to a seeded subset that every model answers alike (``eval_max_per_split``; the
gone-or-hidden measures are likelihoods and probes, not generation, and use every question), and ASRU
runs at half its default steps in both stages (``quick_asru``: about a minute of a core per run
instead of two; ``asru bench`` runs the full defaults). The other methods run with their own defaults;
``steps`` and ``method_overrides`` change them only when set.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field

from asru.config import StrictConfig
from asru.errors import ConfigError, DataError
from asru.eval.settings import DeletionRequest, default_requests
from asru.io import atomic_write_json, atomic_write_text, check_writable
from asru.report.results import load_answers, load_results

DEMO_SETTINGS = ("complete", "selective")
# The demo's world besides its people (DemoConfig.subjects): fewer visual questions and unknown
# people than asru bench's 40-person world, in proportion to its size, so that the target and the
# oracle fine-tune in a fresh clone's first `make demo` (see the README for the measured times)
DEMO_WORLD = {"utility_questions": 40, "unknown_people": 8}
# the splits the demo's table reads (bench.COLUMNS): nothing else is evaluated
EVAL_SPLITS = ["forget", "retain_same_subject", "retain_other", "utility"]
TABLE_COLUMNS = ("forget_leakage", "forget_refusal", "retain_same_subject", "retain_other", "utility", "naturalness")
# in demo.json and the table's caption (the table is full at 80 columns): how many forget answers refuse naming the fact asked
CAPTION_COLUMN = "names_fact"
# gone or hidden (bench.COLUMNS' too): a second table under each setting's, each read against the oracle row
ORACLE_COLUMNS = ("forget_quality", "privleak", "answer_rank1", "probe_recovery")
# bench.COLUMNS' values, titled to fit 80 columns
TABLE_TITLES = {
    "forget_leakage": "forget\nleak ↓", "forget_refusal": "forget\nrefuse ↑", "retain_same_subject": "retain\nsame ↑", "retain_other": "retain\nother ↑",
    "utility": "utility\n↑", "naturalness": "natural\n(1–5) ↑", "wall_seconds": "wall\ns",
    "forget_quality": "forget\nquality ↑", "privleak": "PrivLeak\n→ 0", "answer_rank1": "truth\n1st ↓", "probe_recovery": "probe\nrecovery ↓",
}
METHOD_TITLES = {"asru": "ASRU", "grad_diff": "GradDiff", "npo": "NPO", "oracle": "oracle (never saw)"}
# the order of the demo's runs in parallel workers: the target rows first (short; their answers are the
# target's cached bits that every method's conditioned figures read), then the longest first
LONGEST_FIRST = {"target": -1, "oracle": -1, "asru": 0, "npo": 1, "grad_diff": 2}
LABEL_STYLES = {
    "leak": "red", "correct": "green", "refusal_contextual": "cyan", "refusal_rigid": "cyan",
    "hallucination": "yellow", "gibberish": "magenta",
}


class DemoConfig(StrictConfig):
    """What ``asru demo`` runs; every CLI option maps to one field."""

    out: str = Field("runs/demo", description="folder for the run folders, the comparison and demo.json")
    subjects: int = Field(8, ge=2, description="people in the embedded world (asru bench: 40; 8 keep the fine-tuning of the target and the oracle, the longest part of a first demo, to minutes)")
    seed: int = Field(0, description="world seed; also picks the people forgotten and seeds training")
    methods: list[str] = Field(default_factory=lambda: ["asru", "grad_diff", "npo"], min_length=1, description="unlearning methods (registry names)")
    steps: int | None = Field(None, ge=1, description="trainer steps of every method (UnlearnConfig.steps); default: each method's own")
    method_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict, description="UnlearnConfig fields per method, e.g. {npo: {steps: 30}}")
    quick_asru: bool = Field(True, description="ASRU at half its default steps in both stages, to fit the demo in ~3 minutes on 2 cores; false: its full defaults (as asru bench runs it); steps / method_overrides win over it")
    eval_max_per_split: int | None = Field(200, ge=1, description="questions asked per split at most (a seeded subset, the same for every model); null: all")
    workers: int | None = Field(None, ge=1, description="runs at a time, each in its own process with cores/workers torch threads (default: min(4, CPU cores)); 1: one after another in this process")
    world: str | None = Field(None, description="a world folder to use instead of the embedded one (default: built and cached)")
    model: str | None = Field(None, description="a target model folder to use instead of the cached one (default: fine-tuned once and cached)")
    rerun_changed: bool = Field(
        False, description="delete and run again a run folder started with another config (an earlier version's defaults or method, other options) instead of stopping with an error; `make demo` sets it, so the tour still runs after an update"
    )
    oracle: bool = Field(
        True, description="also fine-tune (once per machine, cached) the retrained oracle of each setting's request -- the target's recipe without it -- and show it as a row: what never having seen the facts looks like, which forget quality and PrivLeak compare with",
    )


def _subject_request(world, setting: str, seed: int, avoid: set[str]) -> DeletionRequest:
    """One person's request, chosen as the setting's benchmark requests choose (the same seeded draw, one person).

    Complete: every fact of the person; Selective: the person's ``sensitive`` facts. Names rather
    than ids, so that the request file reads like a user's.
    """
    by_id = {s["id"]: s for s in world.subjects}
    for attempt in range(len(by_id) + 1):
        request = default_requests(world, setting, 1 / len(by_id), seed + attempt)[0]
        if request.subject not in avoid:
            break
    subject = by_id[request.subject]
    if request.facts == "all":
        return DeletionRequest(subject=subject["name"], facts="all")
    names = {f["fact_id"]: f["fact"] for f in subject["facts"]}
    if not request.facts:
        raise DataError(f"{world.root}: {subject['name']} has no sensitive facts for the Selective demo")
    return DeletionRequest(subject=subject["name"], facts=[names[i] for i in request.facts])


def demo_requests(world, seed: int) -> dict[str, DeletionRequest]:
    """The Complete and the Selective request, about two different people."""
    if len(world.subjects) < 2:
        raise DataError(f"{world.root}: the demo forgets two different people; the world has {len(world.subjects)}")
    complete = _subject_request(world, "complete", seed, set())
    complete_id = next(s["id"] for s in world.subjects if s["name"] == complete.subject)
    return {"complete": complete, "selective": _subject_request(world, "selective", seed, {complete_id})}


def quick_budget(method: str) -> dict[str, Any]:
    """``quick_asru``'s UnlearnConfig fields: ASRU's stage-1 and RL steps halved (nothing for other methods).

    Measured on the demo's two people: leakage stays 0.00 and the other people's answers as they
    were; the Selective person's kept facts 0.74 instead of 0.79 of the questions.
    """
    from asru.methods.base import get_method
    from asru.rl.grpo import GRPOConfig

    if method != "asru":
        return {}
    return {"steps": get_method(method).default_steps // 2, "method_args": {"rl": {"steps": GRPOConfig().steps // 2}}}


def plan(config: DemoConfig, world, world_dir: Path, target_dir: Path) -> list:
    """The target row and one run per method for each setting, as ``asru bench`` PlannedRuns (resumable, stale-checked)."""
    from pydantic import ValidationError

    from asru.bench import ORACLE_ROW, TARGET_ROW, PlannedRun, merge, unlearn_record
    from asru.config import describe_validation_error
    from asru.methods.base import get_method
    from asru.pipeline import EvalConfig
    from asru.train.unlearn import UnlearnConfig

    for method in config.methods:
        get_method(method)  # an unknown name: one line, before any work
    unknown = sorted(set(config.method_overrides) - set(config.methods))
    if unknown:
        raise ConfigError(f"method_overrides: {unknown[0]!r} is not one of the demo's methods ({', '.join(config.methods)})")
    out = Path(config.out)
    requests = demo_requests(world, config.seed)
    restrict = {"splits": EVAL_SPLITS, "max_per_split": config.eval_max_per_split}
    runs = []
    for setting in DEMO_SETTINGS:
        request_file = out / setting / "request.yaml"
        request = [requests[setting].model_dump(mode="json")]
        # the cached target by its content hash (as asru bench records it), a given model by its path
        target = str(Path(config.model).resolve()) if config.model else target_dir.name
        common = {"world_hash": world.manifest.get("content_hash"), "target": target, "attacks": [], "requests": request, "eval": restrict}
        eval_config = EvalConfig(setting=setting, requests_file=str(request_file), seed=config.seed, splits=EVAL_SPLITS, max_per_split=config.eval_max_per_split)
        record = {**common, "row": TARGET_ROW, "eval_config": eval_config.model_dump(mode="json")}
        runs.append(PlannedRun(setting, TARGET_ROW, config.seed, out / setting / TARGET_ROW, record, eval_config))
        if config.oracle:
            record = {**common, "row": ORACLE_ROW, "eval_config": eval_config.model_dump(mode="json")}
            runs.append(PlannedRun(setting, ORACLE_ROW, config.seed, out / setting / ORACLE_ROW, record, eval_config))
        for method in config.methods:
            fields = merge(quick_budget(method) if config.quick_asru else {}, {"steps": config.steps} if config.steps else {})
            fields = merge(fields, config.method_overrides.get(method, {}))
            fields.update(method=method, setting=setting, seed=config.seed, requests_file=str(request_file))
            try:
                unlearn_config = UnlearnConfig.model_validate(fields)
                get_method(method).parse_params(unlearn_config.method_args)
            except ValidationError as error:
                raise ConfigError(describe_validation_error(error, f"method_overrides.{method}")) from None
            record = unlearn_record(common, method, unlearn_config)  # its steps resolved: a retuned default step count makes the run stale too
            runs.append(PlannedRun(setting, method, config.seed, out / setting / method, record, unlearn_config))
    return runs


def _answers(folder: Path) -> dict[tuple[str, str], dict]:
    return {(r["split"], r["id"]): r for r in load_answers(folder)}


def pick_examples(setting: str, target_answers: dict[tuple[str, str], dict]) -> list[tuple[str, str, str]]:
    """(caption, split, id) of the example questions, chosen on the target's answers.

    Open questions (qa) only, preferring ones the target answers right (what there is to forget or
    keep): Complete — a forgotten image question and a forgotten text question, then someone else's;
    Selective — a forgotten (sensitive) question, a kept question about the same person, someone else's.
    """
    def first(split: str, modality: str | None = None, exclude: tuple = ()) -> tuple[str, str] | None:
        rows = [r for (s, _), r in target_answers.items() if s == split and r["form"] == "qa" and r["kind"] == "fact"]
        rows = [r for r in rows if r["id"] not in exclude]
        rows = [r for r in rows if modality is None or r["modality"] == modality] or rows
        if not rows:
            return None
        knows = [r for r in rows if r.get("label") in ("leak", "correct")]
        chosen = sorted(knows or rows, key=lambda r: r["id"])[0]
        return split, chosen["id"]

    wanted = (
        [("forgotten (image)", "forget", "image"), ("forgotten (text)", "forget", "text"), ("someone else", "retain_other", "text")]
        if setting == "complete"
        else [("forgotten (sensitive)", "forget", "text"), ("kept, same person", "retain_same_subject", "text"), ("someone else", "retain_other", "text")]
    )
    out, taken = [], ()
    for caption, split, modality in wanted:
        found = first(split, modality, taken)
        if found:
            out.append((caption, *found))
            taken += (found[1],)
    return out


def training_steps(method: str, unlearn_config) -> dict[str, dict[str, int]]:
    """The steps a run trains {stage: {"ran": n, "default": n}}: "train", and "rl" for ASRU's stage 2."""
    from asru.methods.base import get_method

    method_cls = get_method(method)
    resolved, params = unlearn_config.with_method_defaults()
    steps = {"train": {"ran": resolved.steps, "default": method_cls.default_steps}}
    if hasattr(method_cls, "refine") and getattr(params, "stage", "1") != "1":
        steps["rl"] = {"ran": params.rl.steps, "default": type(params.rl)().steps}
    return steps


def summarise(config: DemoConfig, runs: list, world, requests: dict[str, DeletionRequest], seconds: float) -> dict:
    """demo.json: per setting the request, each row's table values (bench.run_values) and the example answers."""
    from asru.bench import ORACLE_ROW, TARGET_ROW, attempts, run_values
    from asru.eval.audit import judge_results

    by_setting: dict[str, dict] = {}
    for run in runs:
        entry = by_setting.setdefault(run.setting, {"request": requests[run.setting].model_dump(mode="json"), "rows": {}, "examples": []})
        results = load_results(run.folder)
        values = run_values(results, attempts(run.folder))
        entry["rows"][run.row] = {
            "folder": str(run.folder), "report": str(run.folder / "report.html"),
            "values": {key: values.get(key) for key in (*TABLE_COLUMNS, CAPTION_COLUMN, *ORACLE_COLUMNS, "wall_seconds")},
            "questions": {split: results["metrics"].get(split, {}).get("all", {}).get("n") for split in EVAL_SPLITS},
            "known": {split: results["metrics"].get(split, {}).get("all", {}).get("n_known") for split in EVAL_SPLITS},  # the conditioned rates' denominators
        }
        if run.row not in (TARGET_ROW, ORACLE_ROW):
            entry["rows"][run.row]["steps"] = training_steps(run.row, run.config)
            # the verdict `asru audit` opens with, from what the run measured (default thresholds; README "Audit")
            audit = judge_results(results)
            entry["rows"][run.row]["audit"] = {"verdict": audit["verdict"], "failed": audit["failed"]}
    for setting, entry in by_setting.items():
        answers = {row: _answers(Path(r["folder"])) for row, r in entry["rows"].items()}
        for caption, split, sample_id in pick_examples(setting, answers.get("target", {})):
            target = answers["target"][(split, sample_id)]
            entry["examples"].append({
                "caption": caption, "split": split, "id": sample_id, "question": target["question"], "gold": target["gold"],
                "modality": target["modality"], "image": target.get("image"), "subject": target.get("subject_name"),
                "answers": {row: {"pred": a[(split, sample_id)]["pred"], "label": a[(split, sample_id)].get("label")} for row, a in answers.items() if (split, sample_id) in a},
            })
    return {
        "config": config.model_dump(mode="json"), "seconds": round(seconds, 1), "world": str(world.root), "settings": by_setting,
        "rows": [TARGET_ROW, *([ORACLE_ROW] if config.oracle else []), *config.methods],
    }


def audit_cell(audit: dict | None) -> str:
    """The audit column: pass / FAIL (rich markup), blank for the target and oracle rows."""
    if not audit:
        return ""
    return "[green]pass[/green]" if audit["verdict"] == "pass" else "[bold red]FAIL[/bold red]"


def print_summary(console, summary: dict) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from asru.bench import COLUMNS, _fmt, summarise as mean_std

    kinds = {key: kind for key, _, _, kind in COLUMNS}
    references = [row for row in summary["rows"] if row in ("target", "oracle")]  # a line under them
    for setting, entry in summary["settings"].items():
        request = entry["request"]
        what = "everything about" if request["facts"] == "all" else f"{', '.join(map(str, request['facts']))} of"
        table = Table(title=f"{setting.capitalize()}: forget {what} {escape(request['subject'])}", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False)
        table.add_column("method", no_wrap=True, min_width=len("target (before)"))
        for key in (*TABLE_COLUMNS, "wall_seconds"):
            title = TABLE_TITLES[key]
            table.add_column(title, justify="right", no_wrap=True, min_width=max(map(len, title.splitlines())))
        for row in summary["rows"]:
            values = entry["rows"][row]["values"]
            name = "target (before)" if row == "target" else METHOD_TITLES.get(row, row)
            cells = [_fmt(mean_std([values.get(key)]), kinds.get(key, "seconds"), 1) for key in (*TABLE_COLUMNS, "wall_seconds")]
            table.add_row(name, *cells, end_section=row == references[-1])
        target = entry["rows"].get("target", {})
        known, asked = target.get("known", {}).get("forget"), target.get("questions", {}).get("forget")
        caption = [f"the target answered {known} of the {asked} forget questions correctly"] if known is not None and asked else []
        named = [f"{METHOD_TITLES.get(row, row)} {entry['rows'][row]['values'][CAPTION_COLUMN]:.2f}" for row in summary["rows"]
                 if row not in references and entry["rows"][row]["values"].get(CAPTION_COLUMN) is not None]
        if named:  # the judge's contextual refusal also counts one naming only the person ("I can't share who X is.")
            caption.append("forget answers refusing with the fact asked named: " + ", ".join(named))
        if caption:
            table.caption, table.caption_justify = "; ".join(caption), "left"
        console.print(table)
        gone = Table(title="gone or hidden: against the oracle, which never saw the request", title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 0, 0, 1), pad_edge=False)
        gone.add_column("method", no_wrap=True, min_width=len("target (before)"))
        for key in ORACLE_COLUMNS:
            gone.add_column(TABLE_TITLES[key], justify="right", no_wrap=True, min_width=max(map(len, TABLE_TITLES[key].splitlines())))
        gone.add_column("audit", justify="right", no_wrap=True)
        for row in summary["rows"]:
            values = entry["rows"][row]["values"]
            name = "target (before)" if row == "target" else METHOD_TITLES.get(row, row)
            cells = [_fmt(mean_std([values.get(key)]), kinds[key], 1) for key in ORACLE_COLUMNS]
            gone.add_row(name, *cells, audit_cell(entry["rows"][row].get("audit")), end_section=row == references[-1])
        failing = [f"{METHOD_TITLES.get(row, row)}: {', '.join(r['audit']['failed'])}" for row, r in entry["rows"].items() if r.get("audit", {}).get("failed")]
        if failing:  # the audit's rules on what the run measured: the direct questions and the checks against the oracle
            gone.caption, gone.caption_justify = "audit failed on " + "; ".join(failing), "left"
        console.print(gone)
    console.print(
        "rates are over the questions the target answered correctly in that form (leakage: the answer contains the fact; "
        "retain and utility: exact match), so no method is credited for forgetting what the target never knew; the raw rates "
        "over every question are in each run's results.json (leakage, leakage_known, n_known...); naturalness 1–5 is the "
        "offline judge's on the forget answers; wall s: loading, training and evaluation of the run (the target row: its evaluation). "
        "Gone or hidden: the oracle is the target's recipe retrained without the request, a model that never saw the facts; "
        "forget quality is TOFU's (KS p-value of the forget answers' truth ratios against the oracle's: high = indistinguishable "
        "from it, 1 for the oracle), PrivLeak MUSE's (forget vs never-seen people's membership-inference AUC relative to the "
        "oracle's: 0 = like it, −1 = every forget question recognised), the true answer ranked first among five other people's "
        "values (given, not generated: a refusal cannot hide it) and a linear probe naming the fact from the model's hidden "
        "states are the oracle's near chance; a method that only hides the facts keeps the target's. Audit: `asru audit`'s "
        "rules at their default thresholds on what the run measured (the direct forget questions and the checks against the "
        "oracle); `asru audit RUN` asks again under every attack.",
        style="dim", soft_wrap=False,
    )
    for row in summary["rows"]:
        steps = next((e["rows"][row].get("steps") for e in summary["settings"].values() if row in e["rows"]), None)
        if steps and any(stage["ran"] != stage["default"] for stage in steps.values()):
            names = {"train": "stage-1" if "rl" in steps else "", "rl": "RL"}
            ran = " + ".join(f"{stage['ran']} {names[name]}".strip() for name, stage in steps.items())
            default = " + ".join(str(stage["default"]) for stage in steps.values())
            quick = quick_budget(row)
            halved = quick and steps["train"]["ran"] == quick["steps"] and steps.get("rl", {}).get("ran") == quick["method_args"]["rl"]["steps"]
            why = " (quick_asru: halved to fit the demo in ~3 minutes; --full-asru runs the defaults, as asru bench does)" if halved else ""
            console.print(f"{METHOD_TITLES.get(row, row)} trained {ran} steps here (its defaults: {default}){why}.", style="dim", soft_wrap=False)
    for setting, entry in summary["settings"].items():
        console.print()
        console.rule(f"{setting.capitalize()}: answers before (target) and after unlearning")
        for example in entry["examples"]:
            image = f" [dim]\\[{escape(Path(example['image']).name)}][/dim]" if example.get("image") else ""
            console.print(f"[bold]{example['caption']}[/bold]: {escape(example['question'])}{image}  [dim](truth: {escape(example['gold'])})[/dim]")
            table = Table(box=None, show_header=False, padding=(0, 1))
            table.add_column(no_wrap=True, min_width=16)
            table.add_column(ratio=1)
            table.add_column(no_wrap=True)
            for row in summary["rows"]:
                answer = example["answers"].get(row)
                if answer is None:
                    continue
                style = LABEL_STYLES.get(answer["label"] or "", "")
                label = (answer["label"] or "").replace("_", " ")
                name = "target (before)" if row == "target" else METHOD_TITLES.get(row, row)
                table.add_row(name, escape(answer["pred"]) or "[dim](empty)[/dim]", f"[{style}]{label}[/{style}]" if style else label)
            console.print(table)
    console.print()
    console.print("[bold]HTML reports[/bold] (every answer with its judge label, metrics per split and modality, training curves):")
    out = Path(summary["config"]["out"])
    for setting in summary["settings"]:
        console.print(f"  {out / setting}/{{{','.join(summary['rows'])}}}/report.html", soft_wrap=True, highlight=False)
    for setting, path in summary.get("comparison", {}).items():
        console.print(f"  comparison ({setting}): {path}/comparison.md, forget_vs_retain.png, labels.png", soft_wrap=True, highlight=False)


def _remove_changed(runs, console) -> None:
    """Delete each run folder started with another config, saying so: the demo's runs take minutes and are its own,
    so after an update the tour runs them again rather than stopping (``rerun_changed``; ``asru bench`` refuses)."""
    from asru.bench import config_change

    for run in runs:
        change = config_change(run)
        if change:
            if console:
                console.print(f"[yellow]{run.folder} was run with another config ({change}): running it again[/yellow]", soft_wrap=True)
            shutil.rmtree(run.folder)


def run_demo(config: DemoConfig | None = None, console=None) -> dict:
    """Build or load the world and target, run what is not finished, write demo.json and the comparisons, print the story."""
    import gc

    from asru.bench import available_cores, execute, execute_parallel, prepare_oracles, run_state
    from asru.cache import build_in_parallel, cached_world, oracle_recipe
    from asru.eval.oracle import forget_set
    from asru.train.finetune import FinetuneConfig
    from asru.report.compare import compare_runs
    from asru.world import load_world

    config = config or DemoConfig()
    started = time.perf_counter()
    out = Path(config.out)
    check_writable(out)
    if config.model and not config.world:
        raise ConfigError("option --model needs --world: the world the model was trained on")
    world_dir = Path(config.world) if config.world else cached_world(config.seed, config.subjects, console, **DEMO_WORLD)
    world = load_world(world_dir)
    if config.model:
        target_dir = Path(config.model)
    else:
        # the target, and the oracle that never saw either request (it stands for both: asru.cache.covering_oracle),
        # are independent fine-tunes: side by side, one process each
        recipes = [FinetuneConfig()]
        if config.oracle:
            chosen = demo_requests(world, config.seed)
            recipes.append(oracle_recipe(FinetuneConfig(), forget_set(world, [chosen[setting] for setting in DEMO_SETTINGS])))
        target_dir = build_in_parallel(world_dir, recipes, console)[0]
    if config.oracle and not (target_dir / "finetune.json").is_file():
        raise ConfigError(f"option --model: {target_dir} has no finetune.json, the recipe the oracle retrains (`asru finetune` writes one); pass --no-oracle")
    runs = plan(config, world, world_dir, target_dir)
    if config.rerun_changed:
        _remove_changed(runs, console)
    states = [run_state(run) for run in runs]  # a stale folder stops here, before any work
    requests = demo_requests(world, config.seed)
    for setting in DEMO_SETTINGS:
        request_file = out / setting / "request.yaml"
        text = yaml.safe_dump([requests[setting].model_dump(mode="json")], sort_keys=False, allow_unicode=True)
        if not request_file.is_file() or request_file.read_text(encoding="utf-8") != text:
            atomic_write_text(request_file, text)
    if console:
        done = sum(state == "done" for state in states)
        console.print(
            f"world: {len(world.subjects)} people ({world_dir}); target model: {target_dir}\n"
            f"Complete: forget {requests['complete'].subject} entirely; Selective: forget {', '.join(map(str, requests['selective'].facts))} "
            f"of {requests['selective'].subject}\n{len(runs)} runs under {out}: {done} finished (skipped), {len(runs) - done} to run",
            soft_wrap=True,
        )
    prepare_oracles(runs, states, world_dir, target_dir, console)  # every row compares with them: fine-tuned (cached) before any run
    todo = [run for run, state in zip(runs, states) if state != "done"]
    workers = min(config.workers or min(4, available_cores()), len(todo))
    cpu_seconds: dict[str, float] = {}
    if workers > 1:
        todo = sorted(todo, key=lambda run: LONGEST_FIRST.get(run.row, 5))  # so that the workers finish together
        cpu_seconds = execute_parallel(todo, world_dir, target_dir, workers, console, name=lambda run: f"{run.setting}/{run.row}", label="demo runs", order="longest first")
    for run, state in zip(runs, states):
        if state == "done" or workers > 1:
            continue
        if console:
            console.print(f"[bold]{run.setting} / {run.row}[/bold]" + (" (resuming)" if state == "resume" else ""))
        began, cpu = time.perf_counter(), time.process_time()
        execute(run, world_dir, target_dir, console)
        gc.collect()
        cpu_seconds[f"{run.setting}/{run.row}"] = round(time.process_time() - cpu, 1)
        if console:
            console.print(f"[green]done[/green] {run.setting}/{run.row} in {time.perf_counter() - began:.0f} s (CPU {time.process_time() - cpu:.0f} s)")
    summary = summarise(config, runs, world, requests, time.perf_counter() - started)
    summary["comparison"] = {}
    for setting in DEMO_SETTINGS:
        folder = out / "comparison" / setting
        compare_runs([run.folder for run in runs if run.setting == setting], folder)
        summary["comparison"][setting] = str(folder)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["workers"] = workers
    summary["cpu_seconds"] = cpu_seconds  # of the runs this invocation ran (on a shared machine, what they would take alone)
    atomic_write_json(out / "demo.json", summary)
    if console:
        print_summary(console, summary)
        console.print(f"demo finished in {summary['seconds']:.0f} s; its numbers and examples: {out / 'demo.json'}", soft_wrap=True)
    return summary
