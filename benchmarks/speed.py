"""Benchmark: speed of our GRPO loop against TRL's, of the batched evaluator, of steering, and LoRA memory.

Everything runs on one random-init tiny Qwen3-VL built from a config (``asru.models.build_tiny``)
and a small embedded world, in one process (the memory numbers in child processes), so that every
comparison is a ratio of two things measured side by side on the same machine at the same time:

(a) GRPO: our ``asru.rl.grpo`` against TRL's ``GRPOTrainer`` -- same model, image prompts, group
    size, completion length, temperature, KL coefficient, clipping, learning rate and reward
    callable; steps/s of each and the mean reward per step (a toy reward both can learn).
(b) evaluation: answers/s of ``asru.eval.generate.generate_answers`` (what ``evaluate`` calls)
    against a one-by-one ``model.generate`` loop on the same questions, and whether they agree.
(c) steering: generation with the test-time steering hooks (method ``steering``) against without.
(d) memory: peak memory of one LoRA training step against one full fine-tuning step.

Writes benchmarks/results/speed.json and speed.md.

    .venv/bin/python benchmarks/speed.py [--quick] [--out DIR] [--profile FILE] [--threads N]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from asru.data.collate import Encoder
from asru.io import atomic_write_json, atomic_write_text
from asru.models import TinyModelConfig, build_tiny, load_vlm, save_vlm
from asru.pipeline import versions
from asru.report.writer import markdown_table
from asru.world import WorldConfig, build_world, load_world

RESULTS = Path(__file__).parent / "results"

# Sizes: the full run fits in ~5 minutes on 2 shared CPU cores, --quick in seconds.
FULL = {
    "world": {"subjects": 8, "utility_questions": 24, "unknown_people": 6},
    "model": {},  # TinyModelConfig defaults: text 256 x 4 layers, vision 128 x 2 layers, 16 image tokens
    "grpo": {"prompts": 16, "prompts_per_step": 4, "group_size": 8, "max_new_tokens": 24, "steps": 12},
    "eval": {"questions": 64, "max_new_tokens": 16, "batch_size": 64, "repeats": 2},
    "memory_model": {"hidden_size": 512, "intermediate_size": 2048, "num_layers": 4, "num_heads": 8, "num_kv_heads": 4},
    "memory_batch": 16,
}
QUICK = {
    "world": {"subjects": 4, "utility_questions": 8, "unknown_people": 3},
    "model": {"hidden_size": 64, "intermediate_size": 128, "num_layers": 2, "num_heads": 2, "num_kv_heads": 1, "vision_hidden_size": 32, "vision_layers": 1, "vision_heads": 2},
    "grpo": {"prompts": 4, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 4, "steps": 3},
    "eval": {"questions": 6, "max_new_tokens": 4, "batch_size": 64, "repeats": 1},
    "memory_model": {"hidden_size": 128, "intermediate_size": 512, "num_layers": 2, "num_heads": 2, "num_kv_heads": 1, "vision_hidden_size": 32, "vision_layers": 1, "vision_heads": 2},
    "memory_batch": 4,
}
GRPO_SHARED = {"temperature": 1.0, "top_p": 1.0, "kl_coef": 0.04, "clip_low": 0.2, "clip_high": 0.3, "learning_rate": 5e-3, "max_grad_norm": 1.0}
LORA_R = 8
GRPO_NOTES = [
    "Profiled first (cProfile, `--profile FILE`): a step of our loop was sampling (`generate`), the reference pass, "
    "the policy pass and its backward -- nearly all of it in the model's matmuls, so the only real saving was doing fewer of them.",
    "Each group's completions share one prompt (and image), and TRL, like our loop before, ran it group_size times in every "
    "pass, the vision tower included. Now the scoring passes run each prompt once with the KV cache on, repeat the cache for "
    "the group and run the completions on top, with logits only where they are scored (`shared_prompt_logprobs`); sampling "
    "prefills each prompt once and `generate` continues from the repeated cache (`shared_prompt_generate`). Same log-probs "
    "and gradients as the full forward, same greedy outputs (tests/rl/test_grpo_shared_prompt.py, Qwen3-VL, LLaVA and LoRA).",
    "Before this change the same interleaved comparison gave ours 1.05× TRL (3.72 s against 3.93 s a step, 2026-11-23, same "
    "settings); it is the whole of the difference between the two trainers.",
    "A random-init policy sampled an `<|image_pad|>` token and the next scoring pass failed (\"Image features and image tokens "
    "do not match\"); sampling now suppresses the vision placeholder tokens (given to TRL too, so both sample alike).",
    "torch runs 1 intra-op thread here (`--threads`): with its default of 2 on 2 cores shared with other jobs, OpenMP "
    "spin-waiting made a 6-answer generation of the tiny model 2.0 s instead of 0.05 s. Every comparison uses the same setting.",
]


# ---------------------------------------------------------------------------------------------
# (a) GRPO against TRL


def completion_text(completion) -> str:
    """TRL passes conversational completions as [{"role": "assistant", "content": text}]; ours as text."""
    if isinstance(completion, list):
        completion = completion[0]["content"]
    return completion.strip()


def vowel_reward(prompts, completions, **_) -> list[float]:
    """The toy reward both trainers optimise: the share of a completion's letters that are vowels."""
    rewards = []
    for completion in completions:
        letters = [c for c in completion_text(completion).lower() if c.isalpha()]
        rewards.append(sum(c in "aeiou" for c in letters) / len(letters) if letters else 0.0)
    return rewards


def grpo_items(world, count: int):
    """The first ``count`` image questions (qa form), a fixed set both trainers sample prompts from."""
    items = [s for s in world.samples if s.kind == "fact" and s.form == "qa" and s.modality == "image"]
    return items[:count]


def freeze_vision(model) -> None:
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(".visual." not in f".{name}")


TIMING = (
    "the two trainers run in two threads and take turns step by step, handing over inside their reward call, so both see the "
    "same load from the rest of the machine and never run at once; a step is timed from getting the turn back to the next "
    "reward call (the rest of one step plus the next step's sampling: a full cycle, measured the same way for both; "
    "the first sampling, with warm-up, is left out)."
)


class Turns:
    """Two trainers in two threads take turns, one step each, handing over inside their reward call (see TIMING)."""

    def __init__(self, first: str, second: str):
        self.condition = threading.Condition()
        self.names = (first, second)
        self.turn = first
        self.finished: set[str] = set()
        self.marks: dict[str, list[tuple[str, float, float]]] = {first: [], second: []}

    def other(self, name: str) -> str:
        return self.names[1] if name == self.names[0] else self.names[0]

    def take(self, name: str) -> None:
        with self.condition:
            self.condition.wait_for(lambda: self.turn == name or self.other(name) in self.finished)

    def hand_over(self, name: str) -> None:
        self.marks[name].append(("end", time.perf_counter(), time.process_time()))
        with self.condition:
            self.turn = self.other(name)
            self.condition.notify_all()
        self.take(name)
        self.marks[name].append(("start", time.perf_counter(), time.process_time()))

    def finish(self, name: str) -> None:
        with self.condition:
            self.finished.add(name)
            self.turn = self.other(name)
            self.condition.notify_all()

    def reward(self, name: str):
        def reward(prompts, completions, **kwargs):
            self.hand_over(name)
            return vowel_reward(prompts, completions, **kwargs)

        reward.__name__ = "vowel_reward"  # TRL logs it under this name
        return reward

    def steps(self, name: str) -> dict[str, list[float]]:
        """Wall and CPU seconds of each full step between two reward calls (none before the first)."""
        marks = self.marks[name]
        starts = [m for m in marks if m[0] == "start"]
        ends = [m for m in marks if m[0] == "end"]
        pairs = list(zip(starts, ends[1:]))
        return {"wall": [e[1] - s[1] for s, e in pairs], "cpu": [e[2] - s[2] for s, e in pairs]}


def ours_trainer(model_dir: Path, world, items, sizes: dict, seed: int, reward):
    from asru.rl.grpo import GRPOConfig, grpo

    model, processor = load_vlm(model_dir)
    reference, _ = load_vlm(model_dir)
    freeze_vision(model)
    reference.requires_grad_(False)
    config = GRPOConfig(
        steps=sizes["steps"], prompts_per_step=sizes["prompts_per_step"], group_size=sizes["group_size"],
        max_new_tokens=sizes["max_new_tokens"], seed=seed, checkpoint_every=10**6, **GRPO_SHARED,
    )
    encoder = Encoder(processor, world.root)

    def train() -> dict:
        log = grpo(model, reference, processor, encoder, items, [False] * len(items), [("vowels", reward, 1.0)], config)
        return {"rewards": [row["reward"] for row in log], "completion_tokens": [row["completion_tokens"] for row in log]}

    return train


def trl_trainer(model_dir: Path, world, items, sizes: dict, seed: int, reward, out_dir: Path):
    from datasets import Dataset
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer

    from asru.models.layers import placeholder_token_ids

    model, processor = load_vlm(model_dir)
    freeze_vision(model)
    encoder = Encoder(processor, world.root)
    dataset = Dataset.from_dict(
        {"prompt": [[{"role": "user", "content": s.question}] for s in items], "image": [encoder.load_image(s.image) for s in items]}
    )
    args = TRLConfig(
        output_dir=str(out_dir),
        num_generations=sizes["group_size"],
        per_device_train_batch_size=sizes["prompts_per_step"] * sizes["group_size"],  # TRL counts completions
        max_completion_length=sizes["max_new_tokens"],
        max_steps=sizes["steps"],
        temperature=GRPO_SHARED["temperature"],
        top_p=GRPO_SHARED["top_p"],
        top_k=0,
        beta=GRPO_SHARED["kl_coef"],
        epsilon=GRPO_SHARED["clip_low"],
        epsilon_high=GRPO_SHARED["clip_high"],
        learning_rate=GRPO_SHARED["learning_rate"],
        max_grad_norm=GRPO_SHARED["max_grad_norm"],
        loss_type="grpo",  # token mean per completion, then batch mean: what ours computes
        scale_rewards="group",
        num_iterations=1,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
        gradient_checkpointing=False,
        report_to="none",
        logging_steps=1,
        save_strategy="no",
        disable_tqdm=True,
        seed=seed,
        dataloader_num_workers=0,
        generation_kwargs={"suppress_tokens": placeholder_token_ids(model)},  # as ours: no sampled image placeholders
    )
    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset, processing_class=processor)

    def train() -> dict:
        trainer.train()
        history = [row for row in trainer.state.log_history if "reward" in row]
        completions = sizes["prompts_per_step"] * sizes["group_size"]
        return {"rewards": [row["reward"] for row in history], "completion_tokens": [round(row.get("completions/mean_length", 0) * completions) for row in history]}

    return train


def same_prompt_tokens(model_dir: Path, world, items) -> bool:
    """Our encoder and TRL's processor call on its conversational prompt give the same token ids."""
    from trl.data_utils import prepare_multimodal_messages

    _, processor = load_vlm(model_dir)
    encoder = Encoder(processor, world.root)
    for sample in items:
        ours = encoder.encode_sample(sample, with_answer=False).input_ids
        image = encoder.load_image(sample.image)
        messages = prepare_multimodal_messages([{"role": "user", "content": sample.question}], images=[image])
        theirs = processor.apply_chat_template(conversation=[messages], add_generation_prompt=True, tokenize=True, return_dict=True)["input_ids"][0]
        if list(theirs) != ours:
            return False
    return True


def bench_grpo(model_dir: Path, world, sizes: dict, folder: Path, profile_path: Path | None) -> dict:
    """Both trainers from the same weights, taking turns step by step (ours in the main thread)."""
    import trl

    items = grpo_items(world, sizes["prompts"])
    turns = Turns("ours", "trl")
    ours = ours_trainer(model_dir, world, items, sizes, 0, turns.reward("ours"))
    theirs = trl_trainer(model_dir, world, items, sizes, 0, turns.reward("trl"), folder / "trl")
    results: dict[str, dict] = {}
    errors: list[BaseException] = []

    def run_trl() -> None:
        turns.take("trl")
        try:
            results["trl"] = theirs()
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)
        finally:
            turns.finish("trl")

    thread = threading.Thread(target=run_trl, name="trl", daemon=True)
    thread.start()
    profiler = None
    if profile_path is not None:
        import cProfile

        profiler = cProfile.Profile()  # profiles the main thread: ours only
        profiler.enable()
    try:
        results["ours"] = ours()
    finally:
        if profiler is not None:
            import pstats

            profiler.disable()
            with open(profile_path, "w") as handle:
                pstats.Stats(profiler, stream=handle).sort_stats("cumulative").print_stats(60)
        turns.finish("ours")
        thread.join()
    if errors:
        raise errors[0]
    for name, run in results.items():
        steps = turns.steps(name)
        run["step_wall_seconds"] = steps["wall"]
        run["step_cpu_seconds"] = steps["cpu"]
        run["median_step_wall_seconds"] = statistics.median(steps["wall"])
        run["median_step_cpu_seconds"] = statistics.median(steps["cpu"])
        run["steps_per_second"] = 1 / run["median_step_wall_seconds"]
        run["steps_per_cpu_second"] = 1 / run["median_step_cpu_seconds"]
        run["completion_tokens_per_second"] = sum(run["completion_tokens"][1:]) / sum(steps["wall"])
    half = max(len(results["ours"]["rewards"]) // 2, 1)
    return {
        "trl_version": trl.__version__,
        "prompts": "image questions (one 64 px portrait each, 16 image tokens), conversational",
        "same_prompt_tokens": same_prompt_tokens(model_dir, world, items),
        "timing": TIMING,
        "settings": {**sizes, **GRPO_SHARED, "trainable": "language model (vision tower frozen)", "reward": "share of vowels among the completion's letters"},
        "ours": results["ours"],
        "trl": results["trl"],
        "speedup_steps_per_second": results["ours"]["steps_per_second"] / results["trl"]["steps_per_second"],
        "speedup_cpu": results["ours"]["steps_per_cpu_second"] / results["trl"]["steps_per_cpu_second"],
        "reward_first_half": {name: statistics.mean(run["rewards"][:half]) for name, run in results.items()},
        "reward_second_half": {name: statistics.mean(run["rewards"][half:] or run["rewards"]) for name, run in results.items()},
    }


def bench_grpo_phases(model_dir: Path, world, sizes: dict, repeats: int) -> dict:
    """What made the difference: each phase of our step on one batch, the plain full-batch call against the
    prompt-shared one that ``grpo`` uses (alternating, best of ``repeats``)."""
    from asru.models.layers import placeholder_token_ids
    from asru.rl.grpo import completion_logprobs, completion_mask, mrope_module, shared_prompt_generate, shared_prompt_logprobs

    model, processor = load_vlm(model_dir)
    reference, _ = load_vlm(model_dir)
    freeze_vision(model)
    encoder = Encoder(processor, world.root)
    tokenizer = processor.tokenizer
    group = sizes["group_size"]
    prompts = [encoder.encode_sample(s, with_answer=False) for s in grpo_items(world, sizes["prompts_per_step"])]
    batch = encoder.collate([p for p in prompts for _ in range(group)])
    prompt_batch = encoder.collate(prompts)
    batch.pop("labels"), prompt_batch.pop("labels")
    width = batch["input_ids"].shape[1]
    sampling = dict(do_sample=True, temperature=GRPO_SHARED["temperature"], top_p=GRPO_SHARED["top_p"], top_k=0, max_new_tokens=sizes["max_new_tokens"],
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, suppress_tokens=placeholder_token_ids(model))
    mrope, reference_mrope = mrope_module(model), mrope_module(reference)
    model.eval()
    with torch.no_grad():
        sequences = model.generate(**batch, **sampling)
    attention = torch.cat([batch["attention_mask"], completion_mask(sequences[:, width:], tokenizer.eos_token_id)], dim=1)

    @torch.no_grad()
    def sample(shared: bool):
        model.eval()
        return shared_prompt_generate(model, batch, prompt_batch, group, mrope, **sampling) if shared else model.generate(**batch, **sampling)

    @torch.no_grad()
    def reference_pass(shared: bool):
        if shared:
            return shared_prompt_logprobs(reference, prompt_batch, group, sequences, attention, width, mrope=reference_mrope)
        return completion_logprobs(reference, batch, sequences, attention, width)

    def policy_pass(shared: bool):
        model.train()
        if shared:
            logprobs = shared_prompt_logprobs(model, prompt_batch, group, sequences, attention, width, mrope=mrope)
        else:
            logprobs = completion_logprobs(model, batch, sequences, attention, width)
        logprobs.mean().backward()
        model.zero_grad(set_to_none=True)

    phases = {}
    for name, fn in (("sampling (generate)", sample), ("reference log-probs", reference_pass), ("policy log-probs + backward", policy_pass)):
        times = {"plain": [], "shared": []}
        for _ in range(repeats):
            for variant in ("plain", "shared"):
                times[variant].append(timed(lambda: fn(variant == "shared"))[1])
        phases[name] = {variant: min(values) for variant, values in times.items()}
        phases[name]["speedup"] = phases[name]["plain"] / phases[name]["shared"]
    return {
        "repeats": repeats,
        "batch": f"{sizes['prompts_per_step']} prompts × {group} completions, prompt {width} tokens, completions {sequences.shape[1] - width} tokens",
        "phases": phases,
        "plain_total": sum(p["plain"] for p in phases.values()),
        "shared_total": sum(p["shared"] for p in phases.values()),
    }


# ---------------------------------------------------------------------------------------------
# (b) batched evaluator against a one-by-one loop, (c) steering overhead


def eval_questions(world, count: int):
    """A mix of text and image questions (every form), interleaved so both modalities are in."""
    pool = [s for s in world.samples if s.kind in ("fact", "identity", "utility")]
    text = [s for s in pool if s.modality == "text"]
    image = [s for s in pool if s.modality == "image"]
    mixed = [s for pair in zip(text, image) for s in pair]
    return mixed[:count]


@torch.no_grad()
def one_by_one(model, encoder: Encoder, prompts, max_new_tokens: int) -> list[str]:
    """The naive loop: one ``model.generate`` call per question, same greedy settings."""
    model.eval()
    tokenizer = encoder.tokenizer
    answers = []
    for prompt in prompts:
        batch = encoder.collate([prompt])
        batch.pop("labels")
        output = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        answers.append(tokenizer.decode(output[0, batch["input_ids"].shape[1] :], skip_special_tokens=True).strip())
    return answers


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def bench_eval(model_dir: Path, world, sizes: dict) -> dict:
    from asru.eval.generate import generate_answers

    model, processor = load_vlm(model_dir)
    encoder = Encoder(processor, world.root)
    questions = eval_questions(world, sizes["questions"])
    prompts = [encoder.encode_sample(s, with_answer=False) for s in questions]
    batched_times, loop_times = [], []
    for _ in range(sizes["repeats"]):  # alternate, keep the best of each: other load on the machine only slows things down
        batched, seconds = timed(lambda: generate_answers(model, encoder, prompts, max_new_tokens=sizes["max_new_tokens"], batch_size=sizes["batch_size"]))
        batched_times.append(seconds)
        looped, seconds = timed(lambda: one_by_one(model, encoder, prompts, sizes["max_new_tokens"]))
        loop_times.append(seconds)
    agree = sum(a == b for a, b in zip(batched, looped))
    n = len(prompts)
    return {
        "questions": n,
        "image_questions": sum(s.modality == "image" for s in questions),
        "max_new_tokens": sizes["max_new_tokens"],
        "batch_size": sizes["batch_size"],
        "batched_seconds": min(batched_times),
        "loop_seconds": min(loop_times),
        "batched_answers_per_second": n / min(batched_times),
        "loop_answers_per_second": n / min(loop_times),
        "speedup": min(loop_times) / min(batched_times),
        "answers_agree": agree,
        "agreement": agree / n,
        "disagreements": [{"question": q.question, "batched": a, "one_by_one": b} for q, a, b in zip(questions, batched, looped) if a != b][:5],
    }


def bench_steering(model_dir: Path, world, sizes: dict) -> dict:
    from asru.eval.generate import generate_answers
    from asru.eval.settings import make_splits
    from asru.methods.steering import TestTimeSteering

    model, processor = load_vlm(model_dir)
    encoder = Encoder(processor, world.root)
    splits = make_splits(world, "complete", 0.25)
    fitted, fit_seconds = timed(lambda: TestTimeSteering(TestTimeSteering.parse_params({}), None).fit(model, processor, world, splits))
    questions = eval_questions(world, sizes["questions"])
    prompts = [encoder.encode_sample(s, with_answer=False) for s in questions]

    def plain():
        return generate_answers(model, encoder, prompts, max_new_tokens=sizes["max_new_tokens"], batch_size=sizes["batch_size"])

    def steered():
        with fitted.apply(model):
            return generate_answers(model, encoder, prompts, max_new_tokens=sizes["max_new_tokens"], batch_size=sizes["batch_size"])

    times: dict[str, list[float]] = {"plain": [], "steered": []}
    cpu: dict[str, list[float]] = {"plain": [], "steered": []}
    answers: dict[str, list[str]] = {}
    runs = {"plain": plain, "steered": steered}
    for repeat in range(2 * sizes["repeats"] + 1):  # alternating which goes first; best of each
        for name in (("plain", "steered") if repeat % 2 == 0 else ("steered", "plain")):
            started_cpu = time.process_time()
            answers[name], seconds = timed(runs[name])
            times[name].append(seconds)
            cpu[name].append(time.process_time() - started_cpu)
    plain_times, steered_times = times["plain"], times["steered"]
    plain_answers, steered_answers = answers["plain"], answers["steered"]
    return {
        "questions": len(prompts),
        "max_new_tokens": sizes["max_new_tokens"],
        "layer": fitted.layer,
        "gated": fitted.params.gated,
        "fit_seconds": fit_seconds,
        "plain_seconds": min(plain_times),
        "steered_seconds": min(steered_times),
        "overhead_ratio": min(steered_times) / min(plain_times),
        "overhead_ratio_cpu": min(cpu["steered"]) / min(cpu["plain"]),
        "repeats": len(plain_times),
        "answers_changed": sum(a != b for a, b in zip(plain_answers, steered_answers)),
    }


# ---------------------------------------------------------------------------------------------
# (d) peak memory of a LoRA training step against a full fine-tuning step (child processes)


def _rss_peak_reset() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False where not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_child(model_dir: Path, world_dir: Path, mode: str, batch_size: int, steps: int = 2) -> dict:
    """One process, one mode: load, then ``steps`` AdamW steps on a batch; peak memory of the steps."""
    from asru.methods.losses import answer_nll
    from asru.train.unlearn import UnlearnConfig, _trainable_parameters

    torch.manual_seed(0)
    world = load_world(world_dir)
    model, processor = load_vlm(model_dir)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    model = _trainable_parameters(model, UnlearnConfig(lora_r=LORA_R if mode == "lora" else 0), None)
    model.train()
    encoder = Encoder(processor, world.root)
    samples = [s for s in world.samples if s.kind == "fact" and s.form == "qa"][:batch_size]
    batch = {k: v.to(device) for k, v in encoder.collate([encoder.encode_sample(s) for s in samples]).items()}
    labels = batch.pop("labels")
    # warm-up pass (first-call kernel setup, weights paged in), its gradients freed before measuring
    answer_nll(model(**batch).logits, labels).mean().backward()
    model.zero_grad(set_to_none=True)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base_cuda = torch.cuda.memory_allocated()
    reset = _rss_peak_reset()
    base_rss = _status_kib("VmRSS")
    for _ in range(steps):
        loss = answer_nll(model(**batch).logits, labels).mean()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    result = {
        "mode": mode,
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "total_parameters": sum(p.numel() for p in model.parameters()),
        "rss_before_mib": base_rss / 1024,
        "rss_peak_mib": _status_kib("VmHWM") / 1024 if reset else None,
        "rss_peak_is_step_only": reset,
    }
    result["rss_step_increase_mib"] = result["rss_peak_mib"] - result["rss_before_mib"] if reset else None
    if device == "cuda":
        torch.cuda.synchronize()
        result["cuda_step_peak_increase_mib"] = (torch.cuda.max_memory_allocated() - base_cuda) / 2**20
    return result


def bench_memory(folder: Path, world, sizes: dict) -> dict:
    from asru.train.finetune import tokenizer_corpus

    shape = TinyModelConfig(**sizes["memory_model"])
    model, processor = build_tiny(tokenizer_corpus(world.samples), shape)
    model_dir = save_vlm(model, processor, folder / "memory_model")
    del model
    # glibc hands blocks of 64 KiB and more straight back to the OS when freed, so RSS follows live memory
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "MALLOC_MMAP_THRESHOLD_": "65536"}
    children = {
        mode: subprocess.Popen(  # both at once: each measures its own process's peak, and the imports take most of the time
            [sys.executable, "-P", __file__, "--memory-child", mode, "--model", str(model_dir), "--world", str(world.root),
             "--batch", str(sizes["memory_batch"]), "--threads", str(torch.get_num_threads())],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for mode in ("full", "lora")
    }
    modes = {}
    for mode, child in children.items():
        stdout, stderr = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"memory child ({mode}) failed:\n{stderr[-3000:]}")
        modes[mode] = json.loads(stdout.strip().splitlines()[-1])
    cuda = "cuda_step_peak_increase_mib" in modes["full"]
    key = "cuda_step_peak_increase_mib" if cuda else "rss_step_increase_mib"
    return {
        "model": shape.model_dump(),
        "batch": sizes["memory_batch"],
        "lora_r": LORA_R,
        "optimizer": "AdamW",
        "measure": "torch.cuda.max_memory_allocated increase over the steps" if cuda else (
            "peak RSS increase over two training steps after a warm-up forward/backward, each mode in its own process "
            "(VmHWM reset via /proc/self/clear_refs; MALLOC_MMAP_THRESHOLD_=65536 so that freed memory leaves RSS)"
        ),
        **modes,
        "full_over_lora": modes["full"][key] / modes["lora"][key] if modes["lora"][key] else None,
    }


# ---------------------------------------------------------------------------------------------


def build_fixture(folder: Path, sizes: dict):
    from asru.train.finetune import tokenizer_corpus

    world_dir = folder / "world"
    build_world(WorldConfig(seed=0, **sizes["world"]), world_dir)
    world = load_world(world_dir)
    shape = TinyModelConfig(**sizes["model"])
    model, processor = build_tiny(tokenizer_corpus(world.samples), shape)
    save_vlm(model, processor, folder / "model")
    return world, folder / "model", shape, sum(p.numel() for p in model.parameters())


def markdown(result: dict) -> str:
    g, e, s, m = result["grpo"], result["eval"], result["steering"], result["memory"]
    steps = len(g["ours"]["rewards"])
    lines = [
        f"# Speed ({result['date']}, {result['machine']['cpus']} CPU cores, torch {result['versions']['torch']}, "
        f"transformers {result['versions']['transformers']}, TRL {g['trl_version']}{', quick' if result['quick'] else ''})",
        "",
        f"Random-init tiny Qwen3-VL ({result['model_parameters'] / 1e6:.1f} M parameters) on a {result['sizes']['world']['subjects']}-person world; "
        "each comparison measured side by side in the same run (ratios matter, absolute times depend on the load).",
        "",
        "## GRPO: ours against TRL's GRPOTrainer",
        "",
        f"{g['settings']['prompts_per_step']} image prompts × {g['settings']['group_size']} completions per step, up to "
        f"{g['settings']['max_new_tokens']} new tokens, temperature {g['settings']['temperature']}, KL {g['settings']['kl_coef']}, "
        f"lr {g['settings']['learning_rate']}, {steps} steps each, same reward callable ({g['settings']['reward']}); "
        f"prompt tokens identical: {g['same_prompt_tokens']}.",
        "",
        markdown_table(
            ["", "median step, wall (s)", "steps/s", "median step, CPU (s)", "completion tokens/s", "mean reward, first half", "second half"],
            [
                [name, f"{g[name]['median_step_wall_seconds']:.2f}", f"{g[name]['steps_per_second']:.3f}", f"{g[name]['median_step_cpu_seconds']:.2f}",
                 f"{g[name]['completion_tokens_per_second']:.0f}", f"{g['reward_first_half'][name]:.3f}", f"{g['reward_second_half'][name]:.3f}"]
                for name in ("ours", "trl")
            ],
        ),
        "",
        f"**Ours / TRL: {g['speedup_steps_per_second']:.2f}× steps/s** (wall clock; {g['speedup_cpu']:.2f}× by process CPU time). Goal ≥ 1.5×. "
        f"Timing: {g['timing']}",
        "",
        "Mean reward per step:",
        "",
        markdown_table(["step", *[str(i + 1) for i in range(steps)]], [[name, *[f"{r:.2f}" for r in g[name]["rewards"]]] for name in ("ours", "trl")]),
        "",
    ]
    phases = result["grpo_phases"]
    lines += [
        f"### What made the difference ({phases['batch']}, best of {phases['repeats']})",
        "",
        markdown_table(
            ["phase of our step", "plain: full batch (s)", "prompt once per group (s)", "speedup"],
            [[name, f"{p['plain']:.3f}", f"{p['shared']:.3f}", f"{p['speedup']:.2f}×"] for name, p in phases["phases"].items()]
            + [["total", f"{phases['plain_total']:.3f}", f"{phases['shared_total']:.3f}", f"{phases['plain_total'] / phases['shared_total']:.2f}×"]],
        ),
        "",
        *[f"- {note}" for note in result["grpo_notes"]],
        "",
    ]
    lines += [
        "## Evaluation: batched against one by one",
        "",
        markdown_table(
            ["", "answers", "seconds", "answers/s"],
            [["batched `generate_answers`", e["questions"], f"{e['batched_seconds']:.2f}", f"{e['batched_answers_per_second']:.1f}"],
             ["one `model.generate` per question", e["questions"], f"{e['loop_seconds']:.2f}", f"{e['loop_answers_per_second']:.1f}"]],
        ),
        "",
        f"**{e['speedup']:.1f}×** answers/s; {e['answers_agree']}/{e['questions']} answers identical ({e['image_questions']} image questions, greedy, {e['max_new_tokens']} new tokens). "
        "The model is random-init, so every answer runs to the token limit both ways; a trained model's short answers end early, "
        "which helps the one-by-one loop more than the batches (a batch waits for its longest answer).",
        "",
        "## Steering overhead",
        "",
        f"Generation of {s['questions']} answers with the gated test-time steering hook (layer {s['layer']}) against without: "
        f"{s['steered_seconds']:.2f} s against {s['plain_seconds']:.2f} s (best of {s['repeats']}, alternating), **{s['overhead_ratio']:.2f}×** "
        f"({(s['overhead_ratio'] - 1) * 100:+.1f} %; {s['overhead_ratio_cpu']:.2f}× by process CPU time). The hook adds a vector to one "
        "layer's output and, at each prefill, scores the last prompt token against two centroids for the gate.",
        "",
        "## Memory: LoRA against full fine-tuning",
        "",
        f"One training step (AdamW, batch {m['batch']}) of a Qwen3-VL with text {m['model']['hidden_size']} × {m['model']['num_layers']} layers; {m['measure']}.",
        "",
        markdown_table(
            ["", "trainable parameters", "memory before (MiB)", "step peak increase (MiB)"],
            [[mode, f"{m[mode]['trainable_parameters']:,}", f"{m[mode]['rss_before_mib']:.0f}",
              f"{m[mode].get('cuda_step_peak_increase_mib', m[mode]['rss_step_increase_mib']):.1f}"] for mode in ("full", "lora")],
        ),
        "",
        f"Full / LoRA: **{m['full_over_lora']:.1f}×**." if m["full_over_lora"] else "",
    ]
    return "\n".join(lines) + "\n"


def default_threads() -> int:
    """1 on a small shared machine: with 2 threads on 2 busy cores, OpenMP's spin-waiting made every
    small matmul of the tiny model ~40x slower (measured); otherwise torch's own default."""
    return 1 if (os.cpu_count() or 1) <= 2 else torch.get_num_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run (tiny sizes; the numbers mean little)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of our GRPO run to this file")
    parser.add_argument("--memory-child", choices=("full", "lora"), help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--world", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=default_threads(), help="torch intra-op threads (default: 1 on a machine of 2 cores or fewer)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        print(json.dumps(memory_child(args.model, args.world, args.memory_child, args.batch)))
        return
    sizes = QUICK if args.quick else FULL
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        world, model_dir, shape, parameters = build_fixture(folder, sizes)
        sections = {}
        for name, run in (
            ("grpo", lambda: bench_grpo(model_dir, world, sizes["grpo"], folder, args.profile)),
            ("grpo_phases", lambda: bench_grpo_phases(model_dir, world, sizes["grpo"], sizes["eval"]["repeats"] + 1)),
            ("eval", lambda: bench_eval(model_dir, world, sizes["eval"])),
            ("steering", lambda: bench_steering(model_dir, world, sizes["eval"])),
            ("memory", lambda: bench_memory(folder, world, sizes)),
        ):
            section_started = time.perf_counter()
            sections[name] = run()
            sections[name]["section_seconds"] = time.perf_counter() - section_started
            print(f"{name}: {sections[name]['section_seconds']:.0f} s", flush=True)
    result = {
        "date": datetime.date.today().isoformat(),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "versions": {**versions(), "trl": sections["grpo"]["trl_version"]},
        "quick": args.quick,
        "sizes": sizes,
        "model": shape.model_dump(),
        "model_parameters": parameters,
        **sections,
        "grpo_notes": GRPO_NOTES,
        "wall_seconds": time.perf_counter() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / "speed.json", result)
    text = markdown(result)
    atomic_write_text(args.out / "speed.md", text)
    print(text)



if __name__ == "__main__":
    main()
