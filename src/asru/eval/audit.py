"""``asru audit RUN``: does the forgetting of a finished run hold under every attack?

The run's model is loaded again (``RUN/model``; for a test-time steering run the original model
with the saved hooks; for an ``asru eval`` run the evaluated model), and the forget questions are
asked directly, under every attack of :mod:`asru.eval.attacks` (prompt attacks and relearning)
and, for steering runs, with the hooks removed. Each leakage is compared with its threshold
(default 5 %); the verdict, the numbers and the thresholds go to ``RUN/audit.json`` and into the
run's report. Everything is measured by :func:`asru.eval.evaluate.evaluate`, so the numbers mean
what they mean in ``results.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

from pydantic import Field

from asru.config import StrictConfig, build_config
from asru.errors import ConfigError, DataError
from asru.eval.attacks import ALL_ATTACKS
from asru.eval.evaluate import evaluate
from asru.eval.settings import DeletionRequest, make_splits
from asru.io import atomic_write_json, check_writable
from asru.report.results import load_results
from asru.report.writer import AUDIT_FILE, add_audit_to_report

DIRECT = "direct"  # the forget questions as trained, no attack
STEERING_REMOVED = "steering_removed"


class AuditConfig(StrictConfig):
    """Thresholds of an audit: a check passes when its leakage is at most its threshold."""

    max_leakage: float = Field(0.05, ge=0, le=1, description="leakage allowed under every check")
    thresholds: dict[str, Annotated[float, Field(ge=0, le=1)]] = Field(default_factory=dict, description="per-check overrides, e.g. {relearn: 0.2}")
    batch_size: int = Field(64, ge=1)


def check_names(steering: bool) -> list[str]:
    """The checks an audit runs: the direct questions, every attack, and steering_removed for steering runs."""
    return [DIRECT, *ALL_ATTACKS] + ([STEERING_REMOVED] if steering else [])


def parse_thresholds(items: list[str]) -> dict[str, float]:
    """``["relearn=0.2", ...]`` from the command line into ``{"relearn": 0.2}``."""
    thresholds = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            thresholds[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ConfigError(f"option --threshold: expected CHECK=VALUE (e.g. relearn=0.2), got {item!r}")
    return thresholds


def judge_checks(leakages: dict[str, dict], config: AuditConfig, names: list[str] | None = None) -> dict:
    """Pass/fail per check and overall; ``leakages`` maps a check to its metrics (``leakage``, ``n``...).

    ``names``: every check of the run (default: those in ``leakages``); a threshold for any other
    name is a ConfigError, so a typo cannot silently leave the default in force.
    """
    names = list(leakages) if names is None else names
    unknown = sorted(set(config.thresholds) - set(names))
    if unknown:
        raise ConfigError(f"option --threshold: unknown check {unknown[0]!r} (this run's checks: {', '.join(names)})")
    checks = {}
    for name, metrics in leakages.items():
        threshold = config.thresholds.get(name, config.max_leakage)
        leakage = metrics.get("leakage")
        checks[name] = {
            "leakage": leakage,
            "threshold": threshold,
            "passed": leakage is not None and leakage <= threshold,
            "n": metrics.get("n"),
            "exact_match": metrics.get("exact_match"),
            "refusal_rate": metrics.get("refusal_rate"),
        }
    failed = [name for name, check in checks.items() if not check["passed"]]
    return {"verdict": "fail" if failed else "pass", "failed": failed, "checks": checks}


def _requests(results: dict) -> list[DeletionRequest]:
    """The run's deletion requests exactly as it resolved them (subject ids and fact ids; validated by load_results)."""
    return [DeletionRequest(subject=r["subject_id"], facts=r["fact_ids"]) for r in results["requests"]]


def audit_run(
    run: str | Path,
    config: AuditConfig | None = None,
    world_dir: str | Path | None = None,
    model_path: str | Path | None = None,
    console=None,
) -> dict:
    """Audit a run folder, write ``RUN/audit.json`` (atomically) and add the audit to its report.

    ``world_dir`` / ``model_path`` override the world and the original model recorded in
    results.json (for runs moved since); the world must still have the run's content hash.
    """
    from asru.methods.base import get_method
    from asru.models.loading import load_vlm
    from asru.train.unlearn import UnlearnConfig
    from asru.world import load_world

    config = config or AuditConfig()
    run = Path(run)
    results = load_results(run)
    check_writable(run)
    world = load_world(world_dir or results["world"]["path"])
    recorded_hash = results["world"].get("hash")
    if recorded_hash and world.manifest.get("content_hash") != recorded_hash:
        raise ConfigError(f"{world.root}: not the world this run used (content hash differs); pass --world with the run's world")
    seed = build_config(UnlearnConfig, run / "config.yaml").seed if (run / "config.yaml").is_file() else 0
    splits = make_splits(world, results["setting"], requests=_requests(results), seed=seed)
    splits["forget"] = [s for s in splits["forget"] if s.form == "qa"]  # the questions every attack rewrites
    if not splits["forget"]:
        raise DataError(f"{run}: the run's forget split has no qa questions to audit")

    method_cls = get_method(results["method"]) if results["method"] != "none" else None
    steering = method_cls is not None and not method_cls.trains
    if steering:
        model, processor = load_vlm(model_path or results["model"])
        hooks = method_cls.load(run / "steering")
        audited, model_context = f"{model_path or results['model']} + {run / 'steering'}", hooks.apply
    else:
        audited = str(model_path or (run / "model" if (run / "model").is_dir() else results["model"]))
        model, processor = load_vlm(audited)
        model_context = None

    names = check_names(steering)
    judge_checks({}, config, names)  # unknown threshold names fail before the slow part
    started = time.perf_counter()
    status = console.status("auditing") if console else None
    if status:
        status.start()
    try:
        metrics, attacks, _ = evaluate(
            model, processor, world, splits, split_names=("forget",), attacks=names[1:], model_context=model_context,
            batch_size=config.batch_size, seed=seed, progress=(lambda name: status.update(f"auditing: {name}")) if status else None,
        )
    finally:
        if status:
            status.stop()
    leakages = {DIRECT: metrics["forget"]["all"], **{name: attacks[name] for name in names[1:] if name in attacks}}
    skipped = [name for name in names if name not in leakages]  # an attack with nothing to rewrite (no held-out images...)
    audit = {
        "run": str(run),
        "method": results["method"],
        "setting": results["setting"],
        "model": audited,
        "max_leakage": config.max_leakage,
        **judge_checks(leakages, config, names),
        "skipped": skipped,
        "seconds": round(time.perf_counter() - started, 2),
    }
    atomic_write_json(run / AUDIT_FILE, audit)
    add_audit_to_report(run, audit)
    return audit

