"""The Python API behind the CLI: ``unlearn`` and ``evaluate_model`` write complete run folders.

    from asru import unlearn, evaluate_model
    run = unlearn("path/to/model", "path/to/world", method="npo", setting="selective", out="runs/npo")
"""

from __future__ import annotations

import platform
import random
import shutil
import time
from pathlib import Path

from pydantic import Field

from asru.config import StrictConfig, dump_config, load_json_file
from asru.errors import ConfigError, DataError, ModelError
from asru.eval.attacks import ALL_ATTACKS
from asru.eval.chain import ChainEntry, chain_requests, default_entry_id, extend, new_entry, request_metrics, training_splits
from asru.eval.evaluate import evaluate, probe_sets, target_scores
from asru.eval.knowledge import TargetKnowledge
from asru.eval.llm_judge import make_judge
from asru.eval.oracle import ORACLE_ROW, against_oracle, build_oracle, forget_set, resolve_oracle
from asru.eval.oracle import SECTIONS as ORACLE_SECTIONS
from asru.eval.lmms import LmmsEvalConfig, check_lmms_eval, run_lmms_eval
from asru.eval.settings import Setting, default_requests, describe_requests, load_requests, make_splits
from asru.io import atomic_write_json, atomic_write_text, check_writable, write_folder_atomically
from asru.methods.base import get_method
from asru.models.layers import num_language_layers
from asru.models.loading import load_vlm, save_vlm
from asru.report.model_card import load_model_record, record_from_run, write_model_card
from asru.report.writer import write_run
from asru.train.checkpoint import find_checkpoint
from asru.train.distributed import process_state
from asru.train.tracking import check_tracker_installed
from asru.train.unlearn import UnlearnConfig
from asru.train.unlearn import unlearn as train_unlearn
from asru.world import load_world

STARTED_FILE = "run_started.json"  # when an unlearning run first started: a resumed run's chain keeps that date


class EvalConfig(StrictConfig):
    setting: Setting = "complete"
    forget_ratio: float = Field(0.1, gt=0, lt=1)
    requests_file: str | None = None
    seed: int = 0
    attacks: list[str] = Field(default_factory=list, description='attack names, or ["all"]')
    batch_size: int = Field(64, ge=1)
    # Off by default: a tiny memorising model gives any phrasing it was not trained on (a good
    # contextual refusal included) a huge perplexity, so the signal only helps with a real LM.
    judge_perplexity: bool = Field(False, description="score each answer's perplexity under the original model for the judge")
    reference_model: str | None = Field(None, description="the original model for perplexity; default: the evaluated model itself (asru eval) or the input model (asru unlearn)")
    splits: list[str] | None = Field(None, description="evaluate only these splits (default: forget, retain and utility splits, refusal and the test_ paraphrases)")
    max_per_split: int | None = Field(None, ge=1, description="evaluate at most this many questions of each split (the same seeded subset for every model)")
    judge: str = Field("rules", description="'rules' (the offline judge) or 'openai:URL[,model=NAME]', an OpenAI-compatible chat server (asru.eval.llm_judge)")
    oracle: str = Field(
        "auto", description="the retrained oracle the gone-or-hidden measures compare with (asru.eval.oracle): auto (the cached oracle of the run's target for this forget set, once `asru oracle`, asru bench or asru demo built it), none, or a model folder",
    )
    lmms_eval: LmmsEvalConfig = Field(default_factory=LmmsEvalConfig, description="lmms-eval tasks run on the model after our evaluation (asru.eval.lmms)")


def eval_subset(splits: dict, config: EvalConfig) -> dict:
    """The splits ``config`` evaluates: only the named ones, each cut to a seeded subset of ``max_per_split``.

    The subset depends only on the split, its questions and the seed, so every model evaluated with
    the same config answers the same questions (a run and its target row stay comparable).
    """
    from asru.eval.evaluate import DEFAULT_SPLITS

    names = config.splits if config.splits is not None else list(DEFAULT_SPLITS)
    unknown = [n for n in names if n not in splits]
    if unknown:
        raise ConfigError(f"evaluation splits: unknown split {unknown[0]!r} (known: {', '.join(sorted(splits))})")
    chosen = {}
    for name in names:
        items = splits[name]
        if config.max_per_split is not None and len(items) > config.max_per_split:
            keep = set(random.Random(f"{name}-{config.seed}").sample(range(len(items)), config.max_per_split))
            items = [s for i, s in enumerate(items) if i in keep]
        chosen[name] = items
    return chosen


def versions() -> dict[str, str]:
    import accelerate
    import peft
    import torch
    import transformers

    import asru

    return {
        "asru": asru.__version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "accelerate": accelerate.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
    }


def resolve_attacks(attacks: list[str]) -> list[str]:
    """``["all"]`` expanded; an unknown name is an error before any work, not after the evaluation."""
    known = ALL_ATTACKS + ("steering_removed",)
    for attack in attacks:
        if attack not in known and attacks != ["all"]:
            raise ConfigError(f"option --attacks: unknown attack {attack!r} (known: all, {', '.join(known)})")
    return list(ALL_ATTACKS) if attacks == ["all"] else attacks


def setting_splits(world, setting, forget_ratio: float, seed: int, requests_file: str | None):
    """The deletion requests (from a file, or the benchmark's default for the seed) and the splits."""
    requests = load_requests(requests_file) if requests_file else default_requests(world, setting, forget_ratio, seed)
    return requests, make_splits(world, setting, forget_ratio, seed, requests)


def evaluate_model(model_path: str | Path, world_dir: str | Path, out: str | Path, config: EvalConfig | None = None, console=None, model=None, processor=None, method: str = "none", timing: dict | None = None, training_logs: dict[str, list] | None = None, model_context=None, judge=None, chain: list[ChainEntry] | None = None, target_model: str | Path | None = None, saved_model: str | Path | None = None) -> dict:
    """Evaluate a saved model (or an in-memory one) on a setting and write a run folder.

    ``judge``: ``make_judge(config.judge)`` when the caller made it already (default: made here).
    ``chain``: the deletion requests applied to the model one after another (:mod:`asru.eval.chain`):
    the forget split is all of them (not ``config``'s), with metrics per request in results.json.
    ``target_model``: the model before any request, whose answers condition the ``*_known`` figures
    (default: ``model_path``; a later step of a chain starts from a model that forgot the earlier requests).
    ``saved_model``: the folder lmms-eval loads (default: ``model_path``).
    """
    config = config or EvalConfig()
    out = Path(out)
    attack_names = resolve_attacks(config.attacks)
    check_lmms_eval(config.lmms_eval)
    judge_many, judge_name = judge or make_judge(config.judge)  # a judge server that is down fails before the model loads
    world = load_world(world_dir)
    loaded_here = model is None
    if loaded_here:
        model, processor = load_vlm(model_path, device="auto")
    original = None
    if config.judge_perplexity:
        reference_path = config.reference_model or str(model_path)
        original = model if loaded_here and reference_path == str(model_path) else load_vlm(reference_path)[0]
    requests, splits, chosen = evaluation_splits(world, config, chain)
    check_writable(out)
    # the oracle is looked up (an --oracle folder that is not one fails) before the slow part
    found_oracle = resolve_oracle(config.oracle, target_model or model_path, world, requests)
    started = time.perf_counter()
    status = console.status("evaluating") if console else None
    if status:
        status.start()
    # the run's starting model is the target whose answers condition the *_known figures (itself, for asru eval)
    knowledge = TargetKnowledge(target_model or model_path, world, model=model if loaded_here and not target_model else None, processor=processor if loaded_here and not target_model else None, batch_size=config.batch_size)
    try:
        metrics, attacks, answers = evaluate(
            model, processor, world, {**splits, **chosen}, split_names=list(chosen), attacks=attack_names, model_context=model_context, perplexity_model=original, batch_size=config.batch_size, seed=config.seed,
            progress=(lambda name: status.update(f"evaluating {name}")) if status else None, judge=judge_many, knowledge=knowledge,
        )
        # the report's "target" column: the target's answers (asked ahead of training, cached) scored the same way
        target = target_scores(world, processor, {**splits, **chosen}, list(chosen), knowledge, judge_many, perplexity_model=original, batch_size=config.batch_size, seed=config.seed)
        if status:
            status.update("gone or hidden: likelihoods, membership inference, probes" + (" (and the oracle's, once)" if found_oracle[0] else ""))
        # on every question of the forget set (never the capped subset): the oracle's cached numbers are on the same ones
        against = against_oracle(
            model, processor, world, splits, found_oracle, model_context=model_context, batch_size=config.batch_size, evaluated_path=model_path if loaded_here else None,
        )
    finally:
        if status:
            status.stop()
    results = {
        "method": method,
        "setting": config.setting,
        "model": str(model_path),
        "world": {"path": str(world_dir), "hash": world.manifest.get("content_hash")},
        "requests": describe_requests(world, requests),
        "metrics": metrics,
        "attacks": attacks,
        "target": {"model": str(target_model or model_path), "metrics": target},
        **{key: against[key] for key in ("oracle", *ORACLE_SECTIONS)},
        "judge": judge_name,
        "timing": {**(timing or {}), **against["timing"], "eval_seconds": round(time.perf_counter() - started, 2)},
        "versions": versions(),
    }
    if config.lmms_eval.tasks:
        if loaded_here:  # lmms-eval loads the model again in its own process: free this copy first
            del model, original
            _release_memory()
        results["lmms_eval"] = run_lmms_eval(saved_model or model_path, config.lmms_eval, console)
    if chain:
        results["chain"] = [entry.model_dump(mode="json") for entry in chain]
        results["request_metrics"] = request_metrics(chain, splits, answers)
    write_run(out, results, answers, training_logs)
    return results


def oracle(model_path: str | Path, world_dir: str | Path, config: EvalConfig | None = None, out: str | Path | None = None, console=None, chain: list[ChainEntry] | None = None) -> dict:
    """The retrained oracle of ``config``'s forget set for the target ``model_path`` (``asru oracle``).

    The target's recipe (its ``finetune.json``) fine-tuned on the world without the forget set —
    the setting's default requests for ``config.seed``, ``config.requests_file``'s, or a chain's —
    once per machine (cached by content hash like the target: ``asru.cache.cached_oracle``). With
    ``out``, the oracle is also evaluated into a run folder (method ``oracle``; the ``*_known``
    figures conditioned on the target), as asru bench's and asru demo's oracle rows are.
    Returns ``{"model", "excluded" ({subject id: fact ids}), "finetune" (its finetune.json), "results"}``.
    """
    config = config or EvalConfig()
    world = load_world(world_dir)
    requests, _, _ = evaluation_splits(world, config, chain)
    folder = build_oracle(model_path, world_dir, requests, console)
    results = None
    if out is not None:
        results = evaluate_model(folder, world_dir, out, config.model_copy(update={"oracle": "auto"}), console, method=ORACLE_ROW, chain=chain, target_model=model_path)
    return {
        "model": str(folder), "excluded": {subject: sorted(ids) for subject, ids in sorted(forget_set(world, requests).items())},
        "finetune": load_json_file(folder / "finetune.json"), "results": results,
    }


def _release_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def evaluation_splits(world, config: EvalConfig, chain: list[ChainEntry] | None = None) -> tuple[list, dict, dict]:
    """The requests, the splits and the (capped) splits :func:`evaluate_model` asks: with a chain, its
    requests; else ``config``'s file or the setting's default requests."""
    if chain:
        requests = chain_requests(chain)
        splits = make_splits(world, config.setting, config.forget_ratio, config.seed, requests)
    else:
        requests, splits = setting_splits(world, config.setting, config.forget_ratio, config.seed, config.requests_file)
    return requests, splits, eval_subset(splits, config)  # (the attacks, too, ask a capped forget split)


def ask_target_ahead(model, processor, model_path: str | Path, world, config: EvalConfig, chain: list[ChainEntry] | None) -> dict[str, float]:
    """Cache the target's answers to every question the evaluation will ask, while ``model`` still is the target.

    Training changes the model in place; answering now means the conditioned figures never need a
    second copy of the target loaded next to the unlearned one (a GPU may not hold two). Nothing is
    asked when the cache has them (the bench's target row ran first). Returns the seconds it took, for the timing.
    """
    started = time.perf_counter()
    _, splits, chosen = evaluation_splits(world, config, chain)
    sets = probe_sets(world, {**splits, **chosen}, list(chosen), resolve_attacks(config.attacks), config.seed)
    TargetKnowledge(model_path, world, model=model, processor=processor, batch_size=config.batch_size).lookup([p for probes in sets.values() for p in probes])
    return {"target_answers_seconds": round(time.perf_counter() - started, 2)}


def request_chain(model_path: str | Path, world, config: UnlearnConfig, out: str | Path) -> tuple[list[ChainEntry], str]:
    """The chain of requests after this run, and the model before its first request.

    A model an earlier ``asru unlearn`` saved records its chain (``unlearning.json``): this run's
    request (``config.requests_file``, else the setting's default requests) is appended to it; a
    request already in it, or a world other than the chain's, is a one-line error.
    """
    previous = load_model_record(model_path)
    if previous is not None and previous.world.hash and previous.world.hash != world.manifest.get("content_hash"):
        raise ConfigError(f"{model_path} was unlearned on another world ({previous.world.path}; content hash differs from {world.root}'s): pass that world with --world")
    common = {"setting": config.setting, "method": config.method, "run": out}
    if config.requests_file:
        entry = new_entry(world, load_requests(config.requests_file), file=config.requests_file, **common)
    else:
        requests = default_requests(world, config.setting, config.forget_ratio, config.seed)
        entry = new_entry(world, requests, default_id=default_entry_id(config.setting, config.forget_ratio, config.seed), **common)
    started = Path(out) / STARTED_FILE
    if find_checkpoint(Path(out) / "checkpoint") is not None and started.is_file():
        # a resumed run keeps the date it started, so its results equal an uninterrupted run's
        recorded = load_json_file(started, DataError, "run start record")
        if isinstance(recorded, dict) and isinstance(recorded.get("date"), str) and recorded["date"]:
            entry = entry.model_copy(update={"date": recorded["date"]})
    chain = extend(previous.chain if previous else [], entry, model_path)
    return chain, previous.base_model if previous else str(model_path)


def check_method_fits_model(method: str, params, model, model_path: str | Path) -> None:
    """Fail before any work when a layer-based method (a ``layer`` in its Params) cannot run on the model.

    Steering, RMU and ASRU hook or train one decoder layer: the architecture needs a known layer
    path (``asru.models.layers``) and the layer must exist.
    """
    if "layer" not in type(params).model_fields:
        return
    try:
        count = num_language_layers(model)
    except ModelError as error:
        raise ConfigError(f"method {method!r} cannot run on {model_path}: {error}") from None
    if params.layer is not None and not 0 <= params.layer < count:
        raise ConfigError(f"method_args.layer of {method!r}: {params.layer} is out of range ({model_path} has {count} decoder layers, 0..{count - 1})")


def unlearn_eval_config(config: UnlearnConfig, attacks: list[str] | None = None, splits: list[str] | None = None, max_per_split: int | None = None) -> EvalConfig:
    """How :func:`unlearn` evaluates a run of ``config`` (its setting, request, seed and judge), with these attacks and splits."""
    return EvalConfig(
        setting=config.setting, forget_ratio=config.forget_ratio, requests_file=config.requests_file, seed=config.seed, attacks=resolve_attacks(attacks or []),
        splits=splits, max_per_split=max_per_split, judge=config.judge, lmms_eval=config.lmms_eval,
    )


def check_saved_edits(config: UnlearnConfig, params) -> None:
    """Fail before any work when the run would save a model without an edit it makes: ``forget_names: unlearnt`` redraws
    base embedding rows, which an unmerged LoRA adapter (``merge_lora: false``) does not hold."""
    if getattr(params, "forget_names", "keep") == "unlearnt" and config.lora_r > 0 and not config.merge_lora:
        raise ConfigError(
            "method_args.forget_names: unlearnt redraws the base model's embedding rows, which a LoRA adapter saved unmerged "
            "(merge_lora: false) does not hold; set merge_lora: true or forget_names: keep"
        )


def unlearn(
    model_path: str | Path, world_dir: str | Path, out: str | Path, config: UnlearnConfig | None = None, attacks: list[str] | None = None, console=None,
    eval_splits: list[str] | None = None, eval_max_per_split: int | None = None,
) -> dict:
    """Unlearn with ``config.method``, save the model (safetensors) into ``out/model``, evaluate, report.

    A ``model_path`` an earlier run saved continues its chain of requests (:func:`request_chain`):
    this run forgets its own request, is evaluated on every request of the chain, and writes the
    chain with a model card into ``out/model`` (``unlearning.json``, ``README.md``).

    ``eval_splits`` / ``eval_max_per_split``: evaluate only those splits, each cut to a seeded subset
    (``EvalConfig.splits`` / ``max_per_split``; default: every split, whole).
    """
    config = config or UnlearnConfig()
    check_tracker_installed(config.report_to)  # before the model loads
    check_lmms_eval(config.lmms_eval, trains=get_method(config.method).trains)
    judge = make_judge(config.judge)  # and a judge server that is down fails now, not after training
    out = Path(out)
    world = load_world(world_dir)
    chain, base_model = request_chain(model_path, world, config, out)  # before the model loads: a request already applied fails now
    model, processor = load_vlm(model_path, dtype=config.dtype, attn_implementation=config.attn_implementation, device="auto")
    # forget this run's request; keep out of the retain data every fact any request of the chain names
    splits = training_splits(make_splits(world, config.setting, config.forget_ratio, config.seed, chain_requests(chain)), chain[-1])
    eval_config = unlearn_eval_config(config, attacks, eval_splits, eval_max_per_split)
    eval_subset(splits, eval_config)  # an unknown split name fails here, not after training
    method_cls = get_method(config.method)
    resolved, params = config.with_method_defaults()
    check_method_fits_model(config.method, params, model, model_path)
    check_saved_edits(config, params)
    # written only once every input checked out, so a bad re-run leaves an earlier run folder as it was
    check_writable(out)
    atomic_write_text(out / "config.yaml", dump_config(config))
    atomic_write_json(out / STARTED_FILE, {"date": chain[-1].date})
    # a chain's later step starts from a model that is not its target: that one is loaded when evaluating
    ahead = ask_target_ahead(model, processor, model_path, world, eval_config, chain) if process_state().is_main_process and str(base_model) == str(model_path) else {}
    started = time.perf_counter()
    if not method_cls.trains:
        # test-time method: fit the steering artefact, evaluate with its hooks on (and, as an attack, off)
        method = method_cls(params).fit(model, processor, world, splits)
        write_folder_atomically(out / "steering", method.save)
        eval_config.attacks = list(dict.fromkeys(resolve_attacks(eval_config.attacks) + ["steering_removed"]))
        return evaluate_model(
            model_path, world_dir, out, eval_config, console, model=model, processor=processor, method=config.method,
            timing={**ahead, "fit_seconds": round(time.perf_counter() - started, 2)}, model_context=method.apply, judge=judge, chain=chain, target_model=base_model,
        )
    logs: dict[str, list] = {}
    if getattr(params, "stage", "1") != "2":
        model, logs["train"] = train_unlearn(model, processor, world, splits, config, out, console)
    train_seconds = time.perf_counter() - started
    if hasattr(method_cls, "refine") and params.stage != "1":
        if params.rl.report_to is None:  # the RL stage logs to the run's tracker unless told otherwise
            params.rl.report_to = config.report_to
        model, logs["rl"] = method_cls.refine(model, processor, world, splits, params, out, console)
    if not process_state().is_main_process:
        return {}  # under `accelerate launch` every process trains; the main one saves and evaluates
    save_vlm(model, processor, out / "model")
    for leftover in ("grpo_checkpoint", "grpo_checkpoint.old", "grpo_checkpoint.tmp"):  # the model is saved: ~60 MB less per run
        shutil.rmtree(out / leftover, ignore_errors=True)
    results = evaluate_model(
        model_path, world_dir, out, eval_config, console, model=model, processor=processor, method=config.method,
        timing={**ahead, "train_seconds": round(train_seconds, 2), "total_train_seconds": round(time.perf_counter() - started, 2)}, training_logs=logs, judge=judge, chain=chain, target_model=base_model, saved_model=out / "model",
    )
    # the chain travels with the model: the next `asru unlearn --model out/model` continues it, `asru audit out/model` checks it
    record = record_from_run(results, chain, base_model=base_model, config=resolved.model_dump(mode="json"), method_params=params.model_dump(mode="json"), run=out)
    write_model_card(out / "model", record)
    return results
