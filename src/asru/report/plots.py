"""Plots (matplotlib, Agg): forget-vs-retain scatter, answer-label bars, attack leakage, training curves.

Each takes ``{run name: results}`` so that a single run and an ``asru report`` comparison of
many runs draw with the same code.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from asru.io import atomic_write_bytes  # noqa: E402

LABEL_COLOURS = {
    "correct": "#4c9a2a",
    "refusal_contextual": "#2a6f9a",
    "refusal_rigid": "#8fb8d8",
    "leak": "#c0392b",
    "hallucination": "#e67e22",
    "gibberish": "#7f7f7f",
}


def _save(figure, path: Path) -> Path:
    import io

    buffer = io.BytesIO()
    figure.tight_layout(rect=(0, 0, 1, 0.95) if figure.get_suptitle() else (0, 0, 1, 1))  # room for a figure title
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _get(results: dict, split: str, metric: str) -> float | None:
    return results.get("metrics", {}).get(split, {}).get("all", {}).get(metric)


def plot_forget_vs_retain(runs: dict[str, dict], path: Path) -> Path:
    """x: forget leakage (lower is better), y: retain accuracy (higher is better)."""
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    for name, results in runs.items():
        x, y = _get(results, "forget", "leakage"), _get(results, "retain_other", "exact_match")
        if x is None or y is None:
            continue
        axis.scatter([x], [y], s=60)
        axis.annotate(name, (x, y), textcoords="offset points", xytext=(5, 5), fontsize=9)
    axis.set_xlabel("forget leakage (lower is better)")
    axis.set_ylabel("retain (other subjects) exact match")
    axis.set_xlim(-0.05, 1.05)
    axis.set_ylim(-0.05, 1.05)
    axis.grid(alpha=0.3)
    axis.set_title("forgetting vs keeping")
    return _save(figure, path)


def plot_labels(runs: dict[str, dict], path: Path, split: str = "forget") -> Path:
    """Stacked bars of the judge's answer labels on a split, one bar per run."""
    figure, axis = plt.subplots(figsize=(max(4.5, 1.1 * len(runs) + 2), 4))
    names = list(runs)
    bottoms = [0.0] * len(names)
    for label, colour in LABEL_COLOURS.items():
        values = [runs[n].get("metrics", {}).get(split, {}).get("judge", {}).get("labels", {}).get(label, 0.0) for n in names]
        axis.bar(names, values, bottom=bottoms, color=colour, label=label)
        bottoms = [b + v for b, v in zip(bottoms, values)]
    axis.set_ylabel(f"fraction of {split} answers")
    axis.set_ylim(0, 1.0)
    axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1, 1))
    axis.set_title(f"answer labels on {split}")
    plt.setp(axis.get_xticklabels(), rotation=30, ha="right")
    return _save(figure, path)


def plot_attacks(runs: dict[str, dict], path: Path, title: str = "leakage under attack") -> Path:
    """Heat map of forget leakage per attack (rows) and run (columns)."""
    attacks = sorted({a for r in runs.values() for a in r.get("attacks", {})})
    names = list(runs)
    grid = [[runs[n].get("attacks", {}).get(a, {}).get("leakage", float("nan")) for n in names] for a in attacks]
    figure, axis = plt.subplots(figsize=(max(4, 1.0 * len(names) + 3), 0.45 * len(attacks) + 1.5))
    image = axis.imshow(grid, vmin=0, vmax=1, cmap="Reds", aspect="auto")
    axis.set_xticks(range(len(names)), names, rotation=30, ha="right")
    axis.set_yticks(range(len(attacks)), attacks)
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if value == value:
                axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8, color="white" if value > 0.6 else "black")  # readable on the dark cells
    figure.colorbar(image, ax=axis, label="leakage")
    axis.set_title(title)
    return _save(figure, path)


def plot_training(log: list[dict], path: Path) -> Path:
    """Every logged scalar against the step, one panel each."""
    keys = [k for k in log[0] if k != "step" and isinstance(log[0][k], (int, float))]
    figure, axes = plt.subplots(len(keys), 1, figsize=(6, 1.8 * len(keys) + 0.5), sharex=True, squeeze=False)
    steps = [row["step"] for row in log]
    for axis, key in zip(axes[:, 0], keys):
        axis.plot(steps, [row.get(key, float("nan")) for row in log])
        axis.set_ylabel(key, fontsize=8)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    return _save(figure, path)


def _panels(count: int, width: float = 4.6, height: float = 4.2):
    figure, axes = plt.subplots(1, count, figsize=(width * count, height), squeeze=False)
    return figure, axes[0]


def plot_tradeoff_scatter(panels: dict[str, dict[str, dict]], path: Path, fronts: dict[str, list[str]] | None = None) -> Path:
    """One panel per setting: forget leakage (x) against retain accuracy (y), mean ± std over seeds.

    ``panels[setting][row] = {"x": (mean, std), "y": (mean, std), "y_label": str, "partial": bool}``;
    a partial point (fewer seeds than asked) is drawn hollow. ``fronts[setting]``: the rows on the
    Pareto front (by x), joined by a dashed staircase.
    """
    figure, axes = _panels(max(1, len(panels)))
    names = list(dict.fromkeys(name for rows in panels.values() for name in rows))  # one colour and marker per row, in every panel
    markers = "osD^vP*Xhp<>"
    handles = {}
    for axis, (setting, rows) in zip(axes, panels.items()):
        y_label = "retain exact match"
        for name, point in rows.items():
            (x, x_err), (y, y_err) = point["x"], point["y"]
            if x is None or y is None:
                continue
            index = names.index(name)
            colour = plt.get_cmap("tab20")((2 * index) % 20 + (index // 10) % 2)  # the dark shades first
            handles[name] = axis.errorbar([x], [y], xerr=[x_err or 0.0], yerr=[y_err or 0.0], fmt=markers[index % len(markers)], ms=7, capsize=3,
                                          color=colour, mfc="white" if point.get("partial") else colour, alpha=0.85)
            y_label = point.get("y_label", y_label)
        front = [rows[name] for name in (fronts or {}).get(setting, []) if name in rows]
        if len(front) > 1:
            axis.step([p["x"][0] for p in front], [p["y"][0] for p in front], where="post", ls="--", color="grey", lw=1, zorder=0, label="_front")
        axis.set_xlabel("forget leakage (lower is better)")
        axis.set_ylabel(f"{y_label}\n(higher is better)", fontsize=9)  # two lines: one ran past the panel into the title
        axis.set_xlim(-0.05, 1.05)
        axis.set_ylim(-0.05, 1.05)
        axis.grid(alpha=0.3)
        axis.set_title(setting)
    if handles:
        axes[-1].legend(list(handles.values()), list(handles), fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1))
    figure.suptitle("forgetting vs keeping (mean ± std over seeds; hollow: partial; dashed: the methods' Pareto front)", fontsize=10)
    return _save(figure, path)


def plot_candidates(points: dict[str, dict], path: Path, current: str | None = None) -> Path:
    """Validation candidates side by side: mean |PrivLeak| (x) and the mean share of contextual refusals (right panel, x)
    against the mean unlearning score (y), one labelled point each; ``current`` (today's defaults) ringed.

    ``points[name] = {"score": float, "abs_privleak": float | None, "contextual": float | None}``: two of issue 21's goals
    that the score does not read, against the score, so that a trade between them shows at a glance.
    """
    figure, axes = _panels(2, width=6.0, height=5.0)
    for axis, key, label, goal in ((axes[0], "abs_privleak", "mean |PrivLeak| (0 best)", 0.10), (axes[1], "contextual", "mean contextual share of forget answers", 0.80)):
        shown = {name: p for name, p in points.items() if p.get(key) is not None and p.get("score") is not None}
        for name, p in shown.items():
            ringed = name == current
            axis.scatter([p[key]], [p["score"]], s=70 if ringed else 28, color="#c0392b" if ringed else "#2a6f9a",
                         edgecolors="black" if ringed else "none", zorder=3 if ringed else 2)
            axis.annotate(name, (p[key], p["score"]), fontsize=6, xytext=(3, 2), textcoords="offset points", alpha=0.8)
        axis.axvline(goal, ls="--", color="grey", lw=1)
        axis.set_xlabel(f"{label}; dashed: issue 21's goal")
        axis.set_ylabel("mean unlearning score (higher is better)")
        axis.grid(alpha=0.3)
    figure.suptitle("ASRU's validation candidates (red: today's defaults)", fontsize=10)
    return _save(figure, path)


REFERENCE_ROWS = ("target", "oracle")  # the benchmark's reference rows, not methods (asru.bench passes its own names)


def score_points(rows: dict[str, tuple], references: tuple[str, ...] = REFERENCE_ROWS) -> list[tuple[str, float, float, float]]:
    """(row, mean, low, high) for each scored row, best mean first and the references after the methods;
    ``rows[row] = (mean, 95 % CI half-width or None)``; a row without a mean is left out."""
    scored = [(row, mean, mean - (ci or 0.0), mean + (ci or 0.0)) for row, (mean, ci) in rows.items() if mean is not None]
    return sorted(scored, key=lambda point: (point[0] in references, -point[1]))


def plot_scores(panels: dict[str, dict[str, tuple]], path: Path, highlight: str = "asru", references: tuple[str, ...] = REFERENCE_ROWS) -> Path:
    """One panel per setting: each row's unlearning score with its 95 % confidence interval over seeds, best
    first (the references, target and oracle, in grey below the methods; ``highlight`` in red): the table's
    headline as a picture, where overlapping intervals show at a glance what the paired test then says."""
    figure, axes = _panels(max(1, len(panels)), width=4.2, height=0.32 * max((len(r) for r in panels.values()), default=1) + 1.4)
    for axis, (setting, rows) in zip(axes, panels.items()):
        points = score_points(rows, references)
        for y, (row, mean, low, high) in enumerate(points):
            colour = "grey" if row in references else "tab:red" if row == highlight else "tab:blue"
            axis.errorbar(mean, y, xerr=[[mean - low], [high - mean]], fmt="o", color=colour, capsize=3)
        axis.set_yticks(range(len(points)), [point[0] for point in points], fontsize=8)
        axis.invert_yaxis()
        axis.set_xlim(0, 1.02)
        axis.set_xlabel("unlearning score (mean, 95 % CI)")
        axis.grid(alpha=0.3, axis="x")
        axis.set_title(setting)
    return _save(figure, path)


def plot_quality_bars(panels: dict[str, dict[str, dict[str, tuple]]], path: Path) -> Path:
    """One panel per setting: grouped bars of the judge's scales on forget answers, mean ± std.

    ``panels[setting][row][scale] = (mean, std)``, e.g. scales naturalness (1–5) and contextual refusal (0–5).
    """
    rows_most = max((len(r) for r in panels.values()), default=1)
    figure, axes = plt.subplots(max(1, len(panels)), 1, figsize=(max(5.0, 0.6 * rows_most + 2), 3.0 * max(1, len(panels))), squeeze=False)
    for axis, (setting, rows) in zip(axes[:, 0], panels.items()):
        names = list(rows)
        scales = list(dict.fromkeys(scale for row in rows.values() for scale in row))
        width = 0.8 / max(1, len(scales))
        for k, scale in enumerate(scales):
            means = [rows[n].get(scale, (None, None))[0] for n in names]
            stds = [rows[n].get(scale, (None, None))[1] or 0.0 for n in names]
            positions = [i + (k - (len(scales) - 1) / 2) * width for i in range(len(names))]
            axis.bar(positions, [m if m is not None else 0.0 for m in means], width, yerr=stds, capsize=2, label=scale)
        axis.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
        axis.set_ylim(0, 5.3)
        axis.set_ylabel("judge score on forget answers (0–5)")
        axis.grid(alpha=0.3, axis="y")
        axis.set_title(setting)
        if scales:  # no finished row judged yet (a table of only unfinished runs): no bars, so no legend
            axis.legend(fontsize=8, loc="upper left")
    return _save(figure, path)


def plot_sequential(curves: dict[str, dict[str, list[tuple]]], panels: dict[str, tuple[str, float | None]], steps: int, path: Path) -> Path:
    """One panel per measure against the number of requests applied, one line per method (mean ± std over seeds).

    ``curves[method][measure] = [(step, mean, std), ...]`` (a mean of None: not measured);
    ``panels[measure] = (title, goal)``, the goal drawn as a dashed line where there is one.
    """
    count = len(panels)
    columns = min(3, count)
    rows = (count + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.6 * rows), squeeze=False)
    markers = "osD^vP*Xhp<>"
    handles = {}
    for axis, (measure, (title, goal)) in zip(axes.flat, panels.items()):
        for index, (name, curve) in enumerate(curves.items()):
            points = [(step, mean, std) for step, mean, std in curve.get(measure, []) if mean is not None]
            if not points:
                continue
            colour = plt.get_cmap("tab20")((2 * index) % 20 + (index // 10) % 2)
            handles[name] = axis.errorbar([p[0] for p in points], [p[1] for p in points], yerr=[p[2] or 0.0 for p in points],
                                          fmt=f"-{markers[index % len(markers)]}", ms=5, capsize=2, color=colour, alpha=0.85)
        if goal is not None:
            axis.axhline(goal, color="grey", linestyle="--", linewidth=1)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("requests applied")
        axis.set_xticks(range(1, steps + 1))
        axis.set_xlim(0.7, steps + 0.3)
        axis.set_ylim(-0.05, 1.05)
        axis.grid(alpha=0.3)
    spare = list(axes.flat)[count:]
    for axis in spare:
        axis.axis("off")
    if handles:
        (spare[0] if spare else axes.flat[-1]).legend(list(handles.values()), list(handles), fontsize=8, loc="upper left" if spare else "best")
    figure.suptitle("sequential deletion requests (mean ± std over seeds; dashed: the goal)", fontsize=10)
    return _save(figure, path)
