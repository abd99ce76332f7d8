"""``asru bench --architectures qwen3_vl,llava,idefics3``: the whole benchmark once per VLM family, side by side.

Each family gets its own target model (the same recipe at that family's default learning rate,
:data:`asru.train.finetune.FAMILY_RECIPES`), its own oracles and its own run folder
``out/<family>/`` with a full tradeoff.json/.md; every method runs at the same config in every
family (nothing is re-tuned per family: ASRU's layer and positions come from its own sweep).
``out/architectures.json/.md`` then put the families' rows next to each other and name, per setting,
the best-scoring method of each family.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from asru.errors import ConfigError
from asru.io import atomic_write_json, atomic_write_text

# the cross-family table's columns: (tradeoff.json metric key, title, kind for bench._fmt)
FAMILY_COLUMNS: list[tuple[str, str, str]] = [
    ("score", "unlearning score ↑", "score"),
    ("score_efficacy", "efficacy ↑", "score"),
    ("score_closeness", "closeness ↑", "score"),
    ("score_utility", "utility vs target ↑", "score"),
    ("forget_leakage", "forget leak (known) ↓", "rate"),
    ("retain_same_subject", "retain same (known) ↑", "rate"),
    ("retain_other", "retain other (known) ↑", "rate"),
    ("utility", "utility (known) ↑", "rate"),
    ("naturalness", "naturalness ↑", "score"),
    ("wall_seconds", "wall s", "seconds"),
]


def family_configs(config) -> dict[str, Any]:
    """One single-family BenchConfig per family, each into ``out/<family>/``; inputs that cannot work are one line, before any run."""
    if config.tune or config.sequential:
        option = "--tune" if config.tune else "--sequential"
        raise ConfigError(f"options --architectures and {option}: run {option} for one family at a time (--architectures <family>)")
    out = config.resolved_out()
    configs = {family: config.model_copy(update={"architectures": [family], "out": str(out / family)}) for family in config.architectures}
    if config.use_tuned:
        for family, sub in configs.items():
            if sub.resolved_tuned_file().is_file():
                raise ConfigError(
                    f"options --architectures and --tuned: {sub.resolved_tuned_file()} holds choices tuned on one target model, and every family "
                    "is compared at the same configs; pass --no-tuned (each method at its methods-file config)"
                )
    return configs


def run_architectures(config, console=None) -> dict:
    """Run the benchmark per family (each resumable, as one ``asru bench``), then write the side-by-side summary."""
    from asru.bench import run_bench

    summaries = {}
    for family, sub in family_configs(config).items():
        if console:
            console.rule(f"[bold]{family}[/bold]")
        summaries[family] = run_bench(sub, console)
    return write_architectures(config, summaries)


def _finetune_summary(target_path: str) -> dict[str, Any]:
    """The target's fine-tuning steps and seconds (its finetune.json), where it can be read."""
    try:
        data = json.loads((Path(target_path) / "finetune.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: data.get(key) for key in ("steps", "train_seconds", "final_loss", "torch_threads")}


def best_rows(summaries: dict[str, dict]) -> dict[str, dict[str, str | None]]:
    """Per setting and family: the unlearning method (not the target or oracle row) with the highest mean score."""
    from asru.bench import ORACLE_ROW, TARGET_ROW

    best: dict[str, dict[str, str | None]] = {}
    for family, summary in summaries.items():
        for setting, rows in summary["settings"].items():
            scores = {
                row: cell["metrics"]["score"]["mean"] for row, cell in rows.items()
                if row not in (TARGET_ROW, ORACLE_ROW) and (cell.get("metrics", {}).get("score") or {}).get("mean") is not None
            }
            best.setdefault(setting, {})[family] = max(scores, key=scores.get) if scores else None
    return best


def write_architectures(config, summaries: dict[str, dict]) -> dict:
    """architectures.json (each family's rows, target and fine-tuning time) and architectures.md into ``config.resolved_out()``."""
    first = next(iter(summaries.values()))
    out = config.resolved_out()
    families = {}
    for family, summary in summaries.items():
        families[family] = {
            "out": summary["config"]["out"],
            "target_model": {**summary["target_model"], "finetune": _finetune_summary(summary["target_model"]["path"])},
            "rows": summary["rows"],
            "settings": {
                setting: {row: {"seeds": cell["seeds"], **{key: cell.get("metrics", {}).get(key) for key, _, _ in FAMILY_COLUMNS}} for row, cell in rows.items()}
                for setting, rows in summary["settings"].items()
            },
            "significance": summary.get("significance", {}),
            "runs_finished": summary["runs_finished"],
            "runs_planned": summary["runs_planned"],
        }
    result = {
        "date": first["date"], "machine": first["machine"], "versions": first["versions"],
        "config": {**config.model_dump(mode="json"), "out": str(out)},
        "seeds": first["seeds"], "world": first["world"], "attacks": first["attacks"],
        "families": families,
        "best": best_rows(summaries),
    }
    atomic_write_json(out / "architectures.json", result)
    atomic_write_text(out / "architectures.md", architectures_markdown(result))
    return result


def architectures_markdown(result: dict, folder: Path | None = None) -> str:
    """The side-by-side tables; each family's full table linked relative to ``folder`` (default: where architectures.md is written)."""
    import os

    from asru.bench import _fmt
    from asru.report.writer import markdown_table

    asked = len(result["seeds"])
    world = result["world"]
    lines = [
        "# The benchmark on each VLM family" + (" (quick mode: CI-sized)" if result["config"]["quick"] else ""),
        "",
        f"Written by `asru bench --architectures` on {result['date']}. World: {world['subjects']} people (seed {world['seed']}); "
        f"seeds {', '.join(map(str, result['seeds']))}; every method at the same config in every family (nothing re-tuned per family). "
        "Each family's full table (every column and attack) is its folder's tradeoff.md; here the score and the main columns. "
        "Cells: mean ± 95 % CI half-width over seeds; (known): over what that family's target answered correctly.",
        "",
        "## Best method by unlearning score",
        "",
        markdown_table(["setting", *result["families"]], [[setting, *(f"`{row}`" if row else "–" for row in by_family.values())] for setting, by_family in result["best"].items()]),
    ]
    for family, data in result["families"].items():
        finetune = data["target_model"].get("finetune") or {}
        timing = f"{finetune['steps']} steps in {finetune['train_seconds']:.0f} s" if finetune.get("steps") and finetune.get("train_seconds") else "time not recorded"
        table_path = Path(os.path.relpath(Path(data["out"]) / "tradeoff.md", folder or result["config"]["out"])).as_posix()
        lines += ["", f"## {family}", "", f"Target `{Path(data['target_model']['path']).name}` ({timing}); full table: [{table_path}]({table_path}).", ""]
        body = []
        for setting, rows in data["settings"].items():
            for row, cell in rows.items():
                body.append([setting, row, f"{len(cell['seeds'])}/{asked}", *(_fmt(cell.get(key), kind, asked) for key, _, kind in FAMILY_COLUMNS)])
        lines.append(markdown_table(["setting", "method", "seeds", *(title for _, title, _ in FAMILY_COLUMNS)], body))
    return "\n".join(lines) + "\n"
