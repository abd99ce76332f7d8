"""The ``asru`` command line: one command per step, YAML configs, one-line errors (exit 2)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from typer.core import TyperCommand

from asru.errors import AsruError, ConfigError, Interrupted, raise_interrupted

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Controllable machine unlearning for multimodal LLMs.")
world_app = typer.Typer(no_args_is_help=True, help="The embedded synthetic public-figures world.")
app.add_typer(world_app, name="world")

console = Console()
err_console = Console(stderr=True)
_state = {"debug": False}

ConfigOption = typer.Option(None, "--config", help="YAML file with config fields; options given here override it.")
JudgeOption = typer.Option(
    None, "--judge", help="Who labels the answers: rules (default, offline) | openai:URL[,model=NAME][,timeout=S][,retries=N][,workers=N], any OpenAI-compatible chat server (vLLM, llama.cpp). \\[config: judge]"
)
LmmsEvalOption = typer.Option(
    None, "--lmms-eval", help="Comma-separated lmms-eval tasks (e.g. mme,mmmu_val) run on the model after our evaluation, scores into results.json; needs lmms-eval installed. \\[config: lmms_eval.tasks]"
)
OracleOption = typer.Option(
    None, "--oracle", help="The retrained oracle the gone-or-hidden measures compare with: auto (default: the cached one of the target and this forget set, once `asru oracle` built it), none, or a model folder. \\[config: oracle]"
)
ReportToOption = typer.Option(
    None, "--report-to", help="Experiment tracker for the training curves: none (default) | tensorboard (under OUT/trackers) | trackio | wandb. \\[config: report_to]"
)


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    _state["debug"] = debug
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one rich bar per long step, not a tqdm bar per file load


@world_app.command("build")
def world_build(
    out: Path = typer.Option(..., "--out", help="Folder to write the world into."),
    seed: Optional[int] = typer.Option(None, help="Random seed (same seed, same bytes). \\[config: seed]"),
    subjects: Optional[int] = typer.Option(None, help="Number of public figures. \\[config: subjects]"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Generate the world: people, portraits, facts, questions, refusal-trained questions."""
    from asru.config import build_config
    from asru.world import WorldConfig, build_world

    world_config = build_config(WorldConfig, config, {"seed": seed, "subjects": subjects})
    manifest = build_world(world_config, out)
    console.print(f"[green]world written to {out}[/green] (hash {manifest['content_hash'][:12]})")
    for key, value in manifest["counts"].items():
        console.print(f"  {key}: {value}")


@app.command()
def finetune(
    world: Path = typer.Option(..., "--world", help="World folder (from `asru world build`)."),
    out: Path = typer.Option(..., "--out", help="Folder for the target model."),
    epochs: Optional[int] = typer.Option(None, help="\\[config: epochs]"),
    batch_size: Optional[int] = typer.Option(None, help="\\[config: batch_size]"),
    learning_rate: Optional[float] = typer.Option(None, help="\\[config: learning_rate]"),
    seed: Optional[int] = typer.Option(None, help="\\[config: seed]"),
    report_to: Optional[str] = ReportToOption,
    config: Optional[Path] = ConfigOption,
) -> None:
    """Fine-tune a tiny VLM on the world (the target model; Qwen3-VL, or the config's model.architecture: llava, idefics3); resumes from its checkpoint."""
    from asru.config import build_config
    from asru.eval.target import print_accuracy_table, target_accuracy
    from asru.models import load_vlm
    from asru.train.finetune import FinetuneConfig
    from asru.train.finetune import finetune as run_finetune
    from asru.world import load_world

    recipe = build_config(
        FinetuneConfig, config, {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed, "report_to": report_to}
    )
    summary = run_finetune(world, out, recipe, console=console)
    console.print(f"trained {summary['steps']} steps in {summary['train_seconds']:.0f} s")
    model, processor = load_vlm(out)
    print_accuracy_table(console, target_accuracy(model, processor, load_world(world)), title=f"target model {out}")


class _UnlearnCommand(TyperCommand):
    """``asru unlearn``: its --help ends with every registered method (imported only when help is shown)."""

    def format_help(self, ctx, formatter) -> None:
        from rich.markup import escape

        from asru.methods.base import method_summaries

        summaries = method_summaries()
        width = max(map(len, summaries))
        lines = [f"  {name:<{width}}  {escape(summary)}" for name, summary in summaries.items()]
        self.epilog = "Methods (--method NAME; --method NAME --help-method lists its parameters):\n" + "\n".join(lines)
        super().format_help(ctx, formatter)


def _show_method_help(name: Optional[str]) -> None:
    """Print one method's parameters (default, source) or, without a name, every method; then exit 0."""
    from rich.markup import escape

    from asru.methods.base import DEFAULT_SOURCES, get_method, method_summaries

    if name is None:
        summaries = method_summaries()
        width = max(map(len, summaries))
        for method, summary in summaries.items():
            console.print(f"{method:<{width}}  {escape(summary)}", soft_wrap=True, highlight=False)
        console.print("asru unlearn --method NAME --help-method: its parameters", highlight=False)
        raise typer.Exit(0)
    method_cls = get_method(name)
    rows = method_cls.parameter_rows()
    console.print(f"{name}: {escape(method_cls.summary())}", soft_wrap=True, highlight=False)
    name_width = max(len(row["name"]) for row in rows)
    source_width = max(map(len, DEFAULT_SOURCES))
    for row in rows:
        note = f"; {row['description']}" if row["description"] else ""
        line = f"  {row['name']:<{name_width}}  {row['source']:<{source_width}}  {row['default']!r}  ({row['type']}{note})"
        console.print(escape(line), soft_wrap=True, highlight=False)
    example = next((row for row in rows if row["name"] not in ("learning_rate", "steps") and "." not in row["name"] and row["default"] is not None), None)
    if example:
        import yaml

        shown = yaml.safe_dump({"method_args": {example["name"]: example["default"]}}, default_flow_style=None).strip()
        also = "; learning_rate and steps also with --learning-rate, --steps" if method_cls.trains else ""
        console.print(f"Set them in --config: {escape(shown)}{also}.", soft_wrap=True, highlight=False)
    console.print("Sources: " + "; ".join(f"{source}: {meaning}" for source, meaning in DEFAULT_SOURCES.items()) + ".", soft_wrap=True, highlight=False)
    raise typer.Exit(0)


def _method_callback(ctx: typer.Context, value: Optional[str]) -> Optional[str]:
    # eager, like --help-method, so that the two meet in either order before the required options are checked
    if ctx.meta.get("help_method"):
        _show_method_help(value)
    return value


def _help_method_callback(ctx: typer.Context, value: bool) -> bool:
    if value:
        if ctx.params.get("method") is not None:  # --method came first
            _show_method_help(ctx.params["method"])
        ctx.meta["help_method"] = True  # --method (or its absence) is processed next
    return value


@app.command(cls=_UnlearnCommand)
def unlearn(
    model: Path = typer.Option(..., "--model", help="Model folder (e.g. the target model)."),
    world: Path = typer.Option(..., "--world", help="World / dataset folder."),
    out: Path = typer.Option(..., "--out", help="Run folder (config, model, results, report)."),
    method: Optional[str] = typer.Option(None, help="Unlearning method (listed below). \\[config: method]", is_eager=True, callback=_method_callback),
    help_method: bool = typer.Option(False, "--help-method", help="Show the --method's parameters, defaults and where each default comes from, and exit.", is_eager=True, callback=_help_method_callback),
    setting: Optional[str] = typer.Option(None, help="complete | selective | personalized. \\[config: setting]"),
    forget_ratio: Optional[float] = typer.Option(None, help="\\[config: forget_ratio]"),
    requests: Optional[Path] = typer.Option(
        None, "--requests", "--request",
        help="Deletion requests YAML/JSON. From a --model an earlier `asru unlearn` saved (RUN/model), applied after the requests it records (unlearning.json) and evaluated with them. \\[config: requests_file]",
    ),
    steps: Optional[int] = typer.Option(None, help="\\[config: steps]"),
    learning_rate: Optional[float] = typer.Option(None, help="\\[config: learning_rate]"),
    lora_r: Optional[int] = typer.Option(None, help="LoRA rank, 0 = full fine-tuning. \\[config: lora_r]"),
    bao: Optional[bool] = typer.Option(None, "--bao/--no-bao", help="Add the BAO boundary hinge. \\[config: bao]"),
    seed: Optional[int] = typer.Option(None, help="\\[config: seed]"),
    attacks: str = typer.Option("", help="Comma-separated attacks to evaluate after training, or 'all'."),
    judge: Optional[str] = JudgeOption,
    lmms_eval: Optional[str] = LmmsEvalOption,
    report_to: Optional[str] = ReportToOption,
    config: Optional[Path] = ConfigOption,
) -> None:
    """Unlearn with one method, save the model, evaluate, write the run folder. Resumes if interrupted."""
    from asru.config import build_config
    from asru.pipeline import unlearn as run_unlearn
    from asru.train.unlearn import UnlearnConfig

    run_config = build_config(
        UnlearnConfig,
        config,
        {
            "method": method, "setting": setting, "forget_ratio": forget_ratio, "requests_file": str(requests) if requests else None,
            "steps": steps, "learning_rate": learning_rate, "lora_r": lora_r, "bao": bao, "seed": seed, "report_to": report_to, "judge": judge,
        },
    )
    run_config = _with_lmms_eval_tasks(run_config, lmms_eval)
    results = run_unlearn(model, world, out, run_config, attacks=_attack_list(attacks), console=console)
    if results:  # empty on the non-main processes of `accelerate launch`
        _print_headline(results, out)


@app.command("eval")
def eval_command(
    model: Path = typer.Argument(..., help="Model folder."),
    world: Path = typer.Option(..., "--world", help="World / dataset folder."),
    out: Path = typer.Option(..., "--out", help="Run folder for results and report."),
    setting: Optional[str] = typer.Option(None, help="\\[config: setting]"),
    forget_ratio: Optional[float] = typer.Option(None, help="\\[config: forget_ratio]"),
    requests: Optional[Path] = typer.Option(None, "--requests", help="\\[config: requests_file]"),
    attacks: str = typer.Option("", help="Comma-separated attacks, or 'all'. \\[config: attacks]"),
    seed: Optional[int] = typer.Option(None, help="\\[config: seed]"),
    reference_model: Optional[Path] = typer.Option(None, "--reference-model", help="Original model that scores answer perplexity for the judge. \\[config: reference_model]"),
    oracle: Optional[str] = OracleOption,
    judge: Optional[str] = JudgeOption,
    lmms_eval: Optional[str] = LmmsEvalOption,
    config: Optional[Path] = ConfigOption,
) -> None:
    """Evaluate a model on a setting (and attacks); write results.json, report.md/html, plots."""
    from asru.config import build_config
    from asru.pipeline import EvalConfig, evaluate_model

    eval_config = build_config(
        EvalConfig,
        config,
        {"setting": setting, "forget_ratio": forget_ratio, "requests_file": str(requests) if requests else None, "attacks": _attack_list(attacks) or None, "seed": seed,
         "reference_model": str(reference_model) if reference_model else None, "judge": judge, "oracle": oracle},
    )
    eval_config = _with_lmms_eval_tasks(eval_config, lmms_eval)
    results = evaluate_model(model, world, out, eval_config, console)
    _print_headline(results, out)


@app.command()
def oracle(
    model: Path = typer.Option(..., "--model", help="The target model folder (its finetune.json records the recipe the oracle retrains)."),
    world: Path = typer.Option(..., "--world", help="The world the target was fine-tuned on."),
    setting: Optional[str] = typer.Option(None, help="complete | selective | personalized: whose facts the oracle never sees. \\[config: setting]"),
    forget_ratio: Optional[float] = typer.Option(None, help="\\[config: forget_ratio]"),
    requests: Optional[Path] = typer.Option(None, "--requests", help="Deletion requests YAML/JSON instead of the setting's default ones. \\[config: requests_file]"),
    seed: Optional[int] = typer.Option(None, help="Picks the setting's forget set, as for asru unlearn. \\[config: seed]"),
    out: Optional[Path] = typer.Option(None, "--out", help="Also evaluate the oracle into this run folder (method 'oracle', as asru bench's oracle row)."),
    attacks: str = typer.Option("", help="With --out: comma-separated attacks, or 'all'. \\[config: attacks]"),
    config: Optional[Path] = ConfigOption,
) -> None:
    """The retrained oracle: the target's recipe fine-tuned without the forget set (once per machine, cached like the target).

    What a model that never saw the forgotten facts does: the reference of forget quality, PrivLeak,
    answer ranking and the linear probes (asru eval / unlearn / audit find it by themselves)."""
    from asru.config import build_config
    from asru.pipeline import EvalConfig
    from asru.pipeline import oracle as build

    eval_config = build_config(
        EvalConfig,
        config,
        {"setting": setting, "forget_ratio": forget_ratio, "requests_file": str(requests) if requests else None, "seed": seed, "attacks": _attack_list(attacks) or None},
    )
    found = build(model, world, eval_config, out=out, console=console)
    facts = sum(len(ids) for ids in found["excluded"].values())
    console.print(
        f"[green]oracle[/green]: {found['model']} (the recipe of {model} without {facts} facts of {len(found['excluded'])} "
        f"{'person' if len(found['excluded']) == 1 else 'people'}; fine-tuned in {found['finetune'].get('train_seconds', 0):.0f} s, once per machine)",
        soft_wrap=True,
    )
    if found["results"]:
        _print_headline(found["results"], out)


@app.command()
def report(
    runs: list[Path] = typer.Argument(..., help="Run folders to compare."),
    out: Path = typer.Option(Path("comparison"), "--out", help="Folder for the comparison table and plots."),
) -> None:
    """Merge several run folders into one comparison table (Markdown + JSON) and plots."""
    from asru.report.compare import compare_runs

    table = compare_runs(runs, out)
    console.print(table)
    console.print(f"[green]comparison written to {out}[/green]")


@app.command()
def rejudge(
    runs: list[Path] = typer.Argument(..., help="Run folders, or folders to search for runs (a benchmark's runs/)."),
    world: Optional[Path] = typer.Option(None, "--world", help="The runs' world, if it has moved since (default: the path each results.json records)."),
    force: bool = typer.Option(False, "--force", help="Judge again runs already judged by today's rules too."),
) -> None:
    """Judge finished runs again from their stored answers with today's offline judge rules (no model needed).

    Runs judged by older rules get new labels, naturalness and judge summaries (results.json, answers.jsonl,
    the labels plot, the report); the rates, the oracle measures and an audit are kept. `asru bench` does this
    itself before its tables."""
    from asru.eval.judge import RULES_VERSION
    from asru.eval.rejudge import rejudge_runs, run_folders

    folders = run_folders(runs)
    if not folders:
        raise ConfigError(f"no finished run (results.json and answers.jsonl) at or under {', '.join(map(str, runs))}")
    done = rejudge_runs(folders, console, world, force)
    console.print(f"re-judged {len(done)} of {len(folders)} runs with judge rules {RULES_VERSION}; the others were judged by them already", soft_wrap=True)


@app.command()
def audit(
    run: Path = typer.Argument(..., help="A finished run folder (from `asru unlearn` or `asru eval`), or a model folder `asru unlearn` saved (RUN/model: audited against the requests its unlearning.json records)."),
    max_leakage: Optional[float] = typer.Option(None, "--max-leakage", help="Leakage allowed under every check (default 0.05). \\[config: max_leakage]"),
    threshold: list[str] = typer.Option([], "--threshold", help="Per-check limit CHECK=VALUE, e.g. relearn=0.2 (repeatable). \\[config: thresholds]"),
    world: Optional[Path] = typer.Option(None, "--world", help="The run's world, if it has moved since (default: the path in results.json, or in a model folder's unlearning.json)."),
    model: Optional[Path] = typer.Option(None, "--model", help="The model to audit instead of the run's (for steering runs: the original model)."),
    min_forget_quality: Optional[float] = typer.Option(None, "--min-forget-quality", help="Forget quality (TOFU: KS p-value of the truth ratios against the oracle's) at least this (default 0.05). \\[config: min_forget_quality]"),
    max_privleak: Optional[float] = typer.Option(None, "--max-privleak", help="|PrivLeak| (MUSE, Min-K%, a fraction: 0 = like the oracle) at most this (default 0.5). \\[config: max_privleak]"),
    max_rank_gap: Optional[float] = typer.Option(None, "--max-rank-gap", help="Share of forget items whose true answer ranks first among wrong ones: at most this much above the oracle's (default 0.2). \\[config: max_rank_gap]"),
    max_probe_gap: Optional[float] = typer.Option(None, "--max-probe-gap", help="Linear-probe recovery of the forget facts from hidden states: at most this much above the oracle's at every layer (default 0.2). \\[config: max_probe_gap]"),
    oracle: Optional[str] = OracleOption,
    require_oracle: Optional[bool] = typer.Option(None, "--require-oracle/--no-require-oracle", help="Fail when no oracle is available (default: its checks say 'no oracle'). \\[config: require_oracle]"),
    relearn_vs_oracle: Optional[bool] = typer.Option(
        None, "--relearn-vs-oracle/--relearn-absolute",
        help="With an oracle, the relearning check allows its threshold above the oracle's own leakage after the same relearning (default), or the threshold alone. \\[config: relearn_vs_oracle]",
    ),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Does the forgetting hold? Every attack, relearning and (steering runs) hooks removed, against thresholds, per request of a chain;
    and is the knowledge gone rather than hidden: forget quality, PrivLeak, answer ranking and linear probes against the retrained oracle. Exit 1 on fail."""
    from rich.table import Table

    from asru.config import build_config
    from asru.eval.audit import AuditConfig, audit_path, parse_thresholds

    audit_config = build_config(
        AuditConfig, config,
        {
            "max_leakage": max_leakage, "min_forget_quality": min_forget_quality, "max_privleak": max_privleak, "max_rank_gap": max_rank_gap,
            "max_probe_gap": max_probe_gap, "oracle": oracle, "require_oracle": require_oracle, "relearn_vs_oracle": relearn_vs_oracle,
        },
    )
    if threshold:  # --threshold entries on top of the file's thresholds, validated the same way
        merged = {**audit_config.thresholds, **parse_thresholds(threshold)}
        audit_config = build_config(AuditConfig, None, {**audit_config.model_dump(), "thresholds": merged})
    result = audit_path(run, audit_config, world_dir=world, model_path=model, console=console)
    verdict = "[green]PASS[/green]" if result["verdict"] == "pass" else "[red]FAIL[/red]"
    table = Table(title=f"audit of {run}: {verdict}")
    for column in ("check", "leakage (known)", "n known", "leakage (all)", "n", "threshold", "verdict"):
        table.add_column(column, justify="left" if column in ("check", "verdict") else "right")
    fmt = lambda value: "–" if value is None else f"{value:.3f}"  # noqa: E731
    for name, check in result["checks"].items():
        table.add_row(
            name, fmt(check.get("leakage_known")), str(check.get("n_known") or 0), fmt(check["leakage"]), str(check["n"]),
            f"{check['threshold']:.3f}" + (f" (oracle {check['oracle_leakage']:.3f} +)" if check.get("oracle_leakage") is not None else ""),
            ("[green]pass[/green]" if check["passed"] else "[red]FAIL[/red]") + (" (on all)" if check.get("judged_on") == "all" else ""),
        )
    for name in result["skipped"]:
        table.add_row(name, "–", "0", "–", "0", "–", "skipped")
    console.print(table)
    _print_oracle_checks(result)
    if result.get("requests"):
        per_request = Table(title="each request of the chain on its own")
        for column in ("request", "worst leakage", "verdict", "failed checks"):
            per_request.add_column(column, justify="right" if column == "worst leakage" else "left")
        for request_id, verdict in result["requests"].items():
            worst = max((c.get("judged_leakage", c["leakage"]) for c in verdict["checks"].values() if c.get("judged_leakage", c["leakage"]) is not None), default=None)
            passed = "[green]pass[/green]" if verdict["verdict"] == "pass" else "[red]FAIL[/red]"
            per_request.add_row(request_id, "–" if worst is None else f"{worst:.3f}", passed, ", ".join(verdict["failed"]) or "–")
        console.print(per_request)
    if (run / "results.json").is_file():
        console.print(f"audit written to {run / 'audit.json'} and added to {run / 'report.html'}" + (" and the model card" if (run / "model" / "unlearning.json").is_file() and model is None else ""), soft_wrap=True)
    else:
        console.print(f"audit written into {run / 'unlearning.json'} and the model card {run / 'README.md'}", soft_wrap=True)
    if result["verdict"] != "pass":
        raise typer.Exit(1)


def _print_oracle_checks(result: dict) -> None:
    """The audit's checks against the retrained oracle, or the line saying there was none."""
    from rich.markup import escape
    from rich.table import Table

    from asru.report.writer import format_value

    oracle = result.get("oracle") or {}
    if not oracle.get("model"):
        failed = "oracle" in result["failed"]
        console.print(f"[{'red' if failed else 'yellow'}]no oracle[/]: {escape(str(oracle.get('reason')))}" + (" (--require-oracle: FAIL)" if failed else "; forget quality, PrivLeak, answer ranking and probe checks not judged"), soft_wrap=True)
        return
    table = Table(title=f"against the retrained oracle {escape(oracle['model'])}")
    for column in ("check", "value", "oracle", "gap", "threshold", "verdict"):  # each check's rule: audit.json, the report, --help
        table.add_column(column, justify="left" if column in ("check", "verdict") else "right", no_wrap=column == "check")
    for name, check in result["oracle_checks"].items():
        verdict = "no value" if check["passed"] is None else ("[green]pass[/green]" if check["passed"] else "[red]FAIL[/red]")
        table.add_row(name, *(format_value(check.get(key)) for key in ("value", "oracle", "gap", "threshold")), verdict)
    console.print(table)
    for name, check in result["oracle_checks"].items():
        if check.get("reading"):
            console.print(f"[red]{name}[/red]: {escape(check['reading'])}", soft_wrap=True)


def _with_lmms_eval_tasks(config, tasks: Optional[str]):
    """``config`` with --lmms-eval's tasks in its ``lmms_eval`` section (the file's other lmms_eval fields kept), validated."""
    if tasks is None:
        return config
    from asru.config import build_config

    section = {**config.lmms_eval.model_dump(), "tasks": _attack_list(tasks)}
    return build_config(type(config), None, {**config.model_dump(), "lmms_eval": section})


def _attack_list(text: str) -> list[str]:
    return [a.strip() for a in text.split(",") if a.strip()]


def _print_headline(results: dict, out: Path) -> None:
    from rich.table import Table

    from asru.report.writer import format_value, headline

    table = Table(title=f"{results['method']} on {results['setting']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in headline(results).items():
        table.add_row(key, format_value(float(value) if isinstance(value, int) else value))
    console.print(table)
    console.print(f"report: {out / 'report.html'}")


@app.command()
def sweep(
    model: Path = typer.Option(..., "--model", help="Model folder."),
    world: Path = typer.Option(..., "--world", help="World / dataset folder."),
    out: Path = typer.Option(Path("sweep.json"), "--out", help="JSON file for the per-layer results."),
    setting: str = typer.Option("complete", help="Setting whose forget split is used."),
    forget_ratio: float = typer.Option(0.1, help="Fraction of people forgotten."),
    alpha: float = typer.Option(1.0, help="Steering strength used for the flip rate."),
) -> None:
    """Layer sweep of the knowledge-absence direction: separation and refusal flips per layer."""
    from rich.table import Table

    from asru.eval.settings import make_splits
    from asru.io import atomic_write_json
    from asru.models import load_vlm
    from asru.steering.sweep import layer_sweep
    from asru.world import load_world

    loaded = load_world(world)
    vlm, processor = load_vlm(model)
    result = layer_sweep(vlm, processor, loaded, make_splits(loaded, setting, forget_ratio), alpha=alpha)
    atomic_write_json(out, result)
    table = Table(title=f"knowledge-absence direction per layer (alpha {alpha})")
    for column in ("layer", "separation (AUC)", "refusal flips", "|v|"):
        table.add_column(column, justify="right")
    for row in result["layers"]:
        mark = " *" if row["layer"] == result["best_layer"] else ""
        table.add_row(f"{row['layer']}{mark}", f"{row['separation']:.3f}", f"{row['flip_rate']:.1%}", f"{row['direction_norm']:.2f}")
    console.print(table)
    console.print(f"default layer: {result['best_layer']} (written to {out})")


@app.command()
def demo(
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the runs, the comparison and demo.json (default runs/demo). \\[config: out]"),
    subjects: Optional[int] = typer.Option(None, help="People in the embedded world (default 8; asru bench: 40). \\[config: subjects]"),
    seed: Optional[int] = typer.Option(None, help="World seed; also picks who is forgotten and seeds training (default 0). \\[config: seed]"),
    methods: Optional[str] = typer.Option(None, help="Comma-separated methods (default asru,grad_diff,npo). \\[config: methods]"),
    steps: Optional[int] = typer.Option(None, help="Trainer steps of every method (default: each method's own). \\[config: steps]"),
    eval_max_per_split: Optional[int] = typer.Option(None, "--eval-max-per-split", help="Questions asked per split at most, a seeded subset (default 200). \\[config: eval_max_per_split]"),
    workers: Optional[int] = typer.Option(None, help="Runs at a time, each in its own process (default: min(4, CPU cores); 1: one after another). \\[config: workers]"),
    quick_asru: Optional[bool] = typer.Option(None, "--quick-asru/--full-asru", help="ASRU at half its default steps (default, ~3-minute demo) or at its full defaults, as asru bench runs it. \\[config: quick_asru]"),
    world: Optional[Path] = typer.Option(None, "--world", help="Use this world folder instead of the embedded one. \\[config: world]"),
    model: Optional[Path] = typer.Option(None, "--model", help="Use this target model (trained on --world) instead of the cached one. \\[config: model]"),
    oracle: Optional[bool] = typer.Option(None, "--oracle/--no-oracle", help="Also fine-tune (once, cached) the retrained oracle of each request and show it as a row (default on). \\[config: oracle]"),
    rerun_changed: Optional[bool] = typer.Option(
        None, "--rerun-changed/--keep-changed",
        help="Delete and run again a run folder started with another config (an earlier version's defaults, other options) instead of stopping (default: stop; make demo sets it). \\[config: rerun_changed]",
    ),
    config: Optional[Path] = ConfigOption,
) -> None:
    """The tour: world and target model (cached), forget a person and another's sensitive facts with ASRU, GradDiff, NPO; compare."""
    from asru.config import build_config
    from asru.demo import DemoConfig, run_demo

    demo_config = build_config(
        DemoConfig,
        config,
        {
            "out": str(out) if out else None, "subjects": subjects, "seed": seed, "steps": steps, "eval_max_per_split": eval_max_per_split, "workers": workers, "quick_asru": quick_asru,
            "methods": [m.strip() for m in methods.split(",") if m.strip()] if methods is not None else None,
            "world": str(world) if world else None, "model": str(model) if model else None, "oracle": oracle, "rerun_changed": rerun_changed,
        },
    )
    run_demo(demo_config, console)


@app.command()
def bench(
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for tradeoff.json/.md, plots and runs/ (default benchmarks/results; benchmarks/results/quick with --quick). \\[config: out]"),
    methods_file: Optional[Path] = typer.Option(None, "--methods-file", help="YAML list of methods and their overrides (default configs/bench/methods.yaml). \\[config: methods_file]"),
    methods: Optional[str] = typer.Option(None, help="Comma-separated entries of the methods file to run (default all; '' only the target and oracle rows, which no tuning changes). \\[config: methods]"),
    settings: Optional[str] = typer.Option(None, help="Comma-separated settings (default complete,selective,personalized). \\[config: settings]"),
    seeds: Optional[str] = typer.Option(None, help="Comma-separated test seeds the tables report (default 0,1,2,3,4; 0 with --quick); never a validation seed. \\[config: seeds]"),
    tune: Optional[bool] = typer.Option(
        None, "--tune/--no-tune",
        help="Instead of the tables: run every method's grid (the methods file's 'grid:') on the validation seeds and write the rule's choice per method and setting to the tuned file (OUT/validation.json/.md with every point). \\[config: tune]",
    ),
    validation_seeds: Optional[str] = typer.Option(None, help="Comma-separated seeds hyper-parameters are chosen on (default 100). \\[config: validation_seeds]"),
    tuned_file: Optional[Path] = typer.Option(None, "--tuned-file", help="The tuned.yaml --tune writes and the tables apply (default configs/bench/tuned.yaml; OUT/tuned.yaml with --quick). \\[config: tuned_file]"),
    use_tuned: Optional[bool] = typer.Option(None, "--tuned/--no-tuned", help="Apply the tuned file's choices, where it exists (default on). \\[config: use_tuned]"),
    tune_this_build: Optional[bool] = typer.Option(
        None, "--tune-this-build/--tune-any-build",
        help="--tune runs every grid on this machine's build of the target, the one the tables use (default); --tune-any-build keeps a grid wholly recorded on one other build. \\[config: tune_this_build]",
    ),
    subjects: Optional[int] = typer.Option(None, help="People in the embedded world (default 40; 8 with --quick). \\[config: subjects]"),
    forget_ratio: Optional[float] = typer.Option(None, help="Fraction of people forgotten (default 0.1). \\[config: forget_ratio]"),
    attacks: Optional[str] = typer.Option(None, help="Comma-separated attacks, or 'all' (default). \\[config: attacks]"),
    target_row: Optional[bool] = typer.Option(None, "--target-row/--no-target-row", help="Also evaluate the target model as a reference row (default on). \\[config: target_row]"),
    oracle_row: Optional[bool] = typer.Option(
        None, "--oracle-row/--no-oracle-row",
        help="Fine-tune (once, cached) the retrained oracle of each setting and seed before the runs and evaluate it as a reference row, which forget quality, PrivLeak, ranking and probes compare with (default on). \\[config: oracle_row]",
    ),
    quick: Optional[bool] = typer.Option(None, "--quick/--no-quick", help="CI-sized: small world, tiny target model, the methods file's quick overrides, one seed. \\[config: quick]"),
    report_only: Optional[bool] = typer.Option(None, "--report-only/--run", help="Run nothing; aggregate the finished runs under OUT/runs. \\[config: report_only]"),
    workers: Optional[int] = typer.Option(None, help="Runs at a time, each in its own process with cores/workers torch threads (default 1; 2 on 2 CPU cores doubles the throughput). \\[config: workers]"),
    sequential: Optional[int] = typer.Option(
        None, "--sequential", metavar="K",
        help="Instead: K Personalized requests (other people each) applied one after another per method and seed, reported after each step: leakage on every earlier request, retain, utility (OUT/sequential.json/.md/.png; test-time methods left out). \\[config: sequential]",
    ),
    architectures: Optional[str] = typer.Option(
        None, help="Comma-separated tiny VLM families the target is built from: qwen3_vl, llava, idefics3 (default qwen3_vl); several: the whole benchmark per family into OUT/<family>/, then OUT/architectures.json/.md side by side. \\[config: architectures]",
    ),
    config: Optional[Path] = ConfigOption,
) -> None:
    """Every method x setting x seed on one world and target model; trade-off tables and plots. Resumable."""
    from asru.bench import BenchConfig, run_bench
    from asru.config import build_config

    def items(text: Optional[str]):
        return None if text is None else [part.strip() for part in text.split(",") if part.strip()]

    bench_config = build_config(
        BenchConfig,
        config,
        {
            "out": str(out) if out else None, "methods_file": str(methods_file) if methods_file else None, "methods": items(methods),
            "settings": items(settings), "seeds": items(seeds), "subjects": subjects, "tune": tune, "validation_seeds": items(validation_seeds),
            "tuned_file": str(tuned_file) if tuned_file else None, "use_tuned": use_tuned, "tune_this_build": tune_this_build, "forget_ratio": forget_ratio, "attacks": items(attacks),
            "target_row": target_row, "oracle_row": oracle_row, "quick": quick, "report_only": report_only, "workers": workers, "sequential": sequential,
            "architectures": items(architectures),
        },
    )
    summary = run_bench(bench_config, console)
    if "families" in summary:
        _print_architectures(summary)
    elif bench_config.tune:
        _print_tuning(summary)
    elif bench_config.sequential:
        _print_sequential(summary)
    else:
        _print_bench(summary)


def _print_tuning(summary: dict) -> None:
    from rich.table import Table

    table = Table(title=f"chosen on validation seeds {', '.join(map(str, summary['validation_seeds']))} (mean over them)")
    for title in ("method", "setting", "point", "score ↑", "utility ↑", "eligible"):
        table.add_column(title, justify="left" if title in ("method", "setting") else "right")
    for name, settings in summary["chosen"].items():
        for setting, pick in settings.items():
            table.add_row(name, setting, f"g{pick['grid_point']}", f"{pick['validation_score']:.3f}", f"{pick['validation_utility']:.3f}", "yes" if pick["eligible"] else "no")
    console.print(table)
    out = Path(summary["config"]["out"])
    console.print(f"[green]{summary['runs_finished']}/{summary['runs_planned']} runs finished[/green]; choices: {summary['tuned_file']}; every point: {out / 'validation.md'}", soft_wrap=True)


def _print_sequential(summary: dict) -> None:
    from rich.table import Table

    from asru.bench import _fmt

    asked = len(summary["seeds"])
    columns = [("worst_request_leakage", "worst request leak ↓"), ("forget_leakage", "all requests leak ↓"), ("retain_same_subject", "retain same ↑"), ("retain_other", "retain other ↑"), ("utility", "utility ↑")]
    table = Table(title=f"after each of {summary['steps']} sequential requests (over what the target knew; mean ± 95 % CI over seeds)")
    for title in ("method", "step", "seeds", *(title for _, title in columns)):
        table.add_column(title, justify="left" if title == "method" else "right", no_wrap=title == "method")
    for row in summary["rows"]:
        for step, cell in summary["curves"].get(row, {}).items():
            metrics = cell.get("metrics", {})
            table.add_row(row, step, f"{len(cell['seeds'])}/{asked}", *[_fmt(metrics.get(key), "rate", asked) for key, _ in columns])
    console.print(table)
    out = Path(summary["config"]["out"])
    console.print(f"[green]{summary['runs_finished']}/{summary['runs_planned']} runs finished[/green]; tables: {out / 'sequential.md'}, {out / 'sequential.json'}", soft_wrap=True)


def _print_bench(summary: dict) -> None:
    from rich.table import Table

    from asru.bench import SHORT_TITLES, _fmt

    asked = len(summary["seeds"])
    kinds = {
        "score": "score", "forget_leakage": "rate", "retain_same_subject": "rate", "retain_other": "rate", "utility": "rate", "naturalness": "score",
        "forget_quality": "p", "privleak": "score", "answer_rank1": "rate", "probe_recovery": "rate", "wall_seconds": "seconds",
    }
    columns = [(key, SHORT_TITLES[key], kind) for key, kind in kinds.items()]
    for setting, rows in summary["settings"].items():
        table = Table(title=f"{setting} (mean ± 95 % CI over seeds; (n/{asked}) = partial)")
        table.add_column("method", no_wrap=True)
        table.add_column("seeds", justify="right")
        for _, title, _ in columns:
            table.add_column(title, justify="right")
        for row, cell in rows.items():
            metrics = cell.get("metrics", {})
            table.add_row(row, f"{len(cell['seeds'])}/{asked}", *[_fmt(metrics.get(key), kind, asked) for key, _, kind in columns])
        console.print(table)
    out = Path(summary["config"]["out"])
    console.print(f"[green]{summary['runs_finished']}/{summary['runs_planned']} runs finished[/green]; tables: {out / 'tradeoff.md'}, {out / 'tradeoff.json'}", soft_wrap=True)
    if summary["config"]["methods"] or len(summary["settings"]) < 3:
        console.print("[yellow]the tables cover only the methods and settings asked; `asru bench --report-only` without --methods/--settings rebuilds them over all[/yellow]", soft_wrap=True)


def _print_architectures(summary: dict) -> None:
    from rich.table import Table

    from asru.bench import _fmt
    from asru.bench_architectures import FAMILY_COLUMNS

    asked = len(summary["seeds"])
    columns = [column for column in FAMILY_COLUMNS if column[0] in ("score", "forget_leakage", "retain_same_subject", "retain_other", "utility", "naturalness")]
    table = Table(title=f"per family (mean ± 95 % CI over seeds; (n/{asked}) = partial)")
    for title in ("family", "setting", "method", "seeds", *(title for _, title, _ in columns)):
        table.add_column(title, justify="left" if title in ("family", "setting", "method") else "right", no_wrap=title == "method")
    for family, data in summary["families"].items():
        for setting, rows in data["settings"].items():
            for row, cell in rows.items():
                table.add_row(family, setting, row, f"{len(cell['seeds'])}/{asked}", *[_fmt(cell.get(key), kind, asked) for key, _, kind in columns])
    console.print(table)
    out = Path(summary["config"]["out"])
    finished = sum(data["runs_finished"] for data in summary["families"].values())
    planned = sum(data["runs_planned"] for data in summary["families"].values())
    console.print(f"[green]{finished}/{planned} runs finished[/green]; side by side: {out / 'architectures.md'}; each family's tables: {out}/<family>/tradeoff.md", soft_wrap=True)


data_app = typer.Typer(no_args_is_help=True, help="Released benchmarks (PPU-Bench, MLLMU-Bench) as world folders.")
app.add_typer(data_app, name="data")


@data_app.command("import")
def data_import(
    kind: str = typer.Argument(..., help="Release format: ppu-bench | mllmu-bench."),
    source: str = typer.Argument(..., help="Local dataset folder (a hub snapshot, or one sub-folder per config) or a hub id."),
    out: Path = typer.Option(..., "--out", help="World folder to write (what --world takes)."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="datasets cache (default: the Hugging Face cache)."),
    private_questions: int = typer.Option(2, help="PPU-Bench: refusal-trained private questions added per person."),
    splits: Optional[Path] = typer.Option(
        None, "--splits", help="PPU-Bench: folder of complete_split.json, selective_split.json, persona_split.json (ppu-bench's data/split; default: data/split or split inside SOURCE)."
    ),
    family: str = typer.Option("qwen3", "--family", help="PPU-Bench: whose own answers are the targets: train_pair_<family>[_qa] (qwen3 | gemma3)."),
) -> None:
    """Convert a released benchmark into a world folder that unlearn/eval/targets read."""
    if kind == "ppu-bench":
        from asru.data.ppu_bench import import_ppu_bench

        world = import_ppu_bench(source, out, cache_dir, splits=splits, family=family, private_questions=private_questions)
    elif kind == "mllmu-bench":
        from asru.data.mllmu_bench import import_mllmu_bench

        if splits is not None:
            raise ConfigError("--splits is for ppu-bench (MLLMU-Bench's forget sets are configs of its dataset)")
        world = import_mllmu_bench(source, out, cache_dir)
    else:
        raise ConfigError(f"unknown release format {kind!r} (known: ppu-bench, mllmu-bench)")
    console.print(f"[green]{kind} written to {out}[/green] (hash {world.manifest['content_hash'][:12]})")
    for key, value in world.manifest["counts"].items():
        console.print(f"  {key}: {value}")
    for name, setting in world.manifest.get("settings", {}).items():
        console.print(f"  {name}: --setting {setting['setting']} --requests {out / setting['requests']} ({setting['subjects']} subjects)")


@app.command()
def targets(
    model: str = typer.Option(..., "--model", help="Model folder or hub id whose own answers become the targets."),
    data: Path = typer.Option(..., "--data", help="World / dataset folder (e.g. from `asru data import`)."),
    out: Path = typer.Option(..., "--out", help="New folder: the dataset with the model's answers as golds."),
    batch_size: int = typer.Option(32, help="Questions per generate call."),
    max_new_tokens: int = typer.Option(48, help="Longest answer recorded."),
    dtype: str = typer.Option("auto", help="Weights dtype: auto | float32 | bfloat16 | float16."),
) -> None:
    """Record the model's own greedy answers as the unlearning targets (fine-tuning-free, as in PPU-Bench)."""
    from asru.data.targets import record_targets
    from asru.models import load_vlm
    from asru.world import load_world

    loaded = load_world(data)
    vlm, processor = load_vlm(model, dtype=dtype, device="auto")
    with console.status("recording the model's answers"):
        summary = record_targets(vlm, processor, loaded, out, batch_size=batch_size, max_new_tokens=max_new_tokens, model_name=str(model))
    console.print(f"[green]targets written to {out}[/green]: {summary['answered']} answers, {summary['changed']} differ from the release's")
    if summary["empty_kept_original"]:
        console.print(f"[yellow]{summary['empty_kept_original']} empty answers kept the release's gold[/yellow]")


def main() -> None:
    """Entry point: our errors become one line on stderr and exit code 2 (``--debug`` re-raises).

    SIGINT/SIGTERM exit with 128 + the signal; during training they first finish the step and
    save a checkpoint (``asru.train.checkpoint.stop_on_signals``).
    """
    from rich.markup import escape

    signal.signal(signal.SIGTERM, raise_interrupted)  # outside a training step: unwind like Ctrl-C, one line, exit 143
    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit (130 after Ctrl-C)
    except AsruError as error:
        if _state["debug"]:
            raise
        err_console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except Interrupted as stop:
        err_console.print(escape(str(stop)), highlight=False, soft_wrap=True)
        sys.exit(128 + stop.signum)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("interrupted")
        sys.exit(130)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except Exception as error:  # click usage errors (typer vendors its own click: recognised by shape)
        if callable(getattr(error, "show", None)) and isinstance(getattr(error, "exit_code", None), int):
            error.show()
            sys.exit(2)
        raise
    close_process_group()
    if isinstance(code, int) and code:
        if code == 130:
            err_console.print("interrupted")
        sys.exit(code)


def close_process_group() -> None:
    """Destroy the process group of an ``accelerate launch`` after a command that finished normally.

    Left to interpreter shutdown, gloo's worker threads can still hold tensors while Python is torn down, and
    a rank then dies with SIGABRT ("terminate called without an active exception") after its work is done
    (seen once in the two-process test; pytorch/pytorch#190489). It is not called after an error: a rank
    still inside a collective would then wait for the others. Nothing to do without a launch."""
    distributed = sys.modules.get("torch.distributed")  # loaded only by commands that use torch
    if distributed is not None and distributed.is_available() and distributed.is_initialized():
        distributed.destroy_process_group()
