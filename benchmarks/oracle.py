"""Benchmark: gone or hidden — the target, its retrained oracle and unlearning methods, measure by measure.

For one setting and seed (default: Complete, seed 0, on the cached 40-person world and target), the
rows of ``asru bench`` (the same runs, resumable, under ``OUT/oracle_runs/``: the target, the oracle
— the target's recipe fine-tuned without the forget set, cached — and the methods) are compared on
what tells forgotten from hidden: leakage (plain and under the prefill attack), TOFU's truth ratio and
forget quality, each membership-inference AUC and MUSE's PrivLeak, the true answer's ranking among
wrong ones, and the per-layer linear-probe recovery. Writes ``OUT/oracle.json`` and ``OUT/oracle.md``.

    .venv/bin/python benchmarks/oracle.py                                # target, oracle, asru, npo (hours: the oracle's fine-tuning)
    .venv/bin/python benchmarks/oracle.py --methods asru,grad_diff --setting selective --seed 1
    .venv/bin/python benchmarks/oracle.py --quick --subjects 6           # CI-sized: tiny target and oracle, 3-step methods
"""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
SCORES = ("loss", "zlib", "min_k", "min_k_plus_plus")


def row_numbers(results: dict) -> dict:
    """One row of the comparison, read from a run's results.json."""
    forget = results["metrics"].get("forget", {}).get("all", {})
    prefill = results.get("attacks", {}).get("prefill", {})
    quality, membership = results.get("forget_quality", {}), results.get("membership", {})
    ranking, probe = results.get("answer_ranking", {}), results.get("linear_probe", {})
    return {
        "forget_leakage": forget.get("leakage"), "forget_leakage_known": forget.get("leakage_known"), "forget_n": forget.get("n"),
        "prefill_leakage": prefill.get("leakage"), "prefill_leakage_known": prefill.get("leakage_known"),
        "truth_ratio": quality.get("truth_ratio"), "forget_quality": quality.get("forget_quality"), "ks_statistic": quality.get("ks_statistic"),
        "auc": {score: (membership.get(score) or {}).get("auc") for score in SCORES},
        "privleak": {score: (membership.get(score) or {}).get("privleak") for score in SCORES},
        "answer_rank1": ranking.get("rank1"), "answer_rank1_chance": ranking.get("chance"),
        "probe_layers": probe.get("layers"), "probe_recovery": probe.get("recovery"), "probe_chance": probe.get("chance"), "probe_gap": probe.get("gap"),
        "oracle": (results.get("oracle") or {}).get("model"),
    }


def markdown(summary: dict) -> str:
    from asru.report.writer import format_value, markdown_table

    rows = {name: summary["rows"][name] for name in summary["row_order"]}
    header = [
        "row", "leakage (known)", "prefill leakage (known)", "truth ratio", "forget quality (KS p)",
        *(f"AUC {s}" for s in SCORES), "PrivLeak (Min-K%)", "true answer ranked 1st", "probe recovery per layer",
    ]
    body = []
    for name, row in rows.items():
        probe = ", ".join(format_value(v) for v in row["probe_recovery"] or [])
        body.append([
            name, row["forget_leakage_known"], row["prefill_leakage_known"], row["truth_ratio"], row["forget_quality"],
            *(row["auc"][s] for s in SCORES), row["privleak"]["min_k"], row["answer_rank1"], probe or None,
        ])
    chance = next(iter(rows.values()), {})
    lines = [
        "# Gone or hidden: the target, its retrained oracle and unlearning methods",
        "",
        f"Written by `benchmarks/oracle.py` on {summary['date']}: {summary['setting']} setting, seed {summary['seed']}, "
        f"{summary['world']['subjects']} people (world {str(summary['world']['hash'])[:12]}), target {summary['target_model']['path']}, "
        f"oracle {summary['oracle_model']}" + (" (quick mode: CI-sized, not the benchmark's numbers)" if summary["config"]["quick"] else "") + ".",
        "",
        "The oracle is the target's recipe fine-tuned without the forget set: what never having seen it looks like. Leakage: the "
        "forget questions' answers contain the fact (over those the target answered; prefill: the answer begun with the fact's own "
        "opening words). Truth ratio: TOFU's mean of min(R, 1/R), 1 = the truth no likelier than other people's values of the fact; "
        "forget quality: the KS-test p-value of the truth ratios against the oracle's (high = indistinguishable). AUC: membership "
        "inference of the forget people against never-trained holdout people (0.5 = cannot tell them apart); PrivLeak: MUSE's "
        "relative difference to the oracle's AUC (0 = like it, negative = still recognisable). True answer ranked 1st: among five "
        f"wrong ones, given rather than generated (chance {format_value(chance.get('answer_rank1_chance'))}). Probe: the share of "
        f"forget facts a linear probe on each layer's hidden states names (chance {format_value(chance.get('probe_chance'))}).",
        "",
        markdown_table(header, body),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    from asru.bench import ORACLE_ROW, TARGET_ROW, BenchConfig, load_methods, prepare_inputs, run_bench, select_methods, summary_header
    from asru.io import atomic_write_json, atomic_write_text
    from asru.pipeline import resolve_attacks
    from asru.report.results import load_results
    from asru.world import load_world

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="asru,npo", help="comma-separated entries of configs/bench/methods.yaml (default asru,npo)")
    parser.add_argument("--setting", default="complete", choices=["complete", "selective", "personalized"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--subjects", type=int, default=None, help="people in the embedded world (default 40; 8 with --quick)")
    parser.add_argument("--quick", action="store_true", help="CI-sized: small world, tiny target and oracle, the methods file's quick overrides")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for oracle.json / oracle.md (the runs go to OUT/oracle_runs)")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    config = BenchConfig(
        out=str(args.out / "oracle_runs"), methods=methods, settings=[args.setting], seeds=[args.seed], subjects=args.subjects,
        attacks=["prefill"], quick=args.quick,
    )
    from rich.console import Console

    run_bench(config, Console(stderr=True))
    world_dir, target_dir, recipe = prepare_inputs(config)
    entries = select_methods(load_methods(config.methods_file, config.quick), config.methods, config.methods_file)
    runs = Path(config.resolved_out()) / "runs" / args.setting
    rows = {row: row_numbers(load_results(runs / row / f"seed{args.seed}")) for row in (TARGET_ROW, ORACLE_ROW, *methods)}
    header = summary_header(config, load_world(world_dir), world_dir, target_dir, recipe, resolve_attacks(config.attacks), entries)
    summary = {
        **header, "date": datetime.date.today().isoformat(), "setting": args.setting, "seed": args.seed,
        "oracle_model": rows[ORACLE_ROW]["oracle"], "rows": rows, "row_order": list(rows),  # (the JSON's keys are sorted)
        "runs": {row: str(runs / row / f"seed{args.seed}") for row in rows},
    }
    atomic_write_json(args.out / "oracle.json", summary)
    atomic_write_text(args.out / "oracle.md", markdown(summary))
    print(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
