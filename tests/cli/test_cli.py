"""The CLI end to end on the tiny world: run folders, one-line errors with exit code 2.

In-process through the real entry point (``run_cli``: a subprocess spent ~8 s importing torch
and transformers per call); one test runs ``python -m asru`` itself, as do the kill tests of
tests/cli/test_faults.py.
"""

import json
import subprocess
import sys

import pytest

from conftest import run_cli as asru  # tests/conftest.py


def test_unlearn_writes_a_complete_run_folder(tiny_world, tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    code, out, err = asru(
        "unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--method", "grad_diff",
        "--steps", "2", "--forget-ratio", "0.34", "--attacks", "paraphrase,cross_image,relearn",
    )
    assert code == 0, err
    results = json.loads((run / "results.json").read_text())
    assert {"method", "setting", "model", "metrics", "attacks", "timing", "versions"} <= set(results)
    assert results["method"] == "grad_diff" and set(results["attacks"]) == {"paraphrase", "cross_image", "relearn"}
    for split in ("forget", "retain_other", "utility", "refusal", "test_forget"):
        assert "leakage" in results["metrics"][split]["all"] or split in ("utility", "refusal")
    assert {"image", "text"} <= set(results["metrics"]["forget"])
    assert (run / "model" / "model.safetensors").is_file()
    assert (run / "config.yaml").is_file()
    html = (run / "report.html").read_text()
    assert "<table>" in html and "data:image/png;base64," in html
    for png in ("labels.png", "forget_vs_retain.png", "attacks.png", "training_train.png"):
        assert (run / png).stat().st_size > 1000
    answers = [json.loads(line) for line in (run / "answers.jsonl").read_text().splitlines()]
    assert answers and {"question", "gold", "pred", "split"} <= set(answers[0])


def test_steering_method_saves_its_artifact_and_reports_steering_removed(tiny_world, tiny_model_dir, tmp_path):
    run = tmp_path / "steer"
    code, _, err = asru("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--method", "steering", "--forget-ratio", "0.34")
    assert code == 0, err
    assert (run / "steering" / "steering.safetensors").is_file()
    assert "steering_removed" in json.loads((run / "results.json").read_text())["attacks"]


def test_report_merges_runs(tmp_path, tiny_world, tiny_model_dir):
    runs = []
    for method, folder in (("ga", "ga"), ("idk", "refusal")):
        run = tmp_path / folder
        assert asru("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--method", method, "--steps", "1")[0] == 0
        runs.append(run)
    code, out, err = asru("report", *runs, "--out", tmp_path / "cmp")
    assert code == 0, err
    table = (tmp_path / "cmp" / "comparison.md").read_text()
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("|")][2:]
    assert rows == ["ga", "idk@refusal"]  # a run folder named after its method is just that name
    assert (tmp_path / "cmp" / "forget_vs_retain.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "args, message",
    [
        (["unlearn", "--model", "/nonexistent", "--world", "/nonexistent", "--out", "x"], "world folder not found"),
        (["eval", "/nonexistent", "--world", "/nonexistent", "--out", "x"], "nonexistent"),
        (["finetune", "--world", "/nonexistent", "--out", "x"], "nonexistent"),
    ],
)
def test_bad_paths_give_one_line_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = asru(*args)
    assert code == 2
    assert "Traceback" not in err and message in err
    assert len(err.strip().splitlines()) <= 2


def test_python_m_asru_gives_the_one_line_error_too(tmp_path):
    """The real process: nothing printed at import time adds lines to the error, and the exit code is 2."""
    args = ["unlearn", "--model", "/nonexistent", "--world", "/nonexistent", "--out", "x"]
    result = subprocess.run([sys.executable, "-m", "asru", *args], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "world folder not found" in lines[0] and "Traceback" not in result.stderr, result.stderr


def test_config_file_unknown_key_and_unknown_method(tiny_world, tiny_model_dir, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("method: ga\nstepz: 3\n")
    code, _, err = asru("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "r", "--config", config)
    assert code == 2 and "c.yaml" in err and "stepz" in err and "Traceback" not in err
    code, _, err = asru("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "r", "--method", "magic")
    assert code == 2 and "unknown method 'magic'" in err


def test_world_build_is_deterministic(tmp_path):
    for name in ("a", "b"):
        code, out, err = asru("world", "build", "--out", tmp_path / name, "--subjects", "3", "--seed", "5")
        assert code == 0, err
    a = json.loads((tmp_path / "a" / "world.json").read_text())["content_hash"]
    b = json.loads((tmp_path / "b" / "world.json").read_text())["content_hash"]
    assert a == b


def test_eval_with_judge_perplexity_records_it(tiny_world, tiny_model_dir, tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text("judge_perplexity: true\n")
    code, _, err = asru("eval", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", config)
    assert code == 0, err
    answers = [json.loads(line) for line in (tmp_path / "run" / "answers.jsonl").read_text().splitlines()]
    assert all(a["perplexity"] > 1.0 for a in answers)


def test_sweep_command(tiny_world, tiny_model_dir, tmp_path):
    code, out, err = asru("sweep", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "sweep.json", "--forget-ratio", "0.34")
    assert code == 0, err
    assert json.loads((tmp_path / "sweep.json").read_text())["best_layer"] in (0, 1)


def test_a_finished_command_destroys_the_launchs_process_group_and_a_failed_one_does_not(tmp_path, monkeypatch):
    """Under ``accelerate launch`` the process group is destroyed before interpreter shutdown (gloo's threads can
    otherwise abort a rank after its work is done), but only after a command that finished: after an error a rank
    still in a collective would wait for the others."""
    import torch.distributed

    calls, launched = [], [True]
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: launched[0])
    monkeypatch.setattr(torch.distributed, "destroy_process_group", lambda: calls.append("destroyed"))
    code, _, _ = asru("world", "build", "--out", tmp_path / "w", "--subjects", "2")
    assert code == 0 and calls == ["destroyed"]
    code, _, err = asru("unlearn", "--model", tmp_path / "missing", "--world", tmp_path / "w", "--out", tmp_path / "run")
    assert code == 2 and "missing" in err and calls == ["destroyed"]  # an error: not again
    launched[0] = False  # no launch: nothing to destroy
    assert asru("world", "build", "--out", tmp_path / "w2", "--subjects", "2")[0] == 0 and calls == ["destroyed"]
