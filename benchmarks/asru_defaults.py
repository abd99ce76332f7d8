"""Benchmark: candidates for ASRU's defaults on the validation seed, each row the numbers its rule reads.

ASRU's defaults are chosen like every other hyper-parameter of the fair protocol: on a validation seed
(100) that no reported table uses, by a rule written down before the runs. The candidates, their rules
and the dates those were written are in ``configs/bench/asru_defaults.yaml``; this script runs what is
missing (resumable: one run folder per candidate, setting and seed under
benchmarks/results/asru_defaults_runs/, each an ``asru unlearn`` run with every attack against the
validation oracle) and writes benchmarks/results/asru_defaults.json and .md: per candidate and
setting the unlearning score and its parts against the target row of the same seed, the contextual
share of the forget answers (and of those naming the fact asked), the worst attack, PrivLeak and forget
quality. It reports; the rule decides. A rule restated in numbers under a candidate's ``decide:`` (:class:`Decision`)
is read by the script itself: the verdict, check by check, goes into the JSON and the table.
A candidate may name another ``method``: a tuned baseline run with what an adopted ASRU default gives
ASRU (the parity rows), so that no method gets training material the others are denied. A candidate may
name its own ``seeds`` (validation seeds, never a test seed): where a seed has no target row in the
tuning's folders, its target and oracle rows are built first (``asru bench`` with no method, into
benchmarks/results/asru_defaults_reference/; the oracles are cached like every other).

    .venv/bin/python benchmarks/asru_defaults.py                       # run what is missing, then the tables
    .venv/bin/python benchmarks/asru_defaults.py --candidates erase2_floor
    .venv/bin/python benchmarks/asru_defaults.py --report-only
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from pydantic import ValidationError, model_validator
from rich.console import Console

from asru.bench import run_values
from asru.config import StrictConfig, describe_validation_error, read_yaml
from asru.errors import ConfigError
from asru.eval.judge import judge_many
from asru.eval.rejudge import judged_by_older_rules, rejudge_run
from asru.eval.score import MODEL_ATTACKS, run_score
from asru.io import atomic_write_json, atomic_write_text
from asru.report.plots import plot_candidates
from asru.report.writer import markdown_table

HERE = Path(__file__).parent
RESULTS = HERE / "results"
RUNS = RESULTS / "asru_defaults_runs"
CANDIDATES_FILE = HERE.parent / "configs" / "bench" / "asru_defaults.yaml"
VALIDATION_TARGET_ROWS = RESULTS / "runs" / "validation"  # asru bench --tune's target rows: <setting>/target/seed<N>
REFERENCE = RESULTS / "asru_defaults_reference"  # asru bench's target and oracle rows of the seeds the tuning has none of


def load_candidates(path: Path) -> dict:
    data = read_yaml(path)
    if not isinstance(data.get("candidates"), list):
        raise ConfigError(f"{path}: needs a 'candidates' list")
    for key in ("world", "model", "seeds", "settings"):
        if key not in data:
            raise ConfigError(f"{path}: missing '{key}'")
    names = [c.get("name") for c in data["candidates"]]
    if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
        raise ConfigError(f"{path}: every candidate needs a unique 'name'")
    for candidate in data["candidates"]:
        if "decide" in candidate:
            try:
                candidate["decide"] = Decision.model_validate(candidate["decide"])  # parsed once, here; main reads it
            except ValidationError as error:
                raise ConfigError(describe_validation_error(error, f"{path}: candidate {candidate['name']}: field 'decide'")) from None
            decide = candidate["decide"]
            for field, named in (("against", [decide.against]), ("pooled_with", [n for pair in (decide.pooled_with or {}).items() for n in pair])):
                for other in named:
                    if other not in names:
                        raise ConfigError(f"{path}: candidate {candidate['name']}: field 'decide.{field}' names {other!r}, which is no candidate's name")
    if data.get("current") is not None and data["current"] not in names:
        raise ConfigError(f"{path}: 'current' names {data['current']!r}, which is no candidate's name")
    return data


def run_folder(name: str, setting: str, seed: int) -> Path:
    return RUNS / name / setting / f"seed{seed}"


def finished(name: str, setting: str, seed: int) -> bool:
    return (run_folder(name, setting, seed) / "results.json").is_file()  # the pipeline writes it last


def overrides(candidate: dict) -> dict:
    """The candidate's UnlearnConfig fields (on top of ``method: asru``; a candidate may name its own), without its bookkeeping."""
    return {k: v for k, v in candidate.items() if k not in ("name", "note", "rule", "written", "settings", "seeds", "decide")}


def candidate_seeds(data: dict, candidate: dict) -> list[int]:
    """The candidate's own validation seeds, else the file's; a test seed is refused (it would report what chose)."""
    from asru.bench import TEST_SEEDS

    seeds = candidate.get("seeds", data["seeds"])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(seed, int) for seed in seeds):
        raise ConfigError(f"candidate {candidate['name']}: field 'seeds' must be a non-empty list of integers, got {seeds!r}")
    reported = sorted(set(seeds) & set(TEST_SEEDS))
    if reported:
        raise ConfigError(f"candidate {candidate['name']}: field 'seeds': {reported[0]} is a test seed (asru.bench.TEST_SEEDS); defaults are chosen on validation seeds only")
    return seeds


def run_candidate(data: dict, candidate: dict, setting: str, seed: int, console: Console) -> None:
    """One ``asru unlearn`` run (resumes from its checkpoint); the pipeline writes results.json last."""
    from asru.pipeline import unlearn
    from asru.train.unlearn import UnlearnConfig

    config = UnlearnConfig.model_validate({"method": "asru", **overrides(candidate), "setting": setting, "seed": seed})
    console.print(f"running {candidate['name']} / {setting} / seed {seed}")
    unlearn(Path(data["model"]).expanduser(), Path(data["world"]).expanduser(), run_folder(candidate["name"], setting, seed), config, attacks=["all"], console=console)


def measure(folder: Path, target: dict | None) -> dict:
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    if judged_by_older_rules(results):  # judged again first: candidates compare on one judge
        rejudge_run(folder)
        results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    values = run_values(results)
    score = run_score(values, target) or {}
    labels = Counter()
    forget = []
    with open(folder / "answers.jsonl", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record.get("split") == "forget" and record.get("label"):
                labels[record["label"]] += 1
                forget.append(record)
    # a contextual refusal that names the fact asked ("... where X was born."), not only the person ("... who X is."):
    # the judge's reasons are not in answers.jsonl, so its rules are asked again here
    names_fact = sum(v.names_fact for v in judge_many(forget))
    attacks = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("attack.") and v is not None}
    prompt_attacks = {k: v for k, v in attacks.items() if k not in MODEL_ATTACKS}  # the ones the score's efficacy reads
    worst = max(prompt_attacks.items(), key=lambda item: item[1]) if prompt_attacks else (None, None)
    return {
        "score": score.get("score"), "efficacy": score.get("efficacy"), "closeness": score.get("closeness"), "utility": score.get("utility"),
        "forget_leakage": values.get("forget_leakage"), "worst_attack": worst[0], "worst_attack_leakage": worst[1],
        "contextual_share": labels["refusal_contextual"] / sum(labels.values()) if labels else None,
        "gibberish_share": labels["gibberish"] / sum(labels.values()) if labels else None,
        "names_fact_share": names_fact / len(forget) if forget else None,
        "refusal": results.get("metrics", {}).get("forget", {}).get("all", {}).get("refusal_rate_known"),
        "privleak": results.get("membership", {}).get("privleak"), "forget_quality": results.get("forget_quality", {}).get("forget_quality"),
        "relearn": attacks.get("relearn"), "probe_gap": results.get("linear_probe", {}).get("gap"), "labels": dict(labels.most_common()),
    }


def mean_over_seeds(per_seed: list[dict]) -> dict:
    """One seed: its numbers; more: the mean of each number (names and label counts: the first seed's)."""
    merged = dict(per_seed[0])
    for key, value in merged.items():
        if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            numbers = [p[key] for p in per_seed if isinstance(p[key], (int, float))]
            merged[key] = statistics.fmean(numbers) if numbers else None
    return merged


def target_values(setting: str, seed: int) -> dict | None:
    """The target row's values at this seed: its run folder (the tuning's, else this script's), or where that is gone, what validation.json recorded."""
    for path in (VALIDATION_TARGET_ROWS / setting / "target" / f"seed{seed}" / "results.json", REFERENCE / "runs" / setting / "target" / f"seed{seed}" / "results.json"):
        if path.is_file():
            return run_values(json.loads(path.read_text(encoding="utf-8")))
    recorded = RESULTS / "validation.json"
    if not recorded.is_file():
        return None
    cell = json.loads(recorded.read_text(encoding="utf-8")).get("settings", {}).get(setting, {}).get("target", {})
    return cell.get("per_seed", {}).get(str(seed))


def build_reference_rows(data: dict, setting: str, seed: int, console: Console, source: Path = CANDIDATES_FILE) -> None:
    """The target and oracle rows of a seed the tuning never ran (the oracle fine-tuned once per machine, cached).

    ``asru bench`` with no method builds them on its own 40-person world and target; that must be the
    file's ``model``, or the candidate would be scored against another model's row.
    """
    from asru.bench import BenchConfig, run_bench

    run_bench(BenchConfig(out=str(REFERENCE), methods=[], seeds=[seed], settings=[setting], oracle_row=True, use_tuned=False, workers=1), console)
    record = json.loads((REFERENCE / "runs" / setting / "target" / f"seed{seed}" / "bench_run.json").read_text(encoding="utf-8"))
    if record.get("target") != Path(data["model"]).expanduser().name:
        raise ConfigError(f"{source}: 'model' is {data['model']}, but asru bench's target is {record.get('target')}: the reference rows of seed {seed} would be another model's")


class Decision(StrictConfig):
    """A rule in numbers (a candidate's ``decide:``), read by :func:`verdict` so that no one reads a rule by eye.

    Gains and drops are the candidate's against ``against`` (a candidate of the same file: means over the settings, or
    per setting where it says so); a field left out is not checked. It restates the candidate's prose ``rule``."""

    against: str
    score_gain_at_least: float | None = None  # mean score minus against's (negative: a loss allowed)
    contextual_gain_at_least: float | None = None  # mean contextual share minus against's
    abs_privleak_drop_at_least: float | None = None  # against's mean |PrivLeak| minus the candidate's
    utility_drop_at_most: float | None = None  # per setting: against's utility part minus the candidate's
    worst_attack_rise_at_most: float | None = None  # per setting: the candidate's worst prompt attack minus against's
    worst_attack_at_most: float | None = None  # per setting: the candidate's worst prompt attack
    # a re-test on another validation seed: {candidate: its against} of the earlier seed(s), whose mean-score differences are
    # averaged with this pair's, and the least that average may be (a rule over both seeds, not the new seed alone)
    pooled_with: dict[str, str] | None = None
    pooled_score_gain_at_least: float | None = None

    @model_validator(mode="after")
    def _pooled_needs_both(self):
        if (self.pooled_with is None) != (self.pooled_score_gain_at_least is None):
            raise ValueError("pooled_with and pooled_score_gain_at_least go together: give both or neither")
        return self


def mean_abs_privleak(row: dict) -> float | None:
    """A candidate row's mean |PrivLeak| over its settings (None if a setting has none: it cannot be compared)."""
    values = [m.get("privleak") for m in row["settings"].values()]
    return statistics.fmean(abs(v) for v in values) if values and all(v is not None for v in values) else None


def verdict(summary: dict, name: str, decision: Decision, settings: list[str]) -> dict | None:
    """Each check of ``decision`` on the measured numbers and whether all pass; None until both rows are measured in every one of
    ``settings`` (the candidate's own: a rule for one setting, like a baseline's parity, is decided on that setting's means)."""
    rows = summary["candidates"]
    pairs = [(name, decision.against), *(decision.pooled_with or {}).items()]
    if not all(rows.get(n, {}).get("settings", {}).get(s, {}).get("score") is not None for pair in pairs for n in pair for s in settings):
        return None
    row, base = ({"settings": {s: rows[n]["settings"][s] for s in settings}} for n in (name, decision.against))
    for r in (row, base):
        r["mean_score"] = statistics.fmean(m["score"] for m in r["settings"].values())
        r["mean_contextual"] = statistics.fmean(m.get("contextual_share") or 0.0 for m in r["settings"].values())

    checks = []

    def check(what, value, at_least=None, at_most=None):
        """One check: ``value`` at least ``at_least`` or at most ``at_most`` (a missing value fails)."""
        if at_most is None:
            limit, passed = f">= {at_least}", value is not None and value >= at_least - 1e-12
        else:
            limit, passed = f"<= {at_most}", value is not None and value <= at_most + 1e-12
        checks.append({"check": what, "value": None if value is None else round(value, 4), "limit": limit, "passed": passed})

    d = decision
    if d.score_gain_at_least is not None:
        check("mean score gain", row["mean_score"] - base["mean_score"], at_least=d.score_gain_at_least)
    if d.pooled_score_gain_at_least is not None:
        gains = [statistics.fmean(rows[a]["settings"][s]["score"] - rows[b]["settings"][s]["score"] for s in settings) for a, b in pairs]
        check(f"mean score gain over {len(pairs)} seeds' pairs", statistics.fmean(gains), at_least=d.pooled_score_gain_at_least)
    if d.contextual_gain_at_least is not None:
        check("mean contextual share gain", row["mean_contextual"] - base["mean_contextual"], at_least=d.contextual_gain_at_least)
    if d.abs_privleak_drop_at_least is not None:
        ours, theirs = mean_abs_privleak(row), mean_abs_privleak(base)
        check("mean |PrivLeak| drop", None if ours is None or theirs is None else theirs - ours, at_least=d.abs_privleak_drop_at_least)
    for setting, m in row["settings"].items():
        b = base["settings"][setting]
        if d.utility_drop_at_most is not None:
            check(f"{setting}: utility part drop", b["utility"] - m["utility"], at_most=d.utility_drop_at_most)
        if d.worst_attack_rise_at_most is not None:
            check(f"{setting}: worst attack rise", (m["worst_attack_leakage"] or 0.0) - (b["worst_attack_leakage"] or 0.0), at_most=d.worst_attack_rise_at_most)
        if d.worst_attack_at_most is not None:
            check(f"{setting}: worst attack", m["worst_attack_leakage"] or 0.0, at_most=d.worst_attack_at_most)
    return {"against": d.against, "passed": all(c["passed"] for c in checks), "checks": checks}


def candidate_points(summary: dict) -> dict[str, dict]:
    """Per candidate measured in every setting: its mean score, mean |PrivLeak| and mean contextual share (the plot's points)."""
    points = {}
    for name, row in summary["candidates"].items():
        if row.get("mean_score") is None:
            continue
        points[name] = {"score": row["mean_score"], "contextual": row.get("mean_contextual"), "abs_privleak": mean_abs_privleak(row)}
    return points


def previous_summary() -> dict:
    """The committed asru_defaults.json: its numbers stand for candidates whose run folders (not committed) are gone."""
    path = RESULTS / "asru_defaults.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def markdown(summary: dict) -> str:
    def cell(value, digits=3):
        return "–" if value is None else f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    lines = [
        "# ASRU's defaults on the validation seed", "",
        f"Written by `benchmarks/asru_defaults.py`. World `{summary['world']}`, target `{summary['model']}`, validation seeds "
        f"{summary['seeds']} (never reported elsewhere). Score and parts as `asru.eval.score` (utility against the target row of "
        "the same seed); one run per cell. Candidates, rules and the dates the rules were written: `configs/bench/asru_defaults.yaml` "
        "(a candidate naming another method, `parity_*`: a tuned baseline given what an adopted ASRU default gives ASRU).",
    ]
    if summary.get("current"):
        lines += ["", f"Today's defaults are candidate `{summary['current']}`'s fields. Every candidate measured in every setting, its mean score "
                  "against its mean |PrivLeak| and its mean contextual share: ![candidates](asru_defaults.png)"]
    header = ["candidate", "setting", "score ↑", "efficacy ↑", "closeness ↑", "utility ↑", "leakage ↓", "worst prompt attack", "relearning", "refusal, all forms ↑", "contextual ↑", "names the fact ↑", "gibberish ↓", "PrivLeak (0 best)", "forget quality ↑", "probe gap ↓"]
    body = []
    for name, row in summary["candidates"].items():
        for setting, m in row["settings"].items():
            body.append([name, setting, *(cell(m[k]) for k in ("score", "efficacy", "closeness", "utility", "forget_leakage")),
                         f"{m['worst_attack']} {cell(m['worst_attack_leakage'])}", cell(m["relearn"]), cell(m.get("refusal"), 2),
                         cell(m["contextual_share"], 2), cell(m.get("names_fact_share"), 2), cell(m.get("gibberish_share"), 2), cell(m["privleak"]), cell(m["forget_quality"], 4), cell(m.get("probe_gap"), 2)])
        if row.get("mean_score") is not None:
            body.append([name, "**mean**", f"**{row['mean_score']:.3f}**", "", "", "", "", "", "", "", cell(row.get("mean_contextual"), 2), cell(row.get("mean_names_fact"), 2), "", "", "", ""])
    lines += ["", markdown_table(header, body), "", "## Candidates and rules", ""]
    for name, row in summary["candidates"].items():
        seeds = f" (seeds {', '.join(map(str, row['seeds']))}, mean over them)" if row.get("seeds", summary["seeds"]) != summary["seeds"] else ""
        decided = row.get("verdict")
        outcome = ""
        if decided:
            failed = [c["check"] for c in decided["checks"] if not c["passed"]]
            outcome = f" — **verdict, computed from its `decide:` against {decided['against']}: {'passed' if decided['passed'] else 'failed'}**" + (f" ({', '.join(failed)})" if failed else "")
        lines.append(f"- **{name}**{seeds}: {row['note']}" + (f" — rule (written {row['written']}): {row['rule']}" if row.get("rule") else "") + outcome)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", default="", help="comma-separated candidate names (default: all)")
    parser.add_argument("--file", type=Path, default=CANDIDATES_FILE)
    parser.add_argument("--report-only", action="store_true", help="tables from the finished runs, run nothing")
    args = parser.parse_args(argv)
    console = Console()
    data = load_candidates(args.file)
    wanted = [n for n in args.candidates.split(",") if n]
    unknown = sorted(set(wanted) - {c["name"] for c in data["candidates"]})
    if unknown:
        raise ConfigError(f"--candidates: unknown {', '.join(unknown)} (in {args.file}: {', '.join(c['name'] for c in data['candidates'])})")
    summary = {"world": data["world"], "model": data["model"], "seeds": data["seeds"], "current": data.get("current"), "candidates": {}}
    before = previous_summary()
    # the model folder is named by its recipe and its world's content hash: the same model, the same world wherever it is cached
    same_inputs = all(before.get(k) == data[k] for k in ("model", "seeds"))
    for candidate in data["candidates"]:
        settings = candidate.get("settings", data["settings"])
        seeds = candidate_seeds(data, candidate)
        for setting in settings:
            for seed in seeds:
                if not args.report_only and (not wanted or candidate["name"] in wanted) and not finished(candidate["name"], setting, seed):
                    if target_values(setting, seed) is None:
                        build_reference_rows(data, setting, seed, console, args.file)
                    run_candidate(data, candidate, setting, seed, console)
        measured = {}
        for setting in settings:
            per_seed = [measure(run_folder(candidate["name"], setting, seed), target_values(setting, seed)) for seed in seeds if finished(candidate["name"], setting, seed)]
            if per_seed:
                measured[setting] = mean_over_seeds(per_seed)
            else:  # no folder here (a lost or fresh machine): the committed numbers of the same candidate, world, model and seeds
                old = before.get("candidates", {}).get(candidate["name"], {}) if same_inputs else {}
                if old.get("overrides") == overrides(candidate) and old.get("seeds", data["seeds"]) == seeds and setting in old.get("settings", {}):
                    measured[setting] = old["settings"][setting]
        complete = len(measured) == len(data["settings"]) and all(m["score"] is not None for m in measured.values())
        summary["candidates"][candidate["name"]] = {
            "note": candidate.get("note", ""), "rule": candidate.get("rule"), "written": str(candidate["written"]) if candidate.get("written") else None,
            "overrides": overrides(candidate), "seeds": seeds,
            "settings": measured,
            "mean_score": statistics.fmean(m["score"] for m in measured.values()) if complete else None,
            "mean_contextual": statistics.fmean(m["contextual_share"] or 0.0 for m in measured.values()) if complete else None,
            "mean_names_fact": statistics.fmean(m["names_fact_share"] for m in measured.values()) if complete and all(m.get("names_fact_share") is not None for m in measured.values()) else None,
        }
    for candidate in data["candidates"]:
        if "decide" in candidate:
            summary["candidates"][candidate["name"]]["verdict"] = verdict(summary, candidate["name"], candidate["decide"], candidate.get("settings", data["settings"]))
    atomic_write_json(RESULTS / "asru_defaults.json", summary)
    atomic_write_text(RESULTS / "asru_defaults.md", markdown(summary))
    plot_candidates(candidate_points(summary), RESULTS / "asru_defaults.png", data.get("current"))
    console.print(f"wrote {RESULTS / 'asru_defaults.md'}")
    return summary


if __name__ == "__main__":
    main()
