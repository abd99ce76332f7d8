"""Data parallelism: 2 CPU processes (gloo) follow the 1-process loss trajectory; ASRU runs under them.

The two launches use the shipped ``configs/accelerate/ddp.yaml`` with ``ACCELERATE_USE_CPU=true``
(accelerate's multi-GPU launcher, torchrun underneath, gloo on CPU).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from asru.config import build_config
from asru.errors import ConfigError
from asru.eval.settings import make_splits
from asru.models import load_vlm
from asru.train.distributed import check_divisible, mean_over_processes, shard
from asru.train.unlearn import UnlearnConfig, unlearn

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "accelerate"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two(*args, cwd: Path) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CONFIGS / "ddp.yaml"),
        "--num_processes", "2", "--mixed_precision", "no", "--num_cpu_threads_per_process", "1",
        "--main_process_ip", "127.0.0.1", "--main_process_port", str(_free_port()), "-m", "asru", *map(str, args),
    ]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_two_processes_follow_the_one_process_loss_trajectory(tiny_world, tiny_model_dir, tmp_path):
    config_file = tmp_path / "run.yaml"
    config_file.write_text(yaml.safe_dump({"method": "grad_diff", "steps": 4, "batch_size": 4, "learning_rate": 1e-3, "forget_ratio": 0.34, "checkpoint_every": 2}))
    result = launch_two("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "two", "--config", config_file, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    two = json.loads((tmp_path / "two" / "train_log.json").read_text())
    assert two["processes"] == 2
    assert not (tmp_path / "two" / "checkpoint").exists()  # the step-2 checkpoint was written and cleaned up
    assert json.loads((tmp_path / "two" / "results.json").read_text())["method"] == "grad_diff"  # evaluated once, by the main process

    config = build_config(UnlearnConfig, config_file)
    model, processor = load_vlm(tiny_model_dir)
    _, one = unlearn(model, processor, tiny_world, make_splits(tiny_world, "complete", 0.34), config, tmp_path / "one")
    assert len(one) == len(two["log"]) == 4
    for a, b in zip(one, two["log"]):
        for key in ("loss", "forget_nll", "retain_nll"):
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-5), (a["step"], key)


def test_asru_stage_1_and_grpo_run_under_two_processes(tiny_world, tiny_model_dir, tmp_path):
    config_file = tmp_path / "asru.yaml"
    config_file.write_text(yaml.safe_dump({
        "method": "asru", "steps": 2, "batch_size": 4, "forget_ratio": 0.34,
        "method_args": {"stage": "both", "forget_items": 4, "retain_items": 4, "rl": {"steps": 2, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 4}},
    }))
    result = launch_two("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", config_file, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "train_log.json").read_text())["processes"] == 2
    assert (tmp_path / "run" / "training_rl.png").is_file() and (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert result.stdout.count("asru on complete") == 1  # one headline: only the main process evaluates


def test_batches_must_split_evenly():
    two = SimpleNamespace(num_processes=2, process_index=1)
    assert shard(list("abcdef"), two) == ["b", "d", "f"]
    check_divisible(4, two, "batch_size")
    with pytest.raises(ConfigError, match="batch_size is 3: with 2 processes it must be a multiple of 2"):
        check_divisible(3, two, "batch_size")
    assert mean_over_processes(SimpleNamespace(num_processes=1), {"loss": 1.5}) == {"loss": 1.5}


def test_shipped_accelerate_configs_are_valid():
    from accelerate.commands.config.config_args import load_config_from_file

    loaded = {p.stem: load_config_from_file(str(p)) for p in CONFIGS.glob("*.yaml")}
    assert set(loaded) == {"ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"}
    assert {k: c.distributed_type.value for k, c in loaded.items()} == {"ddp": "MULTI_GPU", "fsdp": "FSDP", "deepspeed_zero2": "DEEPSPEED", "deepspeed_zero3": "DEEPSPEED"}
    assert loaded["deepspeed_zero2"].deepspeed_config["zero_stage"] == 2 and loaded["deepspeed_zero3"].deepspeed_config["zero_stage"] == 3
    assert all(c.mixed_precision == "bf16" for c in loaded.values())


def test_bf16_and_gradient_checkpointing_train_on_cpu(tiny_world, tiny_model_dir, tmp_path):
    """The GPU path (bf16 weights, SDPA, activation recomputation) on CPU for a few steps."""
    model, processor = load_vlm(tiny_model_dir, dtype="bfloat16", attn_implementation="sdpa", device="auto")
    assert next(model.parameters()).dtype == torch.bfloat16
    config = UnlearnConfig(method="grad_diff", steps=2, batch_size=4, learning_rate=1e-2, dtype="bfloat16", gradient_checkpointing=True)
    before = model.model.language_model.layers[0].mlp.down_proj.weight.detach().clone()
    model, log = unlearn(model, processor, tiny_world, make_splits(tiny_world, "complete", 0.34), config, tmp_path)
    assert model.is_activation_checkpointing and all(torch.isfinite(torch.tensor(row["loss"])) for row in log)
    after = model.model.language_model.layers[0].mlp.down_proj.weight
    assert after.dtype == torch.bfloat16 and not torch.equal(before, after)


@pytest.mark.parametrize("kind, stage, refused", [("FSDP", None, "FSDP shards"), ("DEEPSPEED", 3, "ZeRO-3 shards"), ("DEEPSPEED", 2, None)])
def test_sharded_weights_are_refused_and_deepspeed_gets_its_batch(monkeypatch, kind, stage, refused):
    """Without GPUs or DeepSpeed here, the launch state is faked: what make_accelerator decides from it."""
    from accelerate.utils import DistributedType

    import asru.train.distributed as distributed

    plugin = SimpleNamespace(zero_stage=stage, deepspeed_config={})
    fake = SimpleNamespace(distributed_type=DistributedType[kind], num_processes=4, state=SimpleNamespace(deepspeed_plugin=plugin))
    monkeypatch.setattr(distributed, "Accelerator", lambda **kwargs: fake)
    if refused:
        with pytest.raises(ConfigError, match=f"{refused} the weights.*deepspeed_zero2.yaml"):
            distributed.make_accelerator(8, 0.5)
    else:
        assert distributed.make_accelerator(8, 0.5) is fake
        assert plugin.deepspeed_config == {"train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 1, "gradient_clipping": 0.5}


def test_an_fsdp_launch_on_cpu_is_refused_not_run_as_ddp(monkeypatch):
    """accelerate makes an FSDP launch on CPU a MULTI_CPU (DDP) one; asru still says FSDP is not supported."""
    from accelerate.utils import DistributedType

    import asru.train.distributed as distributed

    fake = SimpleNamespace(distributed_type=DistributedType.MULTI_CPU, num_processes=2)
    monkeypatch.setattr(distributed, "Accelerator", lambda **kwargs: fake)
    assert distributed.make_accelerator(8) is fake
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # what `accelerate launch --config_file configs/accelerate/fsdp.yaml` sets
    with pytest.raises(ConfigError, match="FSDP shards the weights"):
        distributed.make_accelerator(8)
