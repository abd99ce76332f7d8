"""Determinism: the same seed and config give the same results.json, answers and weights.

Two separate processes with different PYTHONHASHSEED (so nothing may depend on the iteration
order of string sets) each run a baseline (GradDiff) and ASRU (both stages, small GRPO) through
the Python API (``asru.pipeline.unlearn``, what ``asru unlearn`` calls), one process per core.
results.json is compared without its provenance (wall-clock ``timing``, each chain entry's start
date and run folder: what legitimately differs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from conftest import results_without_provenance  # tests/conftest.py
from safetensors.torch import load_file

CONFIGS = {
    "grad_diff": {"method": "grad_diff", "steps": 6, "batch_size": 4, "forget_ratio": 0.34, "seed": 3},
    # both ASRU stages, GRPO kept small: 2 RL steps of 2 prompts x 2 sampled answers
    "asru": {
        "method": "asru", "steps": 3, "batch_size": 4, "forget_ratio": 0.34, "seed": 3,
        "method_args": {"layer": 1, "forget_items": 6, "retain_items": 6, "rl": {"steps": 2, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 8}},
    },
}

RUN_BOTH = """
import json, sys
from asru.pipeline import unlearn
from asru.train.unlearn import UnlearnConfig
model, world, out, configs = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
for name, config in configs.items():
    unlearn(model, world, f"{out}/{name}", UnlearnConfig(**config))
"""


def test_same_seed_same_results(tiny_world, tiny_model_dir, tmp_path):
    processes = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONHASHSEED": hash_seed}
        command = [sys.executable, "-c", RUN_BOTH, str(tiny_model_dir), str(tiny_world.root), str(tmp_path / hash_seed), json.dumps(CONFIGS)]
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for process in processes:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err

    def results(run: Path) -> dict:
        return results_without_provenance(run / "results.json")

    for method in CONFIGS:
        a, b = tmp_path / "1" / method, tmp_path / "2" / method
        assert results(a)["method"] == method
        assert results(a) == results(b), method
        assert (a / "answers.jsonl").read_bytes() == (b / "answers.jsonl").read_bytes(), method
        assert json.loads((a / "train_log.json").read_text())["log"] == json.loads((b / "train_log.json").read_text())["log"], method
        left, right = load_file(str(a / "model" / "model.safetensors")), load_file(str(b / "model" / "model.safetensors"))
        assert left.keys() == right.keys() and all(torch.equal(left[k], right[k]) for k in left), method
