"""Fuzz: run folders whose results.json / answers.jsonl were edited, truncated or replaced.

``asru report``, ``asru audit``, ``asru bench`` and ``asru demo`` read run folders a user may have
touched; whatever is in them, the readers return or raise one of our error types (one line).
"""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import fuzz_examples, run_cli  # tests/conftest.py
from hypothesis import given
from hypothesis import strategies as st
from fuzzing import expect_only_our_errors, mutate, mutated_json_file  # tests/fuzzing.py

from asru.report.compare import compare_runs
from asru.report.results import load_answers, load_results
from asru.report.writer import add_audit_to_report

AUDIT = {"verdict": "pass", "failed": [], "skipped": [], "checks": {"direct": {"leakage": 0.0, "threshold": 0.05, "passed": True, "n": 2}}}


@pytest.fixture(scope="module")
def run_folder(tiny_world, tiny_model_dir, tmp_path_factory):
    """A real ``asru eval`` run folder (untrained tiny model: the contents, not the numbers, matter)."""
    out = tmp_path_factory.mktemp("run") / "eval"
    code, _, err = run_cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", out, "--setting", "selective", "--attacks", "paraphrase")
    assert code == 0, err
    return out


def test_the_real_run_folder_loads(run_folder):
    results = load_results(run_folder)
    assert results["setting"] == "selective" and results["metrics"]["forget"]["all"]["n"] > 0
    assert {a["split"] for a in load_answers(run_folder)} >= {"forget", "retain_other"}


@pytest.mark.parametrize(
    "change, fragment",
    [
        (lambda r: r["metrics"]["forget"]["all"].__setitem__("leakage", "high"), "field 'metrics.forget.all.leakage': Value error, expected a number"),
        (lambda r: r.__setitem__("setting", "partial"), "field 'setting'"),
        (lambda r: r["requests"][0].__setitem__("fact_ids", "7"), "field 'requests.0.fact_ids'"),
        (lambda r: r.pop("world"), "field 'world': Field required"),
        (lambda r: r["attacks"].__setitem__("paraphrase", [1]), "field 'attacks.paraphrase': expected a mapping, got list"),
    ],
)
def test_malformed_results_name_the_field(run_folder, tmp_path, change, fragment):
    run = tmp_path / "run"
    shutil.copytree(run_folder, run)
    results = json.loads((run / "results.json").read_text())
    change(results)
    (run / "results.json").write_text(json.dumps(results))
    for call in (lambda: load_results(run), lambda: compare_runs([run], tmp_path / "cmp"), lambda: add_audit_to_report(run, AUDIT)):
        with pytest.raises(Exception) as info:
            call()
        assert type(info.value).__name__ == "DataError" and f"{run / 'results.json'}: {fragment}" in str(info.value), str(info.value)


@fuzz_examples(0.5)
@given(st.data())
def test_report_and_audit_readers(run_folder, tmp_path_factory, data):
    run = tmp_path_factory.getbasetemp() / "fuzz_run" / "eval"
    if not run.exists():
        shutil.copytree(run_folder, run)
    for name in ("results.json", "answers.jsonl"):
        shutil.copy(run_folder / name, run / name)
    if data.draw(st.booleans()):
        mutated_json_file(run / "results.json", (run_folder / "results.json").read_text(), data)
    else:
        lines = (run_folder / "answers.jsonl").read_text().splitlines()
        index = data.draw(st.integers(0, len(lines) - 1))
        lines[index] = json.dumps(mutate(json.loads(lines[index]), data))
        (run / "answers.jsonl").write_text("\n".join(lines) + "\n")
    reader = data.draw(st.sampled_from(["load", "report", "audit_report"]))
    if reader == "load":
        expect_only_our_errors(lambda: (load_results(run), load_answers(run)))
    elif reader == "report":
        expect_only_our_errors(lambda: compare_runs([run], run.parent / "comparison"))
    else:
        expect_only_our_errors(lambda: add_audit_to_report(run, AUDIT))
