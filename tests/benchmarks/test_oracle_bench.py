"""benchmarks/oracle.py on tiny inputs: the target, its oracle and two methods, measure by measure, from their runs."""

from __future__ import annotations

import json

import pytest

from conftest import benchmark_script  # tests/conftest.py


def test_oracle_benchmark_compares_target_oracle_and_methods_from_their_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("ASRU_CACHE", str(tmp_path / "cache"))
    script = benchmark_script("oracle")
    summary = script.main(["--quick", "--subjects", "6", "--methods", "grad_diff,steering", "--out", str(tmp_path / "out")])
    written = json.loads((tmp_path / "out" / "oracle.json").read_text())
    assert written["rows"] == json.loads(json.dumps(summary["rows"])) and written["row_order"] == ["target", "oracle", "grad_diff", "steering"]
    assert written["setting"] == "complete" and written["seed"] == 0 and written["config"]["quick"] is True
    for row, numbers in written["rows"].items():
        results = json.loads((tmp_path / "out" / "oracle_runs" / "runs" / "complete" / row / "seed0" / "results.json").read_text())
        assert numbers["oracle"] == written["oracle_model"] == results["oracle"]["model"]  # every row against the same oracle
        assert numbers["forget_quality"] == results["forget_quality"]["forget_quality"] and numbers["privleak"]["min_k"] == results["membership"]["privleak"]
        assert numbers["prefill_leakage"] == results["attacks"]["prefill"]["leakage"] and numbers["probe_recovery"] == results["linear_probe"]["recovery"]
        assert set(results["attacks"]) <= {"prefill", "steering_removed"}  # only the attack that belongs here
    oracle = written["rows"]["oracle"]
    assert oracle["forget_quality"] == 1.0 and oracle["privleak"] == dict.fromkeys(oracle["privleak"], 0.0) and oracle["probe_gap"] == 0.0
    md = (tmp_path / "out" / "oracle.md").read_text()
    assert "| oracle |" in md and "| grad_diff |" in md and "PrivLeak (Min-K%)" in md and "quick mode" in md
    # a second invocation reuses every run (asru bench's resumability)
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out" / "oracle_runs" / "runs").rglob("results.json")}
    script.main(["--quick", "--subjects", "6", "--methods", "grad_diff,steering", "--out", str(tmp_path / "out")])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
