"""Re-judge finished runs with today's offline judge, from the answers they stored.

Why: the judge's rules improve (:data:`asru.eval.judge.RULES_VERSION`), and a benchmark whose runs
were judged by different rules compares nothing. The rules read only the text of each answer and of
its question, so a run's ``answers.jsonl`` holds all they need but the distractors (the other values
of each fact, from the run's world): no model is loaded and nothing is generated again. Only the
judge's part changes — every judged answer's ``label`` and ``naturalness``, each split's
``metrics[split].judge`` and the target's — the rates (leakage, refusal…) and the measures against
the oracle do not depend on the judge and are kept.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Iterable

from asru.errors import ConfigError, DataError
from asru.eval.evaluate import JUDGED_KINDS, fact_values, judge_distractors
from asru.eval.judge import RULES_VERSION, judge_many, summarize
from asru.report.results import load_answers, load_results

ANSWERS = "answers.jsonl"


def judged_by_older_rules(results: dict) -> bool:
    """A judge summary in ``results`` (a split's or the target's) written by rules before :data:`RULES_VERSION`."""
    sections = [results.get("metrics") or {}, ((results.get("target") or {}).get("metrics")) or {}]
    return any(
        isinstance(split, dict) and isinstance(split.get("judge"), dict) and split["judge"].get("rules_version", 1) < RULES_VERSION
        for section in sections for split in section.values()
    )


def rejudge_run(run_dir: str | Path, world_dir: str | Path | None = None, force: bool = False) -> bool:
    """Re-judge one finished run folder in place (results.json, answers.jsonl, the labels plot, the report).

    Returns False, touching nothing, when the run was judged by today's rules already (unless ``force``).
    ``world_dir``: the run's world when it has moved since (default: the path results.json records).
    """
    from asru.report.writer import rewrite_judgements
    from asru.world import load_world

    run_dir = Path(run_dir)
    results = load_results(run_dir)
    if not force and not judged_by_older_rules(results):
        return False
    if results.get("judge", "rules") != "rules":
        raise ConfigError(f"{run_dir}: judged by {results['judge']!r}, not the offline rules; re-run `asru eval` with that judge instead")
    answers = load_answers(run_dir)
    if not answers:
        raise DataError(f"{run_dir / ANSWERS}: no answers to judge (is {run_dir} a finished run?)")
    judged = [record for record in answers if record.get("kind") in JUDGED_KINDS]
    if any(record.get("perplexity") is not None for record in judged):
        # the target's answers' perplexities were not stored: its judge summary could not be redone the same way
        raise ConfigError(f"{run_dir}: evaluated with judge_perplexity, whose target perplexities are not stored; re-run `asru eval`")
    world_path = world_dir or (results.get("world") or {}).get("path")
    if not world_path or not Path(world_path).is_dir():
        raise DataError(f"{run_dir}: its world {world_path!r} is not there (give --world)")
    values = fact_values(load_world(world_path))

    def judged_split(records: list[dict], pred_key: str) -> tuple[list, dict]:
        with_distractors = [{**r, "pred": r.get(pred_key) or "", "distractors": judge_distractors(values, r.get("fact"), r.get("gold"))} for r in records]
        judgements = judge_many(with_distractors)
        return judgements, summarize(judgements)

    by_split: dict[str, list[dict]] = {}
    for record in judged:
        by_split.setdefault(record.get("split", ""), []).append(record)
    metrics = results.get("metrics") or {}
    target_metrics = ((results.get("target") or {}).get("metrics")) or {}
    for split, records in by_split.items():
        judgements, summary = judged_split(records, "pred")
        for record, judgement in zip(records, judgements):
            record["label"], record["naturalness"] = judgement.label, judgement.naturalness
        if isinstance(metrics.get(split), dict) and "judge" in metrics[split]:
            metrics[split]["judge"] = summary
        target_split = target_metrics.get(split)
        if isinstance(target_split, dict) and "judge" in target_split and all("target_answer" in r for r in records):
            target_split["judge"] = judged_split(records, "target_answer")[1]
    rewrite_judgements(run_dir, results, answers)
    return True


def run_folders(paths: Iterable[str | Path]) -> list[Path]:
    """The run folders (with a results.json and an answers.jsonl) at or under each path, in order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise DataError(f"{path}: no such run folder")
        # glob follows linked folders (a benchmark's runs gathered by symlinks), Path.rglob does not
        candidates = [path] if (path / "results.json").is_file() else sorted(Path(p).parent for p in glob.glob(str(path / "**" / "results.json"), recursive=True))
        found.extend(p for p in candidates if (p / ANSWERS).is_file() and p not in found)
    return found


def rejudge_runs(folders: Iterable[str | Path], console=None, world_dir: str | Path | None = None, force: bool = False) -> list[Path]:
    """Re-judge each run folder judged by older rules (all with ``force``); returns those re-judged.

    A progress bar on ``console``: a benchmark's few hundred runs take a few seconds each.
    """
    folders = [Path(folder) for folder in folders]
    if console is not None:
        from rich.progress import track

        folders = track(folders, description=f"re-judging runs judged by rules before {RULES_VERSION}", console=console, transient=True)
    # rejudge_run reads each results.json once and leaves a run judged by today's rules untouched
    return [folder for folder in folders if rejudge_run(folder, world_dir, force=force)]
