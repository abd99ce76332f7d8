"""Every registered method, end to end from the CLI (in-process), in the Complete and Selective settings."""

import json

import pytest
import yaml
from typer.testing import CliRunner

import asru.methods.all  # noqa: F401  (registers every method)
from asru.cli import app
from asru.methods.base import METHODS

FAST_ASRU = {"rl": {"steps": 2, "checkpoint_every": 1, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 4}, "forget_items": 4, "retain_items": 4}


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("setting", ["complete", "selective"])
def test_method_writes_a_run_folder(tiny_world, tiny_model_dir, tmp_path, method, setting):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"batch_size": 4, "method_args": FAST_ASRU if method == "asru" else {}}))
    run = tmp_path / "run"
    args = ["unlearn", "--model", str(tiny_model_dir), "--world", str(tiny_world.root), "--out", str(run), "--method", method,
            "--setting", setting, "--forget-ratio", "0.34", "--steps", "2", "--config", str(config)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    results = json.loads((run / "results.json").read_text())
    assert results["method"] == method and results["setting"] == setting
    assert results["metrics"]["forget"]["all"]["n"] > 0
    assert (run / "report.md").is_file() and (run / "report.html").is_file()
    if METHODS[method].trains:
        assert (run / "model" / "model.safetensors").is_file()
    else:
        assert (run / "steering" / "steering.safetensors").is_file()
    if method == "asru":
        assert (run / "training_rl.png").is_file() and (run / "training_train.png").is_file()
        rl_log = json.loads((run / "training_rl.json").read_text())["log"]
        assert len(rl_log) == FAST_ASRU["rl"]["steps"] and {"kl", "entropy", "forget_refusal_rate", "reward_std", "flat_groups"} <= set(rl_log[0])
        assert not any(p.name.startswith(("checkpoint", "grpo_checkpoint")) for p in run.iterdir())  # no leftovers once the model is saved
