"""Fuzz: a test-time steering artefact (steering.json + steering.safetensors) edited, truncated or replaced."""

from __future__ import annotations

import json

import torch
from conftest import fuzz_examples  # tests/conftest.py
from fuzzing import expect_only_our_errors, mutated_json_file  # tests/fuzzing.py
from hypothesis import given
from hypothesis import strategies as st
from safetensors.torch import save_file

from asru.methods.steering import TestTimeSteering as SteeringMethod  # (renamed: pytest would collect Test*)


@fuzz_examples(0.5)
@given(st.data())
def test_steering_artefact(tmp_path_factory, data):
    folder = tmp_path_factory.getbasetemp() / "fuzz_steering"
    folder.mkdir(exist_ok=True)
    valid = json.dumps({"layer": 1, "threshold": 0.1, "params": {}})
    tensors = {"direction": torch.ones(4), "mu_forget": torch.zeros(4), "mu_retain": torch.zeros(4)}
    if data.draw(st.booleans()):
        tensors.pop(data.draw(st.sampled_from(sorted(tensors))))
    save_file(tensors, str(folder / "steering.safetensors"))
    if data.draw(st.integers(0, 4)) == 0:
        (folder / "steering.safetensors").write_bytes(data.draw(st.binary(max_size=32)))
    mutated_json_file(folder / "steering.json", valid, data)
    expect_only_our_errors(lambda: SteeringMethod.load(folder))


def test_steering_artefact_round_trip(tmp_path):
    tensors = {"direction": torch.ones(4), "mu_forget": torch.zeros(4), "mu_retain": torch.ones(4)}
    save_file(tensors, str(tmp_path / "steering.safetensors"))
    (tmp_path / "steering.json").write_text(json.dumps({"layer": 1, "threshold": 0.25, "params": {}}))
    method = SteeringMethod.load(tmp_path)
    assert method.layer == 1 and method.threshold == 0.25 and torch.equal(method.mu_retain, torch.ones(4))
