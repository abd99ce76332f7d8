"""Benchmark (diagnostic): how much of the linear probe's reading lives in the forgotten names' own token embeddings?

ASRU's stage 1 trains the decoder layers' MLP and attention projections, never an embedding; the target learned
each person's facts with their name, so the name's token embeddings may carry the facts into every layer. For the
target and one finished ASRU run (a folder with ``model/`` and ``results.json``), this measures the probe recovery
(:func:`asru.eval.probe.probe_recovery`, the evaluation's probe sets) per layer as the model stands and again with
the embedding rows of the tokens that only the forget people's names use set to the mean row of the other names'
tokens (what a model that never learnt those names would hold), beside the run's oracle recovery. Writes
benchmarks/results/name_embeddings_probe.{json,md}.

    .venv/bin/python benchmarks/name_embeddings_probe.py RUN_FOLDER [--world W] [--target T] [--setting complete] [--seed 100]

With ``--evaluate`` it instead asks what the reset costs in generation: the run's model with those rows reset is
evaluated as the run was (its ``bench_run.json`` eval config, oracle included) into ``--out``, and the forget
answers' labels, naturalness, leakage, other people, utility and the oracle measures are written side by side with
the run's own to benchmarks/results/name_embeddings_eval.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def recoveries(model_dir: Path, world, train, test, forget_names: set[str], other_names: set[str]) -> dict:
    from asru.data.collate import Encoder
    from asru.eval.probe import probe_recovery
    from asru.models.loading import load_vlm

    model, processor = load_vlm(model_dir)
    model.eval()
    encoder, tokenizer = Encoder(processor, world.root), processor.tokenizer
    layers = list(range(model.config.get_text_config().num_hidden_layers))
    before = probe_recovery(model, encoder, train, test, layers)["recovery"]
    only_forget = reset_forget_only_rows(model, tokenizer, forget_names, other_names)
    after = probe_recovery(model, encoder, train, test, layers)["recovery"]
    return {"model": str(model_dir), "forget_only_tokens": len(only_forget), "layers": layers, "recovery": before, "recovery_names_reset": after}


def reset_forget_only_rows(model, tokenizer, forget_names: set[str], other_names: set[str]) -> list[int]:
    """Set the input-embedding rows of the tokens only ``forget_names`` use to the mean row of ``other_names``' tokens; returns those token ids."""
    import torch

    from asru.methods.asru_stage1 import name_token_ids

    others = name_token_ids(tokenizer, other_names)
    only_forget = sorted(name_token_ids(tokenizer, forget_names) - others)
    embeddings = model.get_input_embeddings().weight
    with torch.no_grad():
        embeddings[only_forget] = embeddings[sorted(others)].mean(0)
    return only_forget


def reset_run_evaluated(run: Path, out: Path, world_dir: Path, forget_names: set[str], other_names: set[str]) -> dict:
    """The run's model with the forget-only name rows reset, evaluated as the run was (its bench_run.json config) into ``out``."""
    from asru.models.loading import load_vlm
    from asru.pipeline import UnlearnConfig, evaluate_model, unlearn_eval_config

    record = json.loads((run / "bench_run.json").read_text(encoding="utf-8"))
    model, processor = load_vlm(run / "model")
    model.eval()
    only_forget = reset_forget_only_rows(model, processor.tokenizer, forget_names, other_names)
    target = json.loads((run / "results.json").read_text(encoding="utf-8"))["target"]["model"]
    restrict = record.get("eval") or {}
    eval_config = unlearn_eval_config(UnlearnConfig(**record["unlearn_config"]), record.get("attacks"), restrict.get("splits"), restrict.get("max_per_split"))
    evaluate_model(run / "model", world_dir, out, eval_config, model=model, processor=processor, method=record.get("row", "run") + "+names_reset", target_model=target)
    return {"tokens": [processor.tokenizer.decode([i]) for i in only_forget], "run": _readings(run), "names_reset": _readings(out)}


def _readings(folder: Path) -> dict:
    """What the reset may cost or buy, from a run folder's results.json."""
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    metrics, probe = results["metrics"], results["linear_probe"]
    judge = metrics["forget"]["judge"]
    return {
        "forget_leakage": metrics["forget"]["all"].get("leakage_known"), "labels": judge["labels"], "naturalness": judge.get("naturalness"),
        "other_people": metrics.get("retain_other", {}).get("all", {}).get("exact_match_known"), "utility": metrics.get("utility", {}).get("all", {}).get("exact_match"),
        "forget_quality": results["forget_quality"].get("forget_quality"), "privleak": results["membership"].get("privleak"),
        "rank1": results["answer_ranking"].get("rank1"), "probe_gap": probe.get("gap"), "probe_recovery": probe.get("recovery"),
    }


def main() -> None:
    from asru.eval.oracle import _questions
    from asru.io import atomic_write_json, atomic_write_text
    from asru.report.writer import markdown_table
    from asru.pipeline import setting_splits
    from asru.world import load_world

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished ASRU run folder (model/ and results.json)")
    parser.add_argument("--world", type=Path, default=Path.home() / ".cache/asru/worlds/d0a484a4317d7d6b")
    parser.add_argument("--target", type=Path, default=Path.home() / ".cache/asru/targets/d65497b001dd802e")
    parser.add_argument("--setting", default="complete")
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--forget-ratio", type=float, default=0.1)
    parser.add_argument("--requests", default=None, help="the run's requests file (the demo's: runs/demo/<setting>/request.yaml)")
    parser.add_argument("--evaluate", type=Path, default=None, metavar="OUT", help="evaluate the run's model with the rows reset into OUT (see above)")
    args = parser.parse_args()

    world = load_world(args.world)
    _, splits = setting_splits(world, args.setting, args.forget_ratio, args.seed, args.requests)
    _, _, train, test = _questions(splits)
    forget_names = {s.subject_name for s in splits["forget"] if s.subject_name}
    other_names = {s.subject_name for s in world.samples if s.subject_name} - forget_names
    if args.evaluate:
        return write_evaluation(args, reset_run_evaluated(args.run, args.evaluate, args.world, forget_names, other_names))
    oracle = json.loads((args.run / "results.json").read_text(encoding="utf-8"))["linear_probe"].get("recovery_oracle")
    rows = {"target": recoveries(args.target, world, train, test, forget_names, other_names),
            "run": recoveries(args.run / "model", world, train, test, forget_names, other_names)}
    summary = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "machine": platform.processor() or platform.machine(),
               "setting": args.setting, "seed": args.seed, "run": str(args.run), "oracle_recovery": oracle, "n_test": len(test), "rows": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_json(RESULTS / "name_embeddings_probe.json", summary)
    fmt = lambda values: " / ".join(f"{v:.2f}" for v in values) if values else "–"  # noqa: E731
    body = [[name, str(row["forget_only_tokens"]), fmt(row["recovery"]), fmt(row["recovery_names_reset"])] for name, row in rows.items()]
    body.append(["oracle (the run's)", "–", fmt(oracle), "–"])
    lines = ["# Probe recovery and the forget names' token embeddings", "",
             f"Written by `benchmarks/name_embeddings_probe.py` on {summary['date']}: {args.setting}, seed {args.seed}, {len(test)} probe questions; "
             f"run `{args.run}`. Recovery per decoder layer (0 first), as the model stands and with the embedding rows of the tokens only the "
             "forget names use set to the mean row of the other names' tokens.", "",
             markdown_table(["model", "forget-only name tokens", "probe recovery by layer", "with those rows reset"], body)]
    atomic_write_text(RESULTS / "name_embeddings_probe.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


def write_evaluation(args, readings: dict) -> None:
    from asru.io import atomic_write_json, atomic_write_text
    from asru.report.writer import markdown_table

    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    summary = {"date": date, "machine": platform.processor() or platform.machine(), "setting": args.setting, "seed": args.seed, "run": str(args.run), **readings}
    atomic_write_json(RESULTS / "name_embeddings_eval.json", summary)
    fmt = lambda v: "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
    keys = ["forget_leakage", "naturalness", "other_people", "utility", "forget_quality", "privleak", "rank1", "probe_gap"]
    body = [[name, *(fmt(readings[name][k]) for k in keys), ", ".join(f"{label} {share:.2f}" for label, share in readings[name]["labels"].items() if share)]
            for name in ("run", "names_reset")]
    lines = ["# The forget names' token rows reset: what it costs in generation", "",
             f"Written by `benchmarks/name_embeddings_probe.py --evaluate` on {date}: {args.setting}, seed {args.seed}, run `{args.run}`; "
             f"rows reset: {', '.join(repr(t) for t in readings['tokens'])} (the tokens only the forget names use, set to the mean row of the "
             "other names' tokens); evaluated as the run was.", "",
             markdown_table(["model", *keys, "forget labels"], body)]
    atomic_write_text(RESULTS / "name_embeddings_eval.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
