"""report.html escapes every model output and every name it shows: a report is safe to open."""

from __future__ import annotations

from asru.report.writer import add_audit_to_report, write_run

EVIL = "<script>alert(1)</script>"


def test_model_outputs_and_names_are_escaped(tmp_path):
    results = {
        "method": f"m{EVIL}", "setting": "complete", "model": f"<img src=x onerror=alert(2)>",
        "world": {"path": "w", "hash": None}, "requests": [{"subject_id": "s000", "fact_ids": [1]}],
        "metrics": {"forget": {"all": {"n": 1, "leakage": 1.0, "refusal_rate": 0.0}}}, "attacks": {f"a{EVIL}": {"leakage": 1.0, "n": 1}},
    }
    answers = [{"split": "forget", "id": "s000-f1-text-qa", "modality": "text", "question": f"q{EVIL}", "gold": "g", "pred": f"{EVIL}<iframe src=x>", "label": "leak"}]
    write_run(tmp_path, results, answers)
    audit = {"verdict": "fail", "failed": [f"c{EVIL}"], "skipped": [], "checks": {f"c{EVIL}": {"leakage": 1.0, "threshold": 0.05, "passed": False, "n": 1}}}
    add_audit_to_report(tmp_path, audit)
    html = (tmp_path / "report.html").read_text()
    assert "<script>" not in html and "<iframe" not in html and "<img src=x" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 4  # title, attack, question, answer, audit check
    assert "&lt;iframe src=x&gt;" in html and "<h2>Audit: FAIL</h2>" in html
