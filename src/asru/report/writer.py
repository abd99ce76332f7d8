"""Run folders: results.json, report.md, plots (*.png), a self-contained report.html, answers.jsonl.

A report answers the user's question first: the verdict (the audit's, or before any audit the
audit's rules with its default thresholds on the run's own numbers), the headline metrics as
target → this model (→ the retrained oracle) with the change, and a few example answers per split
(before and after); the per-split tables and plots follow. Every model output shown in HTML goes
through ``html.escape``; images are inlined as base64.
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

from asru.config import load_json_file
from asru.errors import DataError
from asru.eval.judge import SCALE_VERSION
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
    # a run judged before the authors' anchors gets its own column: no exact conversion, never mixed with today's
    row["forget.contextual_refusal" + ("_old_scale" if old_judge_scales(judge) else "")] = judge.get("contextual_refusal")
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


def old_judge_scales(summary: dict) -> bool:
    """A judge summary written before :data:`asru.eval.judge.SCALE_VERSION` 2: leakage 5 = the gold stated, wrong answers 0."""
    return bool(summary) and summary.get("scale_version", 1) < SCALE_VERSION


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


def _cell(value: Any) -> str:
    """A table cell: a pipe or a line break in a model's answer must not split the row."""
    return " ".join(format_value(value).replace("|", "\\|").split())


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _number(value: Any) -> float | None:
    """A metric's value when it is a number (results.json allows lists and mappings too)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def verdict_markdown(results: dict, audit: dict | None = None) -> tuple[str, str]:
    """(``pass`` / ``fail`` / ``none``, the section a report opens with): does the forgetting hold, and if not, which check failed by how much.

    The audit's verdict when the run has one; before any audit, the audit's own rules
    (:func:`asru.eval.audit.judge_results`) with its default thresholds on the numbers the run measured.
    """
    from asru.eval.audit import AuditConfig, judge_results  # asru.eval.audit imports this module

    if audit is None:
        judged = judge_results(results)
        defaults = AuditConfig()
        source = (
            f"Not audited yet: the audit's rules with their default thresholds (leakage at most {defaults.max_leakage:g} under every check) on what this run measured: "
            f"the forget questions, the attacks it ran ({', '.join(results.get('attacks', {})) or 'none'}) and, with an oracle, the gone-or-hidden measures. "
            "`asru audit RUN` asks again under every attack, relearning included."
        )
    else:
        judged, source = audit, "From `asru audit` (audit.json; the full tables below)."
    checks, oracle_checks = judged.get("checks", {}), judged.get("oracle_checks", {})
    if not checks and not any(c.get("passed") is not None for c in oracle_checks.values()):
        return "none", "\n".join(["## Verdict: none", "", "Nothing to judge: the run measured no forget question."])
    rows = []
    for name in judged.get("failed", []):
        if name in checks:
            check = checks[name]
            value = check.get("judged_leakage", check.get("leakage"))
            over = f"over the {check.get('n_known')} questions the target knew" if check.get("judged_on") == "known" else f"over all {check.get('n')} questions"
            above = f" (the oracle's {format_value(check['oracle_leakage'])} after the same relearning + the allowance)" if check.get("oracle_leakage") is not None else ""
            rows.append([name, value, check.get("threshold"), f"leakage <= threshold{above}, {over}"])
        elif name in oracle_checks:
            check = oracle_checks[name]
            rows.append([name, check.get("value"), check.get("threshold"), f"{check.get('rule')}; the oracle's {format_value(check.get('oracle'))}"])
        else:  # the audit required an oracle and had none
            rows.append([name, None, None, f"an oracle is required: {(judged.get('oracle') or {}).get('reason')}"])
    for request in judged.get("failed_requests", []):
        rows.append([f"request {request}", None, None, "fails on its own answers: " + ", ".join(judged["requests"][request]["failed"])])
    verdict = judged["verdict"]
    lines = [f"## Verdict: {verdict.upper()}" + ("" if audit else " (default thresholds)"), "", source, ""]
    judged_oracle = [name for name, c in oracle_checks.items() if c.get("passed") is not None]
    if rows:
        lines.append(markdown_table(["failed check", "value", "threshold", "rule"], rows))
    else:
        lines.append(f"Every check passes: {', '.join(checks) or 'no leakage check'}" + (f"; against the oracle: {', '.join(judged_oracle)}." if judged_oracle else "."))
    if not judged_oracle:
        lines += ["", f"Gone or hidden is not judged: no oracle ({(judged.get('oracle') or {}).get('reason') or 'not measured'})."]
    return verdict, "\n".join(lines)


SPLIT_WORDS = {"forget": "forget", "retain_same_subject": "retain, same people", "retain_other": "retain, other people", "utility": "utility", "refusal": "refusal questions"}
METRIC_WORDS = {"leakage_known": "leakage", "refusal_rate_known": "refusal rate", "exact_match_known": "exact match"}


def headline_markdown(results: dict) -> str:
    """The headline metrics as target → this model (→ the retrained oracle) with the change: what the run did.

    The rates are :data:`HEADLINE`'s, over what the target knew; the target's come from its own
    answers to the same questions (``results["target"]``), the oracle's where results.json has them.
    """
    metrics, target = results.get("metrics", {}), (results.get("target") or {}).get("metrics", {})
    rows = []
    for split, metric in [*HEADLINE, ("forget", "naturalness")]:
        if split not in metrics:
            continue
        subset = "judge" if metric == "naturalness" else "all"
        words = "naturalness (judge, 1-5)" if metric == "naturalness" else METRIC_WORDS[metric]
        rows.append([f"{SPLIT_WORDS[split]}: {words}", target.get(split, {}).get(subset, {}).get(metric), metrics[split].get(subset, {}).get(metric), None])
    has_oracle = bool((results.get("oracle") or {}).get("model"))
    quality, membership = results.get("forget_quality") or {}, results.get("membership") or {}
    ranking, probe = results.get("answer_ranking") or {}, results.get("linear_probe") or {}
    recovery_oracle = probe.get("recovery_oracle")
    reference = [r for r in recovery_oracle if _number(r) is not None] if isinstance(recovery_oracle, list) else []
    # against the oracle: its forget quality is 1 and its PrivLeak 0 by definition (each compares a model with it)
    for words, value, oracle in [
        ("forget quality (KS p against the oracle)", quality.get("forget_quality"), 1.0 if has_oracle else None),
        ("PrivLeak, Min-K% (0 = like the oracle)", membership.get("privleak"), 0.0 if has_oracle else None),
        ("true answer ranked first among wrong ones", ranking.get("rank1"), ranking.get("rank1_oracle")),
        ("linear probe recovery, best layer", probe.get("max_recovery"), max(reference) if reference else None),
    ]:
        if value is not None or oracle is not None:
            rows.append([words, None, value, oracle])
    for row in rows:
        before, after = _number(row[1]), _number(row[2])
        row.insert(3, "–" if before is None or after is None else f"{after - before:+.3f}")
    header = ["metric", "target", "this model", "change"] + (["oracle"] if has_oracle else [])
    rows = [row if has_oracle else row[:4] for row in rows]
    note = (
        f"Target: the model the run started from ({(results.get('target') or {}).get('model') or results.get('model')}), on the same questions. "
        "Rates are over the questions the target answered correctly in that form (the raw rates are in the metrics table below)."
    )
    return "\n".join(["## Headline: target → this model", "", note, "", markdown_table(header, rows)])


EXAMPLE_SPLITS = ("forget", "retain_same_subject", "retain_other", "utility")
EXAMPLES_PER_SPLIT = 3


def examples_markdown(answers: list[dict]) -> str:
    """A few answers per split, before (the target) and after (this model): plain questions (qa) first, then by id, so the same run shows the same ones."""
    rows = []
    for split in EXAMPLE_SPLITS:
        chosen = sorted((a for a in answers if a.get("split") == split), key=lambda a: (a.get("form") != "qa", a["id"]))[:EXAMPLES_PER_SPLIT]
        rows += [[split, a.get("question"), a.get("gold"), a.get("target_answer"), a.get("pred"), a.get("label")] for a in chosen]
    if not rows:
        return ""
    note = f"Up to {EXAMPLES_PER_SPLIT} per split, plain questions first, then by id; before: the target's answer, after: this model's, judged (every answer: answers.jsonl)."
    return "\n".join(["## Example answers", "", note, "", markdown_table(["split", "question", "truth", "before", "after", "judge"], rows)])


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
        old = any(old_judge_scales(j) for _, j in judged)
        # the old leakage converts exactly (5 − x); the old contextual refusal does not, so it is only marked
        rows = [
            [split, j.get("naturalness"), j.get("contextual_refusal"), 5 - j["leakage"] if old_judge_scales(j) and j.get("leakage") is not None else j.get("leakage")]
            + [j["labels"][l] for l in labels]
            for split, j in judged
        ]
        header = ["split", "naturalness (1–5) ↑", "contextual refusal (0–5) ↑" + (", old scale" if old else ""), "leakage (0–5, 5 = none) ↑"]
        note = (
            ["", "Judged before the scales followed the authors' anchors: leakage converted (5 − the old score, exact); contextual refusal "
             "is on the old scale (0 for every answer that is not a refusal; 3 a template, 4 context or a reason, 5 both) and has no exact conversion."]
            if old else []
        )
        parts += ["", "## Judge", "", f"Graded by: {results.get('judge') or 'rules'}.", *note, "", markdown_table(header + labels, rows)]
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
    relative = {name: c["oracle_leakage"] for name, c in audit["checks"].items() if c.get("oracle_leakage") is not None}
    if relative:  # the relearning check counts its allowance above what the same relearning teaches the oracle
        parts += ["", "Counted above the retrained oracle's own leakage under the same attack: " + ", ".join(f"{name} {format_value(value)}" for name, value in relative.items()) + "."]
    if audit.get("oracle_checks"):  # audits written before the oracle checks have none
        oracle = audit.get("oracle") or {}
        verdict = lambda passed: "no oracle" if passed is None else ("pass" if passed else "FAIL")  # noqa: E731
        rows = [[name, c.get("value"), c.get("oracle"), c.get("gap"), c.get("threshold"), c.get("rule"), verdict(c.get("passed"))] for name, c in audit["oracle_checks"].items()]
        where = oracle.get("model") or f"no oracle: {oracle.get('reason')}"
        parts += ["", f"## Audit against the retrained oracle ({where})", "", markdown_table(["check", "value", "oracle", "gap", "threshold", "rule", "verdict"], rows)]
        readings = [f"- **{name}**: {c['reading']}" for name, c in audit["oracle_checks"].items() if c.get("reading")]
        if readings:  # what each failed check found, in words (asru.eval.audit.failed_reading)
            parts += ["", *readings]
    return "\n".join(parts)


def _write_answers(out_dir: Path, answers: list[dict]) -> None:
    """answers.jsonl, one judged answer a line (UTF-8 kept readable), written atomically."""
    atomic_write_text(out_dir / "answers.jsonl", "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in answers))


def write_run(out_dir: Path, results: dict, answers: list[dict], training_logs: dict[str, list[dict]] | None = None) -> dict[str, Path]:
    """Write results.json, answers.jsonl, plots, report.md and report.html into ``out_dir``.

    An ``audit.json`` left by ``asru audit`` judged the results being replaced, so it is removed.
    """
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "results.json", results)
    (out_dir / AUDIT_FILE).unlink(missing_ok=True)
    _write_answers(out_dir, answers)
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


def opening(results: dict, answers: list[dict], audit: dict | None = None) -> tuple[str, str]:
    """(the verdict, the markdown a report opens with): the verdict, the headline and the example answers."""
    verdict, section = verdict_markdown(results, audit)
    return verdict, "\n\n".join(part for part in (section, headline_markdown(results), examples_markdown(answers)) if part)


def write_reports(out_dir: Path, results: dict, answers: list[dict], plots: dict[str, Path | None], audit: dict | None = None) -> None:
    """report.md and report.html from the results, the plots already drawn and (if any) the audit."""
    title = f"{results.get('method', 'model')} — {results.get('setting', '')}"
    audit_part = f"{audit_markdown(audit)}\n\n" if audit else ""
    markdown = f"# {title}\n\n{opening(results, answers, audit)[1]}\n\n{audit_part}{metrics_markdown(results)}\n\n" + "\n".join(f"![{k}]({p.name})" for k, p in plots.items() if p) + "\n"
    atomic_write_text(out_dir / "report.md", markdown)
    atomic_write_text(out_dir / "report.html", render_html(title, results, answers, plots, audit))


def _existing_plots(out_dir: Path) -> dict[str, Path]:
    names = ["labels", "forget_vs_retain", "attacks"] + sorted(p.stem for p in out_dir.glob("training_*.png"))
    return {name: out_dir / f"{name}.png" for name in names if (out_dir / f"{name}.png").is_file()}


def add_audit_to_report(out_dir: Path, audit: dict) -> None:
    """Rewrite a finished run's report.md / report.html with the audit section (plots are reused)."""
    from asru.report.results import load_answers, load_results

    out_dir = Path(out_dir)
    results, answers = load_results(out_dir), load_answers(out_dir)
    write_reports(out_dir, results, answers, _existing_plots(out_dir), audit)


def rewrite_judgements(out_dir: Path, results: dict, answers: list[dict]) -> None:
    """A finished run judged again (:mod:`asru.eval.rejudge`): results.json, answers.jsonl, the labels plot and the
    report; the other plots and an audit (which reads rates, not labels) are kept."""
    out_dir = Path(out_dir)
    atomic_write_json(out_dir / "results.json", results)
    _write_answers(out_dir, answers)
    plot_labels({results.get("method", "model"): results}, out_dir / "labels.png")
    audit_path = out_dir / AUDIT_FILE
    audit = load_json_file(audit_path, DataError, "audit") if audit_path.is_file() else None
    write_reports(out_dir, results, answers, _existing_plots(out_dir), audit)


def _markdown_to_html(md: str) -> str:
    """Our own markdown (headings, tables as :func:`markdown_table` writes them, paragraphs) to HTML; every text escaped."""
    out, in_table = [], False
    for line in md.splitlines():
        if line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("|---"):
            continue
        elif line.startswith("| "):
            cells = [html.escape(c.strip().replace("\\|", "|")) for c in re.split(r"(?<!\\)\|", line[1:-1])]
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
        else:
            if in_table:
                out.append("</table>")
                in_table = False
            if line.strip():  # a paragraph; `code` in our own sentences, never in a model's output (those are in cells)
                out.append("<p>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(line)) + "</p>")
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
    verdict, first = opening(results, answers, audit)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;font-size:13px}}th{{background:#f3f3f3}}img{{max-width:100%}}
.pass>h2:first-child{{color:#1b7f3b}}.fail>h2:first-child{{color:#b00020}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>model: {html.escape(str(results.get('model', '')))}</p>
<section class="{html.escape(verdict)}">
{_markdown_to_html(first)}
</section>
{_markdown_to_html(audit_markdown(audit)) if audit else ""}
{_markdown_to_html(metrics_markdown(results))}
<h2>Plots</h2>{images}
<h2>More answers: the first 60 of the forget and retain splits (every answer: answers.jsonl)</h2><table><tr><th>split</th><th>modality</th><th>question</th><th>gold</th><th>answer</th><th>judge</th></tr>{rows}</table>
</body></html>
"""
