"""Fuzz: model folders whose unlearning.json was edited, truncated or replaced.

``asru unlearn --model`` and ``asru audit MODEL_DIR`` read the record before anything else;
whatever is there, reading it either gives a record whose card renders, or one error line.
"""

from __future__ import annotations

import json

from conftest import fuzz_examples  # tests/conftest.py
from fuzzing import expect_only_our_errors, mutated_json_file  # tests/fuzzing.py
from hypothesis import given
from hypothesis import strategies as st

from asru.report.model_card import RECORD_FILE, ModelRecord, load_model_record, render_card

VALID = {
    "format": "asru.unlearning/1", "base_model": "target", "parent_model": "runs/a/model", "world": {"path": "world", "hash": "ab" * 32},
    "chain": [
        {"id": "a", "date": "2026-01-01T00:00:00+00:00", "sha256": "0" * 64, "file": "a.yaml", "setting": "personalized", "method": "npo", "run": "runs/a",
         "requests": [{"subject_id": "s000", "subject": "Viya Lanstad", "fact_ids": [1, 2]}]},
        {"id": "b", "date": "2026-01-02T00:00:00+00:00", "sha256": "1" * 64, "file": None, "setting": "complete", "method": "npo", "run": "runs/b",
         "requests": [{"subject_id": "s001", "fact_ids": [0]}]},
    ],
    "method": "npo", "config": {"method": "npo", "seed": 0}, "method_params": {"beta": 0.1}, "run": "runs/b",
    "metrics": {"forget.leakage": 0.0, "retain_other.exact_match": None},
    "request_metrics": {"a": {"metrics": {"forget": {"leakage": 0.0, "n": 4}}, "attacks": {"paraphrase": {"leakage": 0.25}}}},
    "audit": {"verdict": "fail", "failed": ["relearn"], "checks": {"relearn": {"leakage": 0.5, "threshold": 0.05, "passed": False, "n": 4}}, "date": "2026-01-03", "max_leakage": 0.05,
              "requests": {"a": {"verdict": "fail", "failed": ["relearn"], "checks": {"relearn": {"leakage": 0.5}}}}},
    "versions": {"asru": "0.1.0"},
}


def test_the_valid_record_renders():
    card = render_card(ModelRecord.model_validate(VALID), "m")
    assert "**FAIL**" in card and "| 2 | b |" in card and "(default requests)" in card


@fuzz_examples(0.5)
@given(st.data())
def test_an_edited_record_is_read_or_one_error_line(tmp_path_factory, data):
    folder = tmp_path_factory.getbasetemp() / "fuzz_model_card"
    folder.mkdir(exist_ok=True)
    mutated_json_file(folder / RECORD_FILE, json.dumps(VALID), data)
    record = expect_only_our_errors(lambda: load_model_record(folder))
    if record is not None:
        assert render_card(record, folder).startswith("---\n")
