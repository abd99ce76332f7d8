"""Run folders: results.json, report.md, plots (*.png), a self-contained report.html, answers.jsonl.

Every model output shown in HTML goes through ``html.escape``; images are inlined as base64.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

from asru.io import atomic_write_json, atomic_write_text
from asru.report.plots import plot_attacks, plot_forget_vs_retain, plot_labels, plot_training

AUDIT_FILE = "audit.json"  # written by ``asru audit`` (asru.eval.audit)

# knowledge-conditioned: over the questions the target answered correctly in that form (asru.eval.knowledge)
HEADLINE = [
    ("forget", "leakage_known"),
    ("forget", "refusal_rate_known"),
    ("retain_same_subject", "exact_match_known"),
    ("retain_other", "exact_match_known"),
    ("utility", "exact_match_known"),
    ("refusal", "refusal_rate_known"),
]


def headline(results: dict) -> dict[str, float | None]:
    """The numbers a reader looks at first, flattened for tables: the rates over what the target knew
    (``*_known``; the raw ones are in the metrics table and results.json) and the judge's scales."""
    metrics = results.get("metrics", {})
    row: dict[str, float | None] = {}
    for split, metric in HEADLINE:
        row[f"{split}.{metric}"] = metrics.get(split, {}).get("all", {}).get(metric)
    judge = metrics.get("forget", {}).get("judge", {})
    row["forget.naturalness"] = judge.get("naturalness")
    row["forget.contextual_refusal"] = judge.get("contextual_refusal")
    for attack, values in results.get("attacks", {}).items():
        row[f"attack.{attack}.leakage_known"] = values.get("leakage_known")
    # gone or hidden (asru.eval.oracle): each next to the retrained oracle's, when the run had one
    quality, membership = results.get("forget_quality", {}), results.get("membership", {})
    ranking, probe = results.get("answer_ranking", {}), results.get("linear_probe", {})
    if quality or membership or ranking or probe:
        row["forget_quality"] = quality.get("forget_quality")
        row["privleak"] = membership.get("privleak")
        row["answer_ranking.rank1"], row["answer_ranking.rank1_oracle"] = ranking.get("rank1"), ranking.get("rank1_oracle")
        row["linear_probe.max_recovery"], row["linear_probe.gap"] = probe.get("max_recovery"), probe.get("gap")
    return row


def oracle_markdown(results: dict) -> str:
    """The gone-or-hidden section: each measure of the model next to the retrained oracle's (empty for runs without them)."""
    quality, membership = results.get("forget_quality"), results.get("membership")
    ranking, probe = results.get("answer_ranking"), results.get("linear_probe")
    if not (quality or membership or ranking or probe):
        return ""
    oracle = results.get("oracle") or {}
    rows = []
    if quality:
        rows.append([f"truth ratio, TOFU (n {quality.get('n')}; 1 = no preference for the truth)", quality.get("truth_ratio"), quality.get("truth_ratio_oracle"), f"forget quality (KS p) {format_value(quality.get('forget_quality'))}"])
    for name in ("loss", "zlib", "min_k", "min_k_plus_plus"):
        scores = (membership or {}).get(name)
        if isinstance(scores, dict):
            rows.append([f"MIA AUC forget vs holdout people, {name}", scores.get("auc"), scores.get("auc_oracle"), f"PrivLeak {format_value(scores.get('privleak'))}"])
    if ranking:
        rows.append([f"true answer ranked first among {ranking.get('n')} items (chance {format_value(ranking.get('chance'))})", ranking.get("rank1"), ranking.get("rank1_oracle"), f"gap {format_value(_gap(ranking.get('rank1'), ranking.get('rank1_oracle')))}"])
    if probe:
        own, reference = probe.get("recovery") or [], probe.get("recovery_oracle") or []
        for index, layer in enumerate(probe.get("layers") or []):
            theirs = reference[index] if index < len(reference) else None
            rows.append([f"linear probe recovery, layer {layer} (chance {format_value(probe.get('chance'))})", own[index] if index < len(own) else None, theirs, ""])
    where = oracle.get("model") or f"none: {oracle.get('reason') or 'not measured'}"
    return "\n".join([f"## Gone or hidden: against the retrained oracle ({where})", "", markdown_table(["measure", "model", "oracle", "comparison"], rows)])


def _gap(value: float | None, reference: float | None) -> float | None:
    return None if value is None or reference is None else value - reference


def format_value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.2g}" if 0 < abs(value) < 0.0005 else f"{value:.3f}"  # a p-value of 1e-12 is not 0.000
    return str(value)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(format_value(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def metrics_markdown(results: dict) -> str:
    metrics = results.get("metrics", {})
    # each rate raw (every question) and *_known (the questions the target answered correctly, n_known of them)
    names = ["n", "n_known", "exact_match", "exact_match_known", "contains", "rouge_l_recall", "leakage", "leakage_known", "refusal_rate", "refusal_rate_known", "mcq_acc", "cloze_em"]
    rows = []
    for split, per_modality in metrics.items():
        for modality in ("all", "image", "text", "qa", "cloze", "mcq", "image_qa", "text_qa"):
            if modality in per_modality:
                rows.append([split, modality] + [per_modality[modality].get(n) for n in names])
    parts = ["## Metrics per split, modality and form", "", markdown_table(["split", "subset"] + names, rows)]
    oracle = oracle_markdown(results)
    if oracle:
        parts += ["", oracle]
    judged = [(split, m["judge"]) for split, m in metrics.items() if "judge" in m]
    if judged:
        labels = list(judged[0][1]["labels"])
        rows = [[split, j.get("naturalness"), j.get("contextual_refusal"), j.get("leakage")] + [j["labels"][l] for l in labels] for split, j in judged]
        parts += ["", "## Judge (offline)", "", markdown_table(["split", "naturalness", "contextual refusal", "leakage"] + labels, rows)]
    if results.get("attacks"):
        names = ["n", "n_known", "leakage", "leakage_known", "exact_match", "refusal_rate", "refusal_rate_known"]
        rows = [[a] + [v.get(n) for n in names] for a, v in results["attacks"].items()]
        parts += ["", "## Attacks (forget split)", "", markdown_table(["attack"] + names, rows)]
    return "\n".join(parts)


def audit_markdown(audit: dict) -> str:
    """The audit section of a report: the verdict and, per check, leakage against its threshold."""
    rows = [
        [name, c.get("leakage_known"), c.get("n_known"), c["leakage"], c["n"], c["threshold"], ("pass" if c["passed"] else "FAIL") + (" (on all)" if c.get("judged_on") == "all" else "")]
        for name, c in audit["checks"].items()
    ]
    rows += [[name, None, None, None, 0, None, "skipped (nothing to ask)"] for name in audit.get("skipped", [])]
    # judged on the leakage over what the starting model knew ("(on all)": its answers were unknown, judged on every question)
    header = ["check", "leakage (known)", "n known", "leakage (all)", "n", "threshold", "verdict"]
    parts = [f"## Audit: {audit['verdict'].upper()}", "", markdown_table(header, rows)]
    if audit.get("oracle_checks"):  # audits written before the oracle checks have none
        oracle = audit.get("oracle") or {}
        verdict = lambda passed: "no oracle" if passed is None else ("pass" if passed else "FAIL")  # noqa: E731
        rows = [[name, c.get("value"), c.get("oracle"), c.get("gap"), c.get("threshold"), c.get("rule"), verdict(c.get("passed"))] for name, c in audit["oracle_checks"].items()]
        where = oracle.get("model") or f"no oracle: {oracle.get('reason')}"
        parts += ["", f"## Audit against the retrained oracle ({where})", "", markdown_table(["check", "value", "oracle", "gap", "threshold", "rule", "verdict"], rows)]
    return "\n".join(parts)


def write_run(out_dir: Path, results: dict, answers: list[dict], training_logs: dict[str, list[dict]] | None = None) -> dict[str, Path]:
    """Write results.json, answers.jsonl, plots, report.md and report.html into ``out_dir``.

    An ``audit.json`` left by ``asru audit`` judged the results being replaced, so it is removed.
    """
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "results.json", results)
    (out_dir / AUDIT_FILE).unlink(missing_ok=True)
    atomic_write_text(out_dir / "answers.jsonl", "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))
    plots = {
        "labels": plot_labels({results.get("method", "model"): results}, out_dir / "labels.png"),
        "forget_vs_retain": plot_forget_vs_retain({results.get("method", "model"): results}, out_dir / "forget_vs_retain.png"),
    }
    if results.get("attacks"):
        plots["attacks"] = plot_attacks({results.get("method", "model"): results}, out_dir / "attacks.png")
    for name, log in (training_logs or {}).items():
        if log:
            plots[f"training_{name}"] = plot_training(log, out_dir / f"training_{name}.png")
            if name != "train":  # the trainer writes train_log.json itself; the other stages' numbers go beside their plots
                atomic_write_json(out_dir / f"training_{name}.json", {"log": log})
    write_reports(out_dir, results, answers, plots)
    return {"results": out_dir / "results.json", "report": out_dir / "report.md", "html": out_dir / "report.html", **plots}


def write_reports(out_dir: Path, results: dict, answers: list[dict], plots: dict[str, Path | None], audit: dict | None = None) -> None:
    """report.md and report.html from the results, the plots already drawn and (if any) the audit."""
    title = f"{results.get('method', 'model')} — {results.get('setting', '')}"
    summary = markdown_table(["metric", "value"], [[k, v] for k, v in headline(results).items()])
    audit_part = f"{audit_markdown(audit)}\n\n" if audit else ""
    markdown = f"# {title}\n\n{summary}\n\n{audit_part}{metrics_markdown(results)}\n\n" + "\n".join(f"![{k}]({p.name})" for k, p in plots.items() if p) + "\n"
    atomic_write_text(out_dir / "report.md", markdown)
    atomic_write_text(out_dir / "report.html", render_html(title, results, answers, plots, audit))


def add_audit_to_report(out_dir: Path, audit: dict) -> None:
    """Rewrite a finished run's report.md / report.html with the audit section (plots are reused)."""
    from asru.report.results import load_answers, load_results

    out_dir = Path(out_dir)
    results, answers = load_results(out_dir), load_answers(out_dir)
    names = ["labels", "forget_vs_retain", "attacks"] + sorted(p.stem for p in out_dir.glob("training_*.png"))
    plots = {name: out_dir / f"{name}.png" for name in names if (out_dir / f"{name}.png").is_file()}
    write_reports(out_dir, results, answers, plots, audit)


def _markdown_to_html_table(md: str) -> str:
    """Our own markdown tables (fixed format above) to HTML; every cell escaped."""
    out, in_table = [], False
    for line in md.splitlines():
        if line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("| "):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
        else:
            if in_table:
                out.append("</table>")
                in_table = False
    if in_table:
        out.append("</table>")
    return "\n".join(out)


def render_html(title: str, results: dict, answers: list[dict], plots: dict[str, Path | None], audit: dict | None = None) -> str:
    images = "".join(
        f'<figure><img alt="{html.escape(k)}" src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}"/></figure>'
        for k, p in plots.items()
        if p and p.is_file()
    )
    examples = [a for a in answers if a.get("split") in ("forget", "retain_same_subject", "retain_other")][:60]
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(a.get(k, '')))}</td>" for k in ("split", "modality", "question", "gold", "pred", "label")) + "</tr>"
        for a in examples
    )
    summary = markdown_table(["metric", "value"], [[k, v] for k, v in headline(results).items()])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}th{{background:#f3f3f3}}img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>model: {html.escape(str(results.get('model', '')))}</p>
{_markdown_to_html_table("## Headline" + chr(10) + summary)}
{_markdown_to_html_table(audit_markdown(audit)) if audit else ""}
{_markdown_to_html_table(metrics_markdown(results))}
<h2>Plots</h2>{images}
<h2>Example answers</h2><table><tr><th>split</th><th>modality</th><th>question</th><th>gold</th><th>answer</th><th>judge</th></tr>{rows}</table>
</body></html>
"""
