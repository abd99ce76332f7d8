"""GPU check: ASRU stage 1 and a few GRPO steps in bf16 on a random-init Qwen3-VL of ~2B-parameter shape.

Measures step time, tokens/s and peak GPU memory of each stage through the same code paths as
`asru unlearn --method asru` (the shared trainer for stage 1, `ASRU.refine` for stage 2), and writes
benchmarks/results/gpu.json and gpu.md. Needs a CUDA GPU; nothing here is estimated.

    .venv/bin/python benchmarks/gpu.py                      # on a GPU machine
    .venv/bin/python benchmarks/gpu.py --shape tiny --allow-cpu --out /tmp/gpu-smoke   # smoke test of the script on CPU

The model is Qwen3-VL-2B's shape (text 2048 x 28 layers, FFN 6144, 16 heads / 8 KV heads, vocab
151,936; vision 1024 x 24 blocks, 16 px patches) with random weights and the offline tokenizer;
images are 256 px (64 image tokens). Random weights never emit end-of-turn, so every rollout
runs to ``max_new_tokens``: the GRPO numbers are the worst case for generation length.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from asru.eval.settings import make_splits
from asru.io import atomic_write_json, atomic_write_text
from asru.methods.base import get_method
from asru.models import TinyModelConfig, build_tiny
from asru.pipeline import versions
from asru.report.writer import markdown_table
from asru.rl.grpo import GRPOConfig
from asru.train.finetune import tokenizer_corpus
from asru.train.unlearn import UnlearnConfig, unlearn
from asru.world import WorldConfig, build_world, load_world

RESULTS = Path(__file__).parent / "results"
SHAPES = {
    # Qwen3-VL-2B-Instruct's text and vision towers (its deepstack taps 3 vision layers; here 1)
    "2b": dict(hidden_size=2048, intermediate_size=6144, num_layers=28, num_heads=16, num_kv_heads=8,
               vision_hidden_size=1024, vision_layers=24, vision_heads=16, image_size=256, patch_size=16),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_layers=2, num_heads=2, num_kv_heads=1,
                 vision_hidden_size=32, vision_layers=1, vision_heads=2, image_size=64, patch_size=8),
}
QWEN3_VL_VOCAB = 151_936


def gib(n_bytes: int) -> float:
    return round(n_bytes / 2**30, 2)


def peak_memory() -> int:
    return torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def build_model(shape: str, world):
    model, processor = build_tiny(tokenizer_corpus(world.samples), TinyModelConfig(**SHAPES[shape]))
    if shape == "2b":
        model.resize_token_embeddings(QWEN3_VL_VOCAB)  # the real vocabulary: embedding, lm_head and logits cost
    return model.to(torch.bfloat16), processor


def stage1(model, processor, world, splits, args, out: Path) -> tuple[object, dict]:
    """ASRU stage 1 through the shared trainer; step times from the gaps between loss calls."""
    method = get_method("asru_stage1")
    original = method.loss
    stamps: list[float] = []
    tokens: list[int] = []

    def timed(self, model_, batch):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())
        tokens.append(int(batch.forget["attention_mask"].sum()) + (int(batch.retain["attention_mask"].sum()) if batch.retain else 0))
        return original(self, model_, batch)

    method.loss = timed
    try:
        reset_peak()
        config = UnlearnConfig(method="asru_stage1", steps=args.stage1_steps, batch_size=args.batch_size, dtype="bfloat16",
                               attn_implementation="sdpa", gradient_checkpointing=args.gradient_checkpointing, checkpoint_every=10_000)
        started = time.perf_counter()
        model, _ = unlearn(model, processor, world, splits, config, out / "stage1")
        total = time.perf_counter() - started
    finally:
        method.loss = original
    gaps = [b - a for a, b in zip(stamps, stamps[1:])][1:]  # the first step pays for warm-up
    step = statistics.median(gaps) if gaps else total
    return model, {
        "steps": args.stage1_steps, "batch_size": args.batch_size, "trained": "layers[l].mlp.down_proj",
        "step_seconds_median": round(step, 4), "tokens_per_step_mean": round(statistics.mean(tokens), 1),
        "tokens_per_second": round(statistics.mean(tokens) / step, 1), "wall_seconds_incl_direction": round(total, 2),
        "peak_memory_gib": gib(peak_memory()),
    }


def stage2(model, processor, world, splits, args, out: Path) -> dict:
    """A few GRPO steps (ASRU stage 2) on the stage-1 model: rollouts, rewards, the clipped update."""
    asru = get_method("asru")
    params = asru.parse_params({
        "stage": "2", "forget_items": 32, "retain_items": 32,
        "rl": GRPOConfig(steps=args.grpo_steps, prompts_per_step=args.prompts, group_size=args.group, max_new_tokens=args.max_new_tokens, checkpoint_every=10_000).model_dump(),
    })
    reset_peak()
    started = time.perf_counter()
    _, log = asru.refine(model, processor, world, splits, params, out / "stage2")
    total = time.perf_counter() - started
    rows = log[1:] or log
    step = statistics.median(r["seconds"] for r in rows)
    completion = statistics.mean(r["completion_tokens"] for r in rows)
    return {
        "steps": args.grpo_steps, "prompts_per_step": args.prompts, "group_size": args.group, "max_new_tokens": args.max_new_tokens,
        "trained": "language model (vision frozen), k3 KL to a frozen copy",
        "step_seconds_median": round(step, 3), "completion_tokens_per_step": round(completion, 1),
        "completion_tokens_per_second": round(completion / step, 1), "wall_seconds": round(total, 2),
        "peak_memory_gib": gib(peak_memory()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="2b")
    parser.add_argument("--out", type=Path, default=None, help="folder for gpu.json/gpu.md (default benchmarks/results on a GPU)")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (a smoke test of this script; needs --out)")
    parser.add_argument("--subjects", type=int, default=20)
    parser.add_argument("--stage1-steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--grpo-steps", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        sys.exit("benchmarks/gpu.py needs a CUDA GPU (use --allow-cpu --shape tiny --out DIR for a smoke test)")
    if not cuda and args.out is None:
        sys.exit("--allow-cpu runs must write elsewhere (--out DIR): results/gpu.json holds GPU measurements only")
    out = args.out or RESULTS

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_world(WorldConfig(subjects=args.subjects, image_size=SHAPES[args.shape]["image_size"], utility_questions=20, unknown_people=10), tmp / "world")
        world = load_world(tmp / "world")
        splits = make_splits(world, "complete", 0.1)
        model, processor = build_model(args.shape, world)
        parameters = sum(p.numel() for p in model.parameters())
        model, result_stage1 = stage1(model, processor, world, splits, args, tmp)
        result_stage2 = stage2(model, processor, world, splits, args, tmp)

    result = {
        "date": datetime.date.today().isoformat(),
        "device": torch.cuda.get_device_name() if cuda else "cpu (smoke test, not a measurement)",
        "gpu_memory_total_gib": gib(torch.cuda.get_device_properties(0).total_memory) if cuda else None,
        "versions": versions(),
        "model": {"shape": args.shape, **SHAPES[args.shape], "vocab_size": QWEN3_VL_VOCAB if args.shape == "2b" else None,
                  "parameters": parameters, "dtype": "bfloat16", "attn_implementation": "sdpa", "weights": "random init"},
        "stage1": result_stage1,
        "grpo": result_stage2,
    }
    atomic_write_json(out / "gpu.json", result)
    rows = [
        ["ASRU stage 1", result_stage1["step_seconds_median"], f"{result_stage1['tokens_per_second']:.0f} tokens/s", result_stage1["peak_memory_gib"]],
        ["GRPO (stage 2)", result_stage2["step_seconds_median"], f"{result_stage2['completion_tokens_per_second']:.0f} generated tokens/s", result_stage2["peak_memory_gib"]],
    ]
    table = markdown_table(["stage", "step (s, median)", "throughput", "peak memory (GiB)"], rows)
    atomic_write_text(out / "gpu.md", f"# GPU check ({result['device']}, {result['date']})\n\n{parameters / 1e9:.2f} B parameters, bf16, SDPA.\n\n{table}\n")
    print(table)


if __name__ == "__main__":
    main()
