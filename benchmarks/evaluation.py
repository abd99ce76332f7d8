"""Benchmark: wall time of a full evaluation of the target model, part by part, and of one with every measure.

Parts: every split (greedy answers), every attack on the forget split (the prefill attack
included), the gone-or-hidden measures (answer likelihoods for the truth ratios, answer ranking
and membership inference; the per-layer linear probes) and the oracle's own measures (once per
oracle and forget set, then cached); then ``evaluate_model`` with all of it, as ``asru eval
--attacks all`` runs it. Uses the cached world and target model (built on first use, like `make
demo`); ``--untrained`` times an untrained tiny model of the target's shape instead (no
fine-tuning: an untrained model generates every answer to the token limit, so its generation
parts are an upper bound), with a second untrained model standing in for the oracle. Writes
benchmarks/results/evaluation.json and evaluation.md.

    .venv/bin/python benchmarks/evaluation.py [--subjects 40] [--untrained]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch

from asru.cache import cached_target, cached_world
from asru.eval.attacks import ALL_ATTACKS
from asru.eval.evaluate import evaluate
from asru.eval.oracle import measure, oracle_measures
from asru.eval.settings import default_requests, make_splits
from asru.io import atomic_write_json, atomic_write_text
from asru.models import load_vlm
from asru.pipeline import EvalConfig, evaluate_model, versions
from asru.report.writer import markdown_table
from asru.world import load_world

RESULTS = Path(__file__).parent / "results"


def untrained_model(world, folder: Path, seed: int) -> Path:
    """An untrained tiny Qwen3-VL of the target recipe's shape (FinetuneConfig().model), saved to ``folder``."""
    from asru.models import build_tiny, save_vlm
    from asru.train.finetune import FinetuneConfig, tokenizer_corpus

    model, processor = build_tiny(tokenizer_corpus(world.samples), FinetuneConfig().model.model_copy(update={"seed": seed}))
    save_vlm(model, processor, folder)
    return folder


def timed(run) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="asru-evaluation-"))  # the untrained models, the oracle's cache, the full run
    try:
        run(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(scratch: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--untrained", action="store_true", help="time an untrained tiny model of the target's shape (no fine-tuning)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    world_dir = cached_world(0, args.subjects)
    world = load_world(world_dir)
    if args.untrained:
        model_dir, oracle_dir = untrained_model(world, scratch / "model", 0), untrained_model(world, scratch / "oracle", 1)
    else:
        model_dir, oracle_dir = cached_target(world_dir), None
    model, processor = load_vlm(model_dir)
    splits = make_splits(world, "complete", 0.1)
    (metrics, _, answers), splits_seconds, splits_cpu = timed(lambda: evaluate(model, processor, world, splits))
    (_, attacks, attack_answers), attacks_seconds, attacks_cpu = timed(lambda: evaluate(model, processor, world, splits, split_names=(), attacks=ALL_ATTACKS))
    own, measures_seconds, measures_cpu = timed(lambda: measure(model, processor, world, splits))
    parts = {
        "splits": {"answers": len(answers), "seconds": round(splits_seconds, 1), "cpu_seconds": round(splits_cpu, 1), "answers_per_second": round(len(answers) / splits_seconds, 1)},
        "attacks": {"answers": len(attack_answers), "seconds": round(attacks_seconds, 1), "cpu_seconds": round(attacks_cpu, 1), "names": list(ALL_ATTACKS)},
        "gone_or_hidden": {
            "seconds": round(measures_seconds, 1), "cpu_seconds": round(measures_cpu, 1), "answers_scored": own["seconds"]["answers_scored"],
            "likelihoods_seconds": own["seconds"]["likelihoods"], "probe_seconds": own["seconds"]["probe"],
            "probe_questions": own["probe"]["n_train"] + own["probe"]["n_test"], "layers": len(own["probe"]["layers"]),
        },
    }
    full = {}
    if oracle_dir is not None:
        os.environ["ASRU_CACHE"] = str(scratch / "cache")  # nothing cached yet: the oracle's measures are computed once, here
        _, oracle_seconds, oracle_cpu = timed(lambda: oracle_measures(oracle_dir, world, splits))
        parts["oracle_measures"] = {"seconds": round(oracle_seconds, 1), "cpu_seconds": round(oracle_cpu, 1), "note": "once per oracle and forget set (loading it included), then cached"}
        config = EvalConfig(setting="complete", attacks=["all"], oracle=str(oracle_dir))
        del model
        results, full_seconds, full_cpu = timed(lambda: evaluate_model(model_dir, world_dir, scratch / "run", config))
        full = {
            "seconds": round(full_seconds, 1), "cpu_seconds": round(full_cpu, 1), "timing": results["timing"],
            "what": "evaluate_model: every split, every attack, the gone-or-hidden measures against the oracle (its measures cached by then), the report",
        }
    else:
        full = {"seconds": round(splits_seconds + attacks_seconds + measures_seconds, 1), "what": "sum of the parts (the oracle's measures are cached per oracle)"}
    result = {
        "date": datetime.date.today().isoformat(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "versions": versions(),
        "subjects": args.subjects,
        "model": "untrained tiny Qwen3-VL of the target's shape (FinetuneConfig().model): timing only, no fine-tuning; "
        "it generates every answer to the 24-token limit (an upper bound for generation), and its metrics mean nothing" if args.untrained else str(model_dir),
        "forget_people": len(default_requests(world, "complete", 0.1, 0)),
        **parts,
        "full_evaluation": full,
    }
    if not args.untrained:
        result["target_exact_match"] = {split: {k: metrics[split][k]["exact_match"] for k in ("qa", "cloze", "image", "text") if k in metrics[split]} for split in ("forget", "retain_other")}
        result["attack_leakage_on_target"] = {name: values["leakage"] for name, values in attacks.items()}
    else:  # an untrained model's accuracy means nothing: keep the last trained target's, saying from when
        previous = json.loads((args.out / "evaluation.json").read_text()) if (args.out / "evaluation.json").is_file() else {}
        kept = previous.get("last_trained_target") or {key: previous[key] for key in ("date", "target_exact_match", "attack_leakage_on_target") if key in previous}
        if kept.get("attack_leakage_on_target"):
            result["last_trained_target"] = kept
    atomic_write_json(args.out / "evaluation.json", result)
    rows = [
        ["all splits (complete, 10 %)", len(answers), f"{splits_seconds:.1f}", f"{splits_cpu:.1f}"],
        ["all attacks on the forget split", len(attack_answers), f"{attacks_seconds:.1f}", f"{attacks_cpu:.1f}"],
        ["gone or hidden: likelihoods, MIA, ranking, probes", own["seconds"]["answers_scored"], f"{measures_seconds:.1f}", f"{measures_cpu:.1f}"],
    ]
    if "oracle_measures" in parts:
        rows.append(["the oracle's measures (once, cached)", own["seconds"]["answers_scored"], f"{parts['oracle_measures']['seconds']:.1f}", f"{parts['oracle_measures']['cpu_seconds']:.1f}"])
        rows.append(["full evaluate_model, every measure", "", f"{full['seconds']:.1f}", f"{full['cpu_seconds']:.1f}"])
    table = markdown_table(["evaluation", "answers", "seconds", "CPU seconds"], rows)
    note = f"\n\nMeasured on {result['model']}.\n" if args.untrained else "\n"
    atomic_write_text(args.out / "evaluation.md", f"# Evaluation time ({result['date']}, {args.subjects} people, {os.cpu_count()} CPU cores, {torch.get_num_threads()} torch threads)\n\n{table}{note}")
    print(table)


if __name__ == "__main__":
    main()
