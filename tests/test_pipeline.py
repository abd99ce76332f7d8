"""Every registered method, end to end through the Python API, in the Complete and Selective settings."""

import json

import pytest

import asru
import asru.methods.all  # noqa: F401  (registers every method)
from asru.methods.base import METHODS
from asru.train.unlearn import UnlearnConfig


@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize("setting", ["complete", "selective"])
def test_method_writes_a_run_folder(tiny_world, tiny_model_dir, tmp_path, method, setting):
    method_args = {"rl": {"steps": 1, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 4}, "forget_items": 4, "retain_items": 4} if method == "asru" else {}
    config = UnlearnConfig(method=method, setting=setting, forget_ratio=0.34, steps=2, batch_size=4, method_args=method_args)
    results = asru.unlearn(tiny_model_dir, tiny_world.root, tmp_path, config)
    assert results["method"] == method and results["setting"] == setting
    assert json.loads((tmp_path / "results.json").read_text())["metrics"]["forget"]["all"]["n"] > 0
    assert (tmp_path / "report.md").is_file() and (tmp_path / "report.html").is_file()
    if METHODS[method].trains:
        assert (tmp_path / "model" / "model.safetensors").is_file()
    else:
        assert (tmp_path / "steering" / "steering.safetensors").is_file()
    if method == "asru":
        assert (tmp_path / "training_rl.png").is_file() and (tmp_path / "training_train.png").is_file()
