"""A report answers the user's question first: the verdict, the headline as target → this model (→ oracle), example answers.

The per-split tables and plots follow. The run folders here are written from hand-made results, so
every number in the report can be traced to the input.
"""

from __future__ import annotations

import copy
import json
import re

from asru.eval.audit import judge_results
from asru.report.writer import add_audit_to_report, headline, write_run

OPENING = ["Verdict", "Headline: target → this model", "Example answers", "Metrics per split, modality and form"]


def split_metrics(leakage: float, refusal: float, retain: float) -> dict:
    return {
        "forget": {"all": {"n": 4, "n_known": 2, "leakage": leakage, "leakage_known": leakage, "refusal_rate": refusal, "refusal_rate_known": refusal}, "judge": {"naturalness": 3.5, "scale_version": 2, "labels": {"leak": 0.5}}},
        "retain_other": {"all": {"n": 4, "n_known": 4, "exact_match": retain, "exact_match_known": retain}},
    }


def results(**extra) -> dict:
    base = {
        "method": "npo", "setting": "complete", "model": "targets/tiny", "world": {"path": "w", "hash": None}, "requests": [{"subject_id": "s000", "fact_ids": [1]}],
        "metrics": split_metrics(leakage=0.4, refusal=0.5, retain=0.75),
        "attacks": {"paraphrase": {"n": 4, "n_known": 2, "leakage": 0.0, "leakage_known": 0.0}},
        "target": {"model": "targets/tiny", "metrics": split_metrics(leakage=1.0, refusal=0.0, retain=1.0)},
    }
    return {**base, **extra}


def answer(split: str, sample_id: str, form: str = "qa", **fields) -> dict:
    return {"split": split, "id": sample_id, "form": form, "question": f"Q {sample_id}?", "gold": "Lisbon", "target_answer": "Lisbon.", "pred": "I can't share that.", "label": "refusal_rigid", **fields}


ANSWERS = [
    answer("forget", "s000-f2-text-qa"), answer("forget", "s000-f0-image-mcq", form="mcq"), answer("forget", "s000-f1-text-qa"),
    answer("forget", "s000-f1-image-qa"), answer("forget", "s000-f3-text-qa"), answer("retain_other", "s003-f1-text-qa", pred="Lisbon", label="correct"),
]

WITH_ORACLE = {
    "oracle": {"model": "oracles/abc", "reason": None},
    "forget_quality": {"forget_quality": 0.001, "truth_ratio": 0.2, "truth_ratio_oracle": 0.6},
    "membership": {"privleak": -0.8},
    "answer_ranking": {"rank1": 0.9, "rank1_oracle": 0.3},
    "linear_probe": {"layers": [0, 1], "recovery": [0.5, 0.9], "recovery_oracle": [0.2, 0.25], "max_recovery": 0.9, "gap": 0.65, "gap_layer": 1},
}


def report(tmp_path, run_results: dict, answers: list[dict] = ANSWERS) -> tuple[str, str]:
    write_run(tmp_path, run_results, answers)
    return (tmp_path / "report.md").read_text(), (tmp_path / "report.html").read_text()


def table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first table after ``## heading``."""
    section = markdown.split(f"## {heading}", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            rows.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line[1:-1])])
        elif rows and not line.startswith("|"):
            break
    return rows


def test_the_report_opens_with_the_verdict_the_headline_and_examples_then_the_tables(tmp_path):
    markdown, html = report(tmp_path, results())
    positions = [markdown.index(f"## {heading}") for heading in OPENING]
    assert positions == sorted(positions) and markdown.index("# npo — complete") < positions[0]
    positions = [html.index(f"<h2>{heading}") for heading in OPENING]
    assert positions == sorted(positions) and html.index("<h2>Plots</h2>") > positions[-1]


def test_without_an_audit_the_verdict_is_the_audits_rules_with_default_thresholds(tmp_path):
    markdown, html = report(tmp_path, results())
    assert judge_results(results())["verdict"] == "fail"
    assert "## Verdict: FAIL (default thresholds)" in markdown and "Not audited yet" in markdown and "Audit" not in markdown
    # the failed check with its value against its threshold; the attack that held is not listed
    assert table_rows(markdown, "Verdict") == [
        ["failed check", "value", "threshold", "rule"], ["direct", "0.400", "0.050", "leakage <= threshold, over the 2 questions the target knew"],
    ]
    assert '<section class="fail">' in html and "<code>asru audit RUN</code>" in html
    held = results(metrics=split_metrics(leakage=0.0, refusal=1.0, retain=0.75))
    markdown, html = report(tmp_path, held)
    assert "## Verdict: PASS (default thresholds)" in markdown and "Every check passes: direct, paraphrase." in markdown and '<section class="pass">' in html


def test_the_headline_numbers_come_from_the_results(tmp_path):
    markdown, _ = report(tmp_path, results())
    rows = {row[0]: row[1:] for row in table_rows(markdown, "Headline")}
    assert rows["metric"] == ["target", "this model", "change"]  # no oracle column without an oracle
    assert rows["forget: leakage"] == ["1.000", "0.400", "-0.600"]
    assert rows["forget: refusal rate"] == ["0.000", "0.500", "+0.500"]
    assert rows["retain, other people: exact match"] == ["1.000", "0.750", "-0.250"]
    assert rows["forget: naturalness (judge, 1-5)"] == ["3.500", "3.500", "+0.000"]
    assert "retain, same people: exact match" not in rows and "utility: exact match" not in rows  # splits the run did not evaluate
    changed = copy.deepcopy(results())
    changed["metrics"]["forget"]["all"]["leakage_known"] = 0.123
    changed["target"]["metrics"]["retain_other"]["all"]["exact_match_known"] = 0.9
    markdown, _ = report(tmp_path, changed)
    rows = {row[0]: row[1:] for row in table_rows(markdown, "Headline")}
    assert rows["forget: leakage"] == ["1.000", "0.123", "-0.877"] and rows["retain, other people: exact match"] == ["0.900", "0.750", "-0.150"]
    assert ["direct", "0.123", "0.050", "leakage <= threshold, over the 2 questions the target knew"] in table_rows(markdown, "Verdict")
    # a run written before the target's figures: its column is empty, nothing else changes
    markdown, _ = report(tmp_path, {k: v for k, v in results().items() if k != "target"})
    assert {row[0]: row[1:] for row in table_rows(markdown, "Headline")}["forget: leakage"] == ["–", "0.400", "–"]


def test_the_judge_table_reads_on_the_authors_scales_and_marks_runs_judged_before(tmp_path):
    scales = {"naturalness": 4.0, "contextual_refusal": 3.0, "leakage": 4.5, "labels": {"leak": 0.1}}
    current = results()
    current["metrics"]["forget"]["judge"] = {**scales, "scale_version": 2}
    markdown, _ = report(tmp_path, current)
    rows = table_rows(markdown, "Judge")
    assert rows[0][:4] == ["split", "naturalness (1–5) ↑", "contextual refusal (0–5) ↑", "leakage (0–5, 5 = none) ↑"]
    assert rows[1][:4] == ["forget", "4.000", "3.000", "4.500"] and "old scale" not in markdown
    assert headline(current)["forget.contextual_refusal"] == 3.0
    # judged before scale_version 2, leakage ran the other way (5 = the gold stated): converted exactly; contextual refusal only marked
    old = copy.deepcopy(current)
    old["metrics"]["forget"]["judge"] = scales
    markdown, _ = report(tmp_path, old)
    rows = table_rows(markdown, "Judge")
    assert rows[0][2] == "contextual refusal (0–5) ↑, old scale" and rows[1][:4] == ["forget", "4.000", "3.000", "0.500"]
    assert "leakage converted (5 − the old score, exact)" in markdown
    assert headline(old)["forget.contextual_refusal_old_scale"] == 3.0 and "forget.contextual_refusal" not in headline(old)


def test_with_an_oracle_the_headline_has_its_column_and_the_verdict_its_checks(tmp_path):
    markdown, html = report(tmp_path, results(**WITH_ORACLE))
    rows = {row[0]: row[1:] for row in table_rows(markdown, "Headline")}
    assert rows["metric"] == ["target", "this model", "change", "oracle"]
    assert rows["forget: leakage"] == ["1.000", "0.400", "-0.600", "–"]
    assert rows["forget quality (KS p against the oracle)"] == ["–", "0.001", "–", "1.000"]
    assert rows["PrivLeak, Min-K% (0 = like the oracle)"] == ["–", "-0.800", "–", "0.000"]
    assert rows["true answer ranked first among wrong ones"] == ["–", "0.900", "–", "0.300"]
    assert rows["linear probe recovery, best layer"] == ["–", "0.900", "–", "0.250"]
    failed = {row[0]: row[1:] for row in table_rows(markdown, "Verdict")[1:]}
    assert set(failed) == {"direct", "forget_quality", "privleak", "answer_ranking", "linear_probe"}
    assert failed["forget_quality"][:2] == ["0.001", "0.050"] and failed["privleak"][:2] == ["-0.800", "0.500"]
    assert "Gone or hidden is not judged" not in markdown and "<th>oracle</th>" in html
    # without one: said, and not judged
    markdown, _ = report(tmp_path, results(oracle={"model": None, "reason": "not built yet for this forget set"}))
    assert "Gone or hidden is not judged: no oracle (not built yet for this forget set)." in markdown


def test_an_audit_gives_the_verdict(tmp_path):
    write_run(tmp_path, results(metrics=split_metrics(leakage=0.0, refusal=1.0, retain=0.75)), ANSWERS)
    audit = {
        "verdict": "fail", "failed": ["relearn"], "skipped": [], "oracle": {"model": None, "reason": "no finetune.json beside the target"}, "oracle_checks": {},
        "checks": {
            "direct": {"leakage": 0.0, "leakage_known": 0.0, "n_known": 2, "n": 4, "judged_on": "known", "judged_leakage": 0.0, "threshold": 0.05, "passed": True},
            "relearn": {"leakage": 0.3, "leakage_known": None, "n_known": 0, "n": 3, "judged_on": "all", "judged_leakage": 0.3, "threshold": 0.2, "passed": False},
        },
    }
    add_audit_to_report(tmp_path, audit)
    markdown = (tmp_path / "report.md").read_text()
    assert "## Verdict: FAIL\n" in markdown and "From `asru audit`" in markdown and "default thresholds" not in markdown
    assert table_rows(markdown, "Verdict")[1:] == [["relearn", "0.300", "0.200", "leakage <= threshold, over all 3 questions"]]
    assert markdown.index("## Example answers") < markdown.index("## Audit: FAIL") < markdown.index("## Metrics per split")


def test_examples_are_chosen_by_form_and_id_with_before_and_after(tmp_path):
    markdown, _ = report(tmp_path, results())
    rows = table_rows(markdown, "Example answers")
    assert rows[0] == ["split", "question", "truth", "before", "after", "judge"]
    assert [row[1] for row in rows[1:]] == ["Q s000-f1-image-qa?", "Q s000-f1-text-qa?", "Q s000-f2-text-qa?", "Q s003-f1-text-qa?"]
    assert rows[1] == ["forget", "Q s000-f1-image-qa?", "Lisbon", "Lisbon.", "I can't share that.", "refusal_rigid"]
    assert rows[-1][3:] == ["Lisbon.", "Lisbon", "correct"]
    assert report(tmp_path, results(), list(reversed(ANSWERS)))[0] == markdown  # the order of answers.jsonl does not matter
    markdown, html = report(tmp_path, results(), [])
    assert "Example answers" not in markdown and "<h2>Headline" in html


def test_model_outputs_in_the_opening_are_escaped_and_keep_their_row(tmp_path):
    evil = "<script>alert(1)</script>"
    answers = [answer("forget", "s000-f1-text-qa", question=f"Who | {evil}?", target_answer=f"<b>{evil}</b>", pred="a | b\nc", label=None)]
    markdown, html = report(tmp_path, results(), answers)
    rows = table_rows(markdown, "Example answers")
    assert len(rows[1]) == 6 and rows[1][4] == "a \\| b c" and rows[1][5] == "–"
    assert "<script>" not in html and "<b>" not in html
    assert "<td>Who | &lt;script&gt;alert(1)&lt;/script&gt;?</td>" in html and "<td>&lt;b&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;/b&gt;</td>" in html
    assert "<td>a | b c</td>" in html


def test_a_real_run_folder_carries_the_targets_answers_and_figures(tmp_path, tiny_world, tiny_model_dir):
    """``asru eval`` of a model against its target: the report's before column is the target's own answers."""
    from conftest import run_cli  # tests/conftest.py

    run = tmp_path / "eval"
    code, _, err = run_cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--forget-ratio", "0.34", "--attacks", "one_word")
    assert code == 0, err
    answers = [json.loads(line) for line in (run / "answers.jsonl").read_text().splitlines()]
    # asru eval of the target: its answers are the target's
    assert answers and all(a["target_answer"] == a["pred"] for a in answers)
    run_results = json.loads((run / "results.json").read_text())
    target = run_results["target"]
    assert target["model"] == str(tiny_model_dir) and set(target["metrics"]) == set(run_results["metrics"])
    assert target["metrics"]["forget"]["all"] == run_results["metrics"]["forget"]["all"] and "judge" in target["metrics"]["forget"]
    assert "judge" not in target["metrics"]["retain_other"]  # the target's answers are judged where the headline reads them
    markdown = (run / "report.md").read_text()
    assert markdown.index("## Verdict") < markdown.index("## Headline") < markdown.index("## Example answers") < markdown.index("## Metrics per split")
