"""``asru report RUN1 RUN2 ...``: one comparison table and the cross-run plots."""

from __future__ import annotations

from pathlib import Path

from asru.io import atomic_write_json, atomic_write_text
from asru.report.plots import plot_attacks, plot_forget_vs_retain, plot_labels
from asru.report.results import load_results
from asru.report.writer import headline, markdown_table


def compare_runs(runs: list[Path], out: Path) -> str:
    """Write comparison.json, comparison.md and plots into ``out``; return the Markdown table."""
    loaded = {}
    for run in runs:
        results = load_results(run)
        method, folder = results.get("method", "model"), Path(run).name
        name = folder if folder == method else f"{method}@{folder}"  # runs/x/npo is "npo", runs/npo_lr3e-4 "npo@npo_lr3e-4"
        loaded[name] = results
    rows = {name: headline(results) for name, results in loaded.items()}
    columns = sorted({c for row in rows.values() for c in row}, key=lambda c: (c.startswith("attack."), c))
    table = markdown_table(["run"] + columns, [[name] + [row.get(c) for c in columns] for name, row in rows.items()])
    out = Path(out)
    atomic_write_json(out / "comparison.json", rows)
    plot_forget_vs_retain(loaded, out / "forget_vs_retain.png")
    plot_labels(loaded, out / "labels.png")
    if any(r.get("attacks") for r in loaded.values()):
        plot_attacks(loaded, out / "attacks.png")
    atomic_write_text(out / "comparison.md", f"# Comparison\n\n{table}\n\n![](forget_vs_retain.png)\n\n![](labels.png)\n")
    return table
