"""benchmarks/precision.py: each precision runs in its own process under accelerate's variable, and the ratios read the times."""

import json
import shutil
from pathlib import Path

import pytest

from conftest import benchmark_script  # tests/conftest.py


def _fake_results(train: float, evaluation: float, refusal: float) -> dict:
    forget = {"all": {"leakage_known": 0.0, "refusal_rate_known": refusal, "n_known": 10}, "judge": {"labels": {"refusal_contextual": 0.5}, "names_fact": 0.25}}
    return {
        "timing": {"total_train_seconds": train, "train_seconds": train - 30.0, "eval_seconds": evaluation},
        "metrics": {"forget": forget, "retain_other": {"all": {"exact_match_known": 0.99}}, "utility": {"all": {"exact_match_known": 1.0}}},
    }


def test_each_precision_runs_once_in_its_own_process_and_the_ratios_read_its_times(tmp_path, monkeypatch):
    module = benchmark_script("precision")
    world, model = tmp_path / "world", tmp_path / "model"
    world.mkdir(), model.mkdir()
    calls = []

    def fake_call(command, env, **kwargs):  # stands for `asru unlearn`: writes the run folder it was given
        out = Path(command[command.index("--out") + 1])
        precision = env["ACCELERATE_MIXED_PRECISION"]
        calls.append((precision, command[command.index("--setting") + 1], "OMP_NUM_THREADS" in env))
        out.mkdir(parents=True)
        train = 200.0 if precision == "no" else 125.0
        (out / "results.json").write_text(json.dumps(_fake_results(train, 40.0, 1.0 if precision == "no" else 0.9)))
        return 0

    monkeypatch.setattr(module.subprocess, "call", fake_call)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    record = module.main(["--world", str(world), "--model", str(model), "--out", str(tmp_path / "out"), "--settings", "complete,selective"])
    assert calls == [("no", "complete", False), ("bf16", "complete", False), ("no", "selective", False), ("bf16", "selective", False)]
    complete = record["settings"]["complete"]
    assert complete["runs"]["no"]["total_train_seconds"] == 200.0 and complete["runs"]["bf16"]["forget_refusal"] == 0.9
    assert complete["ratios"]["total_train_seconds"] == 1.6 and complete["ratios"]["eval_seconds"] == 1.0
    assert complete["runs"]["bf16"]["stage1_seconds"] == 95.0 and complete["ratios"]["stage1_seconds"] == 1.789
    assert complete["runs"]["no"]["timed_alone"] is True
    written = json.loads((tmp_path / "out" / "precision.json").read_text())
    assert written["settings"]["selective"]["ratios"]["total_train_seconds"] == 1.6
    assert "| complete | bf16 |" in (tmp_path / "out" / "precision.md").read_text()

    # a finished run is not run again: the row an earlier invocation timed is kept, and the settings not asked stay
    calls.clear()
    timed = complete["runs"]["no"]["wall_seconds"]
    again = module.main(["--world", str(world), "--model", str(model), "--out", str(tmp_path / "out"), "--settings", "complete"])
    assert calls == [] and again["settings"]["complete"]["runs"]["no"]["wall_seconds"] == timed
    assert again["settings"]["complete"]["runs"]["no"]["timed_alone"] is True and "selective" in again["settings"]
    # a column added after a row was timed is read from its folder, the clock kept
    summary = json.loads((tmp_path / "out" / "precision.json").read_text())
    del summary["settings"]["complete"]["runs"]["no"]["stage1_seconds"]
    (tmp_path / "out" / "precision.json").write_text(json.dumps(summary))
    filled = module.main(["--world", str(world), "--model", str(model), "--out", str(tmp_path / "out"), "--settings", "complete"])
    assert filled["settings"]["complete"]["runs"]["no"]["stage1_seconds"] == 170.0 and filled["settings"]["complete"]["runs"]["no"]["wall_seconds"] == timed
    # without that record (another out folder with the same runs): the run's own parts, and the table says so
    (tmp_path / "other").mkdir()
    shutil.copytree(tmp_path / "out" / "precision_runs", tmp_path / "other" / "precision_runs")
    other = module.main(["--world", str(world), "--model", str(model), "--out", str(tmp_path / "other"), "--settings", "complete"])
    assert calls == [] and other["settings"]["complete"]["runs"]["no"]["wall_seconds"] == 240.0
    assert other["settings"]["complete"]["runs"]["no"]["timed_alone"] is False
    rows = [line for line in (tmp_path / "other" / "precision.md").read_text().splitlines() if line.startswith("| complete |")]
    assert [line.endswith("| no |") for line in rows] == [True, True, False]  # the two runs, then the ratios' row


def test_a_missing_world_or_a_failed_run_is_a_clear_error(tmp_path, monkeypatch):
    module = benchmark_script("precision")
    model = tmp_path / "model"
    model.mkdir()
    with pytest.raises(SystemExit):
        module.main(["--world", str(tmp_path / "nowhere"), "--model", str(model), "--out", str(tmp_path / "out")])
    (tmp_path / "world").mkdir()
    with pytest.raises(SystemExit):
        module.main(["--world", str(tmp_path / "world"), "--model", str(model), "--out", str(tmp_path / "out"), "--settings", "complete,forget_all"])
    monkeypatch.setattr(module.subprocess, "call", lambda command, env, **kwargs: 3)
    with pytest.raises(SystemExit, match="the float32 run of complete failed \\(exit code 3\\)"):
        module.main(["--world", str(tmp_path / "world"), "--model", str(model), "--out", str(tmp_path / "out")])
