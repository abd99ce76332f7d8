"""`asru bench --sequential K` on the tiny world and model: the curve per method, from the step runs, resumable.

The benchmark's inputs are the test fixtures (``prepare_inputs`` patched: no world or target to build),
one method, two requests, one cheap attack: three runs.
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import assert_one_line_error, run_cli  # tests/conftest.py

SEQUENTIAL = ("bench", "--quick", "--sequential", "2", "--methods", "grad_diff", "--subjects", "6", "--attacks", "paraphrase")


@pytest.fixture(scope="module")
def inputs(tiny_world, tiny_model_dir):
    from asru import bench

    patch = pytest.MonkeyPatch()
    patch.setattr(bench, "prepare_inputs", lambda config, console=None: (tiny_world.root, tiny_model_dir, bench.quick_recipe()))
    yield tiny_world, tiny_model_dir
    patch.undo()


@pytest.fixture(scope="module")
def sequential(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("sequential")
    code, stdout, err = run_cli(*SEQUENTIAL, "--out", out)
    assert code == 0, err + stdout
    return out, stdout


def test_each_step_reports_every_request_so_far(sequential, inputs):
    out, stdout = sequential
    _, tiny_model_dir = inputs
    summary = json.loads((out / "sequential.json").read_text())
    assert summary["steps"] == 2 and summary["people_per_step"] == 1 and summary["rows"] == ["target", "grad_diff"]
    assert summary["runs_planned"] == summary["runs_finished"] == 3 and summary["partial"] == [] and summary["not_run"] == []
    assert summary["skipped_methods"] == [] and summary["setting"] == "personalized"
    runs = out / "runs" / "sequential"
    requests = summary["requests"]["0"]
    assert [r["id"] for r in requests] == ["step1", "step2"]
    people = [r["requests"][0]["subject_id"] for r in requests]
    assert len(set(people)) == 2  # different people
    for request in requests:  # the files the runs read, as hashed in every chain
        assert yaml.safe_load((runs / "requests" / "seed0" / f"{request['id']}.yaml").read_text())[0]["subject"] == request["requests"][0]["subject_id"]
    curve = summary["curves"]["grad_diff"]
    for step in (1, 2):
        run = runs / "grad_diff" / "seed0" / f"step{step}"
        results = json.loads((run / "results.json").read_text())
        assert [entry["id"] for entry in results["chain"]] == [f"step{k}" for k in range(1, step + 1)]
        assert [entry["sha256"] for entry in results["chain"]] == [r["sha256"] for r in requests[:step]]
        metrics = curve[str(step)]["metrics"]
        assert curve[str(step)]["runs"] == [str(run)]
        for k in range(1, step + 1):  # the numbers are the run's own, per request
            forget = results["request_metrics"][f"step{k}"]["metrics"]["forget"]
            assert metrics[f"request_raw.step{k}"]["values"] == [forget["leakage"]]
            assert metrics[f"request_known.step{k}"]["values"] == [forget["n_known"]]
        assert f"request_raw.step{step + 1}" not in metrics
        assert metrics["retain_other"]["values"] == [value for value in [results["metrics"]["retain_other"]["all"].get("exact_match_known")] if value is not None]
        assert "attack.paraphrase" in metrics and metrics["wall_seconds"]["n"] == 1
    # step 2 started from step 1's model and recorded the whole chain with it
    step2 = json.loads((runs / "grad_diff" / "seed0" / "step2" / "results.json").read_text())
    assert step2["model"] == str(runs / "grad_diff" / "seed0" / "step1" / "model")
    record = json.loads((runs / "grad_diff" / "seed0" / "step2" / "model" / "unlearning.json").read_text())
    assert [entry["id"] for entry in record["chain"]] == ["step1", "step2"] and record["base_model"] == str(tiny_model_dir)
    # the target row: every request before unlearning
    target = json.loads((runs / "target" / "seed0" / "steps2" / "results.json").read_text())
    assert set(target["request_metrics"]) == {"step1", "step2"} and set(summary["curves"]["target"]) == {"0"}
    md = (out / "sequential.md").read_text()
    assert "# Sequential deletion requests (quick mode" in md and "## After step 2: every request still forgotten?" in md
    assert "## grad_diff" in md and "| step | seeds | step1 | step2 | worst ↓ |" in md
    assert "| 1 | 1/1 | " in md and " | · | " in md and "| 0 (target) | 1/1 |" in md
    assert "![sequential](sequential.png)" in md and (out / "sequential.png").stat().st_size > 1000
    assert summary["goal"]["met_after_last_step"].keys() == {"grad_diff"}
    assert "3 runs: 0 finished (skipped), 0 to resume, 3 new" in stdout and "after each of 2 sequential requests" in stdout


def test_a_second_invocation_skips_the_finished_steps_and_a_longer_one_reuses_them(sequential):
    out, _ = sequential
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("results.json")}
    code, stdout, err = run_cli(*SEQUENTIAL, "--out", out)
    assert code == 0, err
    assert "3 runs: 3 finished (skipped), 0 to resume, 0 new" in stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    before = json.loads((out / "sequential.json").read_text())["requests"]["0"]
    # three requests: the first two are the same, so their steps count as done (only the tables are rebuilt)
    code, stdout, err = run_cli(*SEQUENTIAL[:3], "3", *SEQUENTIAL[4:], "--out", out, "--report-only")
    assert code == 0, err
    summary = json.loads((out / "sequential.json").read_text())
    assert [len(summary["curves"]["grad_diff"][str(step)]["seeds"]) for step in (1, 2, 3)] == [1, 1, 0]
    assert sorted(summary["not_run"]) == ["grad_diff/step3", "target/step0"]
    assert [r["sha256"] for r in summary["requests"]["0"][:2]] == [r["sha256"] for r in before] and len(summary["requests"]["0"]) == 3


def test_a_step_started_with_another_config_is_a_one_line_error(sequential, tmp_path):
    out, _ = sequential
    methods = tmp_path / "methods.yaml"
    methods.write_text("quick: {steps: 3, batch_size: 4, checkpoint_every: 2}\nmethods:\n  - method: grad_diff\n    quick: {steps: 4}\n")
    code, _, err = run_cli(*SEQUENTIAL, "--out", out, "--methods-file", methods)
    assert_one_line_error(code, err, str(out / "runs" / "sequential" / "grad_diff" / "seed0" / "step1"), "steps was 3, now 4")


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("--sequential", "0"), ["field 'sequential'"]),
        (("--sequential", "6", "--subjects", "6"), ["option --sequential", "6 requests of 1 people each need more than 6 people", "--subjects"]),
        (("--sequential", "2", "--methods", "grad_diff,steering"), ["option --sequential", "'steering' is a test-time method"]),
    ],
)
def test_bad_sequential_options_are_one_line_errors(args, fragments, tmp_path):
    code, _, err = run_cli("bench", "--quick", *args, "--out", tmp_path / "out")
    assert_one_line_error(code, err, *fragments)
    assert not (tmp_path / "out" / "runs").exists()


def test_the_benchmark_script_asks_for_five_requests_into_benchmarks_results(monkeypatch):
    import sys

    import asru.cli
    from conftest import benchmark_script

    script = benchmark_script("sequential")
    seen = []
    monkeypatch.setattr(asru.cli, "main", lambda: seen.append(list(sys.argv)))
    for args, expected in (
        ([], ["--out", str(script.RESULTS), "--sequential", "5"]),
        (["--quick"], ["--quick", "--out", str(script.RESULTS / "quick"), "--sequential", "5"]),
        (["--sequential", "2", "--out", "x"], ["--sequential", "2", "--out", "x"]),
    ):
        monkeypatch.setattr(sys, "argv", ["sequential.py", *args])
        script.main()
        assert seen[-1] == ["asru", "bench", *expected]
