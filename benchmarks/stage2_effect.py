"""Benchmark: what ASRU's stage 2 (GRPO) changes, read from the trade-off benchmark's finished runs.

For each setting, the `asru` runs (stage 1, then stage 2) against the `asru_stage1` runs of the same
seeds (the same stage 1, nothing after it): how many answers of each split the RL stage rewrote, the
judge's labels of the forget answers before and after it, why its rigid refusals are rigid (the judge's
reason: broken wording, the wrong fact's topic, another person named, or a template that names neither), and the share of its GRPO steps sampled at
entropy < 0.05 (every completion of the step alike, so no advantage). Reads
``RUNS/{setting}/{asru,asru_stage1}/seed*/answers.jsonl`` and ``training_rl.json`` (the run folders
`asru bench` leaves; they are not committed, this summary is). Writes ``OUT/stage2_effect.json`` and
``OUT/stage2_effect.md``; no model is loaded, it takes seconds.

    .venv/bin/python benchmarks/stage2_effect.py [--runs benchmarks/results/runs] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import datetime
import json
from collections import Counter
from pathlib import Path

from asru.eval.judge import RIGID_CAUSES, judge_many
from asru.io import atomic_write_json, atomic_write_text
from asru.report.writer import markdown_table

RESULTS = Path(__file__).parent / "results"
SETTINGS = ("complete", "selective", "personalized")
LOW_ENTROPY = 0.05  # nats a token: a step whose samples are all alike


def answers(folder: Path) -> dict[tuple[str, str], dict]:
    """A run's answers keyed by (item id, split)."""
    lines = (folder / "answers.jsonl").read_text(encoding="utf-8").splitlines()
    return {(row["id"], row.get("split")): row for row in map(json.loads, lines) if row}


def setting_effect(runs: Path, setting: str) -> dict | None:
    """The counts over every seed both rows finished (None where there is none)."""
    full, alone = runs / setting / "asru", runs / setting / "asru_stage1"
    seeds = sorted(p.name for p in full.glob("seed*") if (p / "answers.jsonl").is_file() and (alone / p.name / "answers.jsonl").is_file())
    if not seeds:
        return None
    rewritten, total, labels = Counter(), Counter(), {"asru_stage1": Counter(), "asru": Counter()}
    causes = {"asru_stage1": Counter(), "asru": Counter()}
    steps = low = 0
    for seed in seeds:
        after, before = answers(full / seed), answers(alone / seed)
        for key, row in after.items():
            if key not in before:
                continue
            split = key[1]
            total[split] += 1
            rewritten[split] += row["pred"] != before[key]["pred"]
            if split == "forget":
                labels["asru"][row.get("label")] += 1
                labels["asru_stage1"][before[key].get("label")] += 1
        for name, rows in (("asru", after), ("asru_stage1", before)):
            causes[name].update(rigid_causes([row for key, row in rows.items() if key[1] == "forget" and row.get("label") == "refusal_rigid"]))
        log_file = full / seed / "training_rl.json"
        if log_file.is_file():
            log = json.loads(log_file.read_text(encoding="utf-8"))["log"]
            steps += len(log)
            low += sum(row["entropy"] < LOW_ENTROPY for row in log)
    forget_n = total["forget"]
    return {
        "seeds": seeds,
        "rewritten": {split: {"changed": rewritten[split], "n": total[split]} for split in sorted(total)},
        "forget_labels": {row: {label: count / forget_n for label, count in counts.most_common()} for row, counts in labels.items()} if forget_n else {},
        "rigid_causes": {row: {cause: counts[cause] for cause in RIGID_CAUSES} for row, counts in causes.items()},
        "grpo_steps": steps,
        "low_entropy_steps": low / steps if steps else None,
    }


def rigid_causes(rows: list[dict]) -> Counter:
    """Why each rigid refusal is rigid, by the judge's reason (re-judged: answers.jsonl keeps the label only)."""
    return Counter(judgement.rigid_cause for judgement in judge_many(rows))


def markdown(summary: dict) -> str:
    lines = [
        "# What ASRU's stage 2 changes",
        "",
        f"Written by `benchmarks/stage2_effect.py` on {summary['date']} from `{summary['runs']}` (the trade-off benchmark's runs): "
        "`asru` (stage 1 + GRPO) against `asru_stage1` (the same stage 1 alone), seed by seed.",
        "",
    ]
    body = []
    for setting, effect in summary["settings"].items():
        forget, other = effect["rewritten"].get("forget", {}), effect["rewritten"].get("retain_other", {})
        share = lambda row, label: effect["forget_labels"].get(row, {}).get(label, 0.0)  # noqa: E731
        body.append([
            setting, len(effect["seeds"]),
            f"{forget.get('changed', 0)} / {forget.get('n', 0)}", f"{other.get('changed', 0)} / {other.get('n', 0)}",
            f"{share('asru_stage1', 'refusal_contextual'):.2f} → {share('asru', 'refusal_contextual'):.2f}",
            f"{share('asru_stage1', 'refusal_rigid'):.2f} → {share('asru', 'refusal_rigid'):.2f}",
            " / ".join(str(effect["rigid_causes"]["asru"][cause]) for cause in RIGID_CAUSES),
            "–" if effect["low_entropy_steps"] is None else f"{effect['low_entropy_steps']:.2f} of {effect['grpo_steps']}",
        ])
    header = ["setting", "seeds", "forget answers rewritten", "other people's answers rewritten", "contextual refusals (stage 1 → + stage 2)",
              "rigid refusals (stage 1 → + stage 2)", "ASRU's rigid refusals: broken wording / wrong topic / another person / template", f"GRPO steps at entropy < {LOW_ENTROPY}"]
    return "\n".join(lines + [markdown_table(header, body), ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=RESULTS / "runs", help="asru bench's run folders")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    settings = {setting: effect for setting in SETTINGS if (effect := setting_effect(args.runs, setting)) is not None}
    if not settings:
        raise SystemExit(f"{args.runs}: no setting has both asru and asru_stage1 runs finished on a common seed (run `asru bench` first)")
    summary = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "runs": str(args.runs), "settings": settings}
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "stage2_effect.json", summary)
    atomic_write_text(args.out / "stage2_effect.md", markdown(summary))
    print(f"wrote {args.out / 'stage2_effect.md'}")


if __name__ == "__main__":
    main()
