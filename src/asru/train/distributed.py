"""Data parallelism for every training loop, so that numbers do not move with the number of GPUs.

Under ``accelerate launch --num_processes N`` each step's *global* batch is still drawn by the
seeded schedule of a one-process run; every process then takes its 1/N slice of it
(:func:`shard`), DDP averages the gradients, and the learning-rate schedule steps once per
optimizer step (not N times, accelerate's default for growing effective batches). With a batch
that divides evenly, N processes follow the one-process loss trajectory up to float rounding
(``tests/train/test_distributed.py`` checks it on 2 CPU processes).

Supported: one process (CPU or GPU), DDP, DeepSpeed ZeRO-1/2 (``configs/accelerate``). FSDP and
ZeRO-3 shard the weights themselves; asru merges LoRA, saves the model and evaluates it
in-process after training, which needs whole weights on the main process, so they are refused
with a clear error instead of saving empty tensors. (accelerate builds FSDP only on accelerators: on
CPU the same launch would silently run as DDP, so the refusal reads the launch environment too.)
"""

from __future__ import annotations

import os
from typing import Sequence, TypeVar

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedType

from asru.errors import ConfigError

T = TypeVar("T")


def process_state() -> PartialState:
    """This process's place in an ``accelerate launch`` (rank, device); one process without a launcher.

    Everything asks through here, with the same ``cpu`` flag as :func:`make_accelerator`: accelerate's
    state is a singleton set up by its first caller, and a CPU run must set it up with gloo.
    """
    return PartialState(cpu=not torch.cuda.is_available())


def make_accelerator(global_batch: int = 1, max_grad_norm: float = 1.0, **tracker_options) -> Accelerator:
    """The Accelerator every trainer uses (launch config, mixed precision and DeepSpeed come from ``accelerate launch``).

    ``global_batch`` and ``max_grad_norm`` fill in what DeepSpeed needs before ``prepare`` when no
    dataloader goes through accelerate (ours are seeded index schedules): the per-GPU micro batch
    and the clipping it applies itself. ``tracker_options``: ``asru.train.tracking.tracker_options``.
    """
    accelerator = Accelerator(cpu=not torch.cuda.is_available(), step_scheduler_with_optimizer=False, **tracker_options)
    stage = None
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        plugin = accelerator.state.deepspeed_plugin
        stage = plugin.zero_stage
        plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = max(1, global_batch // accelerator.num_processes)
        plugin.deepspeed_config["gradient_accumulation_steps"] = 1
        plugin.deepspeed_config["gradient_clipping"] = max_grad_norm
    # on CPU accelerate turns an FSDP launch into plain DDP (MULTI_CPU) without a word; the launch's
    # environment still says FSDP was asked, and the answer is the same as on GPUs
    fsdp_asked = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() == "true"
    if accelerator.distributed_type == DistributedType.FSDP or fsdp_asked or stage == 3:
        name = "DeepSpeed ZeRO-3" if stage == 3 else "FSDP"
        raise ConfigError(
            f"{name} shards the weights, and asru saves and evaluates whole models after training: "
            "use DDP (configs/accelerate/ddp.yaml) or DeepSpeed ZeRO-2 (configs/accelerate/deepspeed_zero2.yaml)"
        )
    return accelerator


def check_divisible(count: int, accelerator: Accelerator, what: str) -> None:
    """Every process must get an equal, non-empty slice of ``count`` items (else the trajectory would depend on N)."""
    n = accelerator.num_processes
    if n > 1 and (count < n or count % n):
        raise ConfigError(f"{what} is {count}: with {n} processes it must be a multiple of {n} (each process takes an equal slice of every batch)")


def shard(items: Sequence[T], accelerator: Accelerator) -> list[T]:
    """This process's slice of a global batch (every N-th item, starting at its rank)."""
    return list(items[accelerator.process_index :: accelerator.num_processes])


def mean_over_processes(accelerator: Accelerator, values: dict[str, float]) -> dict[str, float]:
    """Per-step log values averaged over processes (identity with one process)."""
    if accelerator.num_processes == 1 or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=accelerator.device)
    reduced = accelerator.reduce(tensor, reduction="mean")
    return {k: float(v) for k, v in zip(keys, reduced.tolist())}
