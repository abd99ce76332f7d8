"""A GRPO loop written for refusal-boundary RL (ASRU stage 2, DESIGN §7).

Hand-written rather than TRL's ``GRPOTrainer`` because it must run with steering hooks, VLM
inputs and our own rewards on CPU (DESIGN §10). Per step: sample ``group_size`` completions per
prompt with the KV cache (temperature, top-p; vision placeholder tokens are never sampled),
score them, normalise rewards within each group, and take one clipped policy-gradient step with
a low-variance k3 KL to the reference (stage-1) model; tokens after the first end-of-turn are
masked. A group's completions share one prompt (and image), so sampling and both scoring passes
run each prompt once per group and repeat its KV cache over the group, instead of running it
``group_size`` times: about 2x TRL's steps/s on the tiny Qwen3-VL (benchmarks/speed.py).

Under ``accelerate launch`` each process samples the groups of its share of the step's prompts
(``prompts_per_step`` must divide evenly) and DDP averages the gradients. Rollouts use
``model.generate``; vLLM is not wired in (a colocated vLLM engine would need its weights synced
from the policy after every step, which only pays off for 7B+ policies on GPUs).
"""

from __future__ import annotations

import math
import random
import time
from pathlib import Path
from typing import Callable, Sequence

import torch
from pydantic import Field

from asru.config import StrictConfig
from asru.data.collate import SEQUENCE_KEYS, Encoded, Encoder
from asru.data.schema import Sample
from asru.eval.metrics import is_refusal
from asru.models.layers import placeholder_token_ids
from asru.train.checkpoint import find_checkpoint, load_checkpoint, save_checkpoint, stop_on_signals
from asru.train.distributed import check_divisible, make_accelerator, mean_over_processes, shard
from asru.train.tracking import ReportTo, log_row, tracker_options, tracking
from asru.ui import progress_bar


class GRPOConfig(StrictConfig):
    steps: int = Field(60, ge=1)
    prompts_per_step: int = Field(4, ge=1)
    group_size: int = Field(8, ge=2)
    temperature: float = Field(1.5, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(24, ge=1)
    learning_rate: float = Field(1e-4, gt=0)  # tuned with ASRU stage 1 on the embedded world; 1e-5 did not move it, 1e-3 diverged
    kl_coef: float = Field(0.1, ge=0)
    clip_low: float = 0.2
    clip_high: float = 0.3
    max_grad_norm: float = 1.0
    seed: int = 0
    checkpoint_every: int = Field(10, ge=1)
    # DAPO's dynamic sampling without its resampling: a group whose completions all scored the same has no
    # advantage, yet a step of such groups still moves the model (Adam's momentum carries the last step on, and
    # its normalisation scales the KL term's small gradient up to about the learning rate per parameter); left
    # out of the loss, and a step with no group left takes no optimizer step
    drop_flat_groups: bool = False
    report_to: ReportTo | None = Field(None, description="experiment tracker for the RL curves; default: the run's report_to (none when grpo() is called on its own)")


FLAT_STD = 1e-6  # a group whose rewards' std is below this carries no advantage


def _group_stds(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """Each group's reward std, rewards laid out group after group."""
    return rewards.view(-1, group_size).float().std(-1)


def informative_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """1.0 for each completion of a group whose rewards differ, 0.0 for a flat group's (laid out group after group)."""
    return (_group_stds(rewards, group_size) > FLAT_STD).float().repeat_interleave(group_size)


def group_spread(rewards: torch.Tensor, group_size: int) -> dict[str, float]:
    """How much signal a step's groups carry: the mean within-group reward std, and the share of groups
    whose completions all scored the same (no advantage, so only the KL term moves the model; TRL logs
    the same share as ``frac_reward_zero_std``). A stage 2 that changes nothing shows here first."""
    stds = _group_stds(rewards, group_size)
    return {"reward_std": stds.mean().item(), "flat_groups": (stds <= FLAT_STD).float().mean().item()}


def extreme_samples(questions: list[str], completions: list[str], rewards: torch.Tensor, should_forget: list[bool], group_size: int) -> list[dict]:
    """Per group, its best- and worst-rewarded completion: what the step pushes the policy toward and away
    from, kept in the log so that a reading of what stage 2 learns can be checked against what it sampled."""
    samples = []
    for start in range(0, len(completions), group_size):
        group = rewards[start:start + group_size]
        best, worst = start + int(group.argmax()), start + int(group.argmin())
        samples.append({
            "question": questions[start], "forget": bool(should_forget[start]),
            "best": completions[best], "best_reward": round(float(rewards[best]), 4),
            "worst": completions[worst], "worst_reward": round(float(rewards[worst]), 4),
        })
    return samples


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """(r - mean of its group) / (std of its group + eps), rewards laid out group after group."""
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(-1, keepdim=True)
    std = grouped.std(-1, keepdim=True)
    return ((grouped - mean) / (std + eps)).view(-1)


def k3_kl(logprobs: torch.Tensor, reference_logprobs: torch.Tensor) -> torch.Tensor:
    """Schulman's low-variance, always non-negative KL estimator: e^(r-l) - (r-l) - 1."""
    delta = reference_logprobs - logprobs
    return torch.exp(delta) - delta - 1


def clipped_objective(logprobs, old_logprobs, advantages, mask, clip_low: float, clip_high: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO surrogate min(r A, clip(r, 1-lo, 1+hi) A) [B, T] and the clipped fraction."""
    ratio = torch.exp(logprobs - old_logprobs)
    unclipped = ratio * advantages[:, None]
    clipped = torch.clamp(ratio, 1 - clip_low, 1 + clip_high) * advantages[:, None]
    fraction = ((unclipped > clipped).float() * mask).sum() / mask.sum().clamp(min=1)
    return torch.minimum(unclipped, clipped), fraction


def completion_mask(completion_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """1 up to and including the first end-of-turn token, 0 after it."""
    is_eos = completion_ids == eos_token_id
    after_first = (is_eos.cumsum(-1) - is_eos.long()) > 0
    return (~after_first).long()


def policy_loss(logprobs, old_logprobs, reference_logprobs, advantages, mask, config: GRPOConfig, weights: torch.Tensor | None = None):
    """The GRPO loss (token-mean over each completion, then batch mean) and its logs; ``weights`` (one per
    completion, 0 or 1: :func:`informative_groups`) leaves completions out of the batch mean (0 when none is left)."""
    surrogate, clip_fraction = clipped_objective(logprobs, old_logprobs, advantages, mask, config.clip_low, config.clip_high)
    kl = k3_kl(logprobs, reference_logprobs)
    per_token = -(surrogate - config.kl_coef * kl)
    per_sequence = (per_token * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    mean_kl = ((kl * mask).sum(-1) / mask.sum(-1).clamp(min=1)).mean()
    loss = per_sequence.mean() if weights is None else (per_sequence * weights).sum() / weights.sum().clamp(min=1)
    return loss, {"kl": mean_kl.item(), "clip_fraction": clip_fraction.item()}


def completion_logprobs(model, batch: dict[str, torch.Tensor], sequences: torch.Tensor, attention: torch.Tensor, prompt_width: int) -> torch.Tensor:
    """Log-probabilities [B, C] of the completion tokens given the prompt (and image)."""
    inputs = {k: v for k, v in batch.items() if k not in ("input_ids", "attention_mask", "labels", "mm_token_type_ids", "token_type_ids")}
    extra = sequences.shape[1] - prompt_width
    for key in ("mm_token_type_ids", "token_type_ids"):
        if key in batch:
            inputs[key] = torch.cat([batch[key], batch[key].new_zeros(batch[key].shape[0], extra)], dim=1)
    logits = model(input_ids=sequences, attention_mask=attention, **inputs).logits[:, prompt_width - 1 : -1].float()
    return torch.log_softmax(logits, -1).gather(-1, sequences[:, prompt_width:, None]).squeeze(-1)


def mrope_module(model):
    """The submodule that keeps Qwen-VL's M-RoPE ``rope_deltas`` (None for 1-D RoPE models)."""
    return next((m for m in model.modules() if hasattr(m, "rope_deltas") and hasattr(m, "get_rope_index")), None)


def uses_checkpointing(model) -> bool:
    return any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())


def kv_cache(output) -> tuple[str, object]:
    """(name, KV cache) of a forward's output; the name is the keyword that continues from it.

    ``cache`` in recent transformers 5.x, ``past_key_values`` before (now a deprecated alias that
    warns on every call); read from the output's own keys, which also works through a PEFT wrapper.
    """
    name = "cache" if "cache" in output.keys() else "past_key_values"
    return name, output[name]


def shared_prompt_generate(model, batch, prompt_batch, group_size: int, mrope=None, **generate_kwargs) -> torch.Tensor:
    """``model.generate(**batch, ...)`` for rows laid out group after group, the prompt prefilled once per group.

    All but the last prompt token run once per group (``prompt_batch``: one row per group, the same
    left padding), the KV cache is repeated for the group, and ``generate`` continues from it (it
    runs the last prompt token, then samples). The positions are the ones ``generate`` itself would
    use (attention-mask based; Qwen-VL's image-aware M-RoPE), so greedy outputs are identical (tested).
    """
    prefix = {k: (v[:, :-1] if k in SEQUENCE_KEYS else v) for k, v in prompt_batch.items()}
    has_images = "pixel_values" in prefix or "image_grid_thw" in prefix
    if mrope is not None:
        mrope.rope_deltas = None
    if mrope is None or not has_images:
        mask = prefix["attention_mask"]
        prefix["position_ids"] = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    cache_name, cache = kv_cache(model(**prefix, use_cache=True, logits_to_keep=1))
    cache.batch_repeat_interleave(group_size)
    if mrope is not None:  # generate continues from the stored deltas, one row per sequence
        deltas = mrope.rope_deltas if mrope.rope_deltas is not None else prefix["input_ids"].new_zeros(prefix["input_ids"].shape[0], 1)
        mrope.rope_deltas = deltas.repeat_interleave(group_size, 0)
    return model.generate(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **{cache_name: cache}, **generate_kwargs)


def shared_prompt_logprobs(model, prompt_batch, group_size: int, sequences: torch.Tensor, attention: torch.Tensor, prompt_width: int, prompt_model=None, mrope=None) -> torch.Tensor:
    """``completion_logprobs`` for rows laid out group after group, with each prompt run once per group.

    The group's ``group_size`` rows share one prompt (and image): the prompt (``prompt_batch``, one
    row per group, same left padding) runs once with the KV cache on and only its last position's
    logits, the cache is repeated per completion, and the completions run on top of it. Same values
    and gradients as the full forward (tested), at a fraction of the tokens: with 8 completions of 24
    tokens per ~40-token image prompt, about 2.4x fewer token-forwards, and the vision tower once per
    group. ``prompt_model`` runs the prompt (the unwrapped model under DDP, so that DDP sees one
    forward per backward); ``mrope`` is ``mrope_module(model)`` for Qwen-VL's 3-D positions.
    """
    prompt_model = prompt_model if prompt_model is not None else model
    if mrope is not None:
        mrope.rope_deltas = None  # set afresh by the prompt forward when it has images
    out = prompt_model(**prompt_batch, use_cache=True, logits_to_keep=1)
    logits = out.logits[:, -1:].repeat_interleave(group_size, 0)
    if sequences.shape[1] - prompt_width > 1:
        cache_name, cache = kv_cache(out)
        cache.batch_repeat_interleave(group_size)
        extra = {}
        deltas = getattr(mrope, "rope_deltas", None)
        if deltas is not None:  # M-RoPE: text positions continue from the image-aware prompt positions
            positions = (attention[:, :-1].long().cumsum(-1) - 1)[:, prompt_width:]
            extra["position_ids"] = positions[None].expand(3, -1, -1) + deltas.to(positions.device).repeat_interleave(group_size, 0)[None]
        rest = model(input_ids=sequences[:, prompt_width:-1], attention_mask=attention[:, :-1], **{cache_name: cache}, use_cache=True, **extra).logits
        logits = torch.cat([logits, rest], dim=1)
    return torch.log_softmax(logits.float(), -1).gather(-1, sequences[:, prompt_width:, None]).squeeze(-1)


def grpo(
    model,
    reference,
    processor,
    encoder: Encoder,
    items: Sequence[Sample],
    should_forget: Sequence[bool],
    rewards: Sequence[tuple[str, Callable, float]],
    config: GRPOConfig,
    out_dir: Path | None = None,
    console=None,
) -> list[dict]:
    """Train ``model`` in place on ``items``; returns the per-step log (rewards, KL, entropy...)."""
    tokenizer = processor.tokenizer
    prompts: list[Encoded] = [encoder.encode_sample(s, with_answer=False) for s in items]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate, weight_decay=0.0)
    accelerator = make_accelerator(config.prompts_per_step * config.group_size, config.max_grad_norm, **tracker_options(config.report_to or "none", out_dir))
    check_divisible(min(config.prompts_per_step, len(items)), accelerator, "prompts_per_step (or fewer items)")
    model, optimizer = accelerator.prepare(model, optimizer)
    console = console if accelerator.is_main_process else None  # one progress bar, not one per process
    reference.to(accelerator.device).eval()
    checkpoint_dir = Path(out_dir) / "grpo_checkpoint" if out_dir else None
    suppress = placeholder_token_ids(accelerator.unwrap_model(model)) or None
    # each prompt runs once per group in the scoring passes (not group_size times); the full forward
    # stays for gradient checkpointing, which turns the KV cache off
    share_prompts = not uses_checkpointing(model)
    policy_mrope, reference_mrope = mrope_module(model), mrope_module(reference)
    start, log = 0, []
    if checkpoint_dir is not None and (found := find_checkpoint(checkpoint_dir)) is not None:
        record = load_checkpoint(accelerator, found)
        start, log = record["step"], record["log"]
    with progress_bar(console, "grpo") as bar, stop_on_signals() as stop, tracking(accelerator, "grpo", config.model_dump(mode="json"), out_dir):
        task = bar.add_task("grpo", total=config.steps, completed=start, loss=math.nan)
        for step in range(start, config.steps):
            started = time.perf_counter()
            rng = random.Random(config.seed * 7919 + step)
            chosen = shard(rng.sample(range(len(items)), min(config.prompts_per_step, len(items))), accelerator)  # whole groups per process
            group = [i for i in chosen for _ in range(config.group_size)]
            batch = {k: v.to(accelerator.device) for k, v in encoder.collate([prompts[i] for i in group]).items()}
            batch.pop("labels")
            width = batch["input_ids"].shape[1]
            prompt_batch = None
            if share_prompts:
                prompt_batch = {k: v.to(accelerator.device) for k, v in encoder.collate([prompts[i] for i in chosen]).items()}
                prompt_batch.pop("labels")
            torch.manual_seed(config.seed * 104_729 + step + 1_000_003 * accelerator.process_index)
            model.eval()
            with torch.no_grad():
                sampling = dict(
                    do_sample=True, temperature=config.temperature, top_p=config.top_p, top_k=0,
                    max_new_tokens=config.max_new_tokens, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                    suppress_tokens=suppress,
                )
                if prompt_batch is not None and width > 1:
                    sequences = shared_prompt_generate(accelerator.unwrap_model(model), batch, prompt_batch, config.group_size, policy_mrope, **sampling)
                else:
                    sequences = accelerator.unwrap_model(model).generate(**batch, **sampling)
            completion_ids = sequences[:, width:]
            mask = completion_mask(completion_ids, tokenizer.eos_token_id)
            attention = torch.cat([batch["attention_mask"], mask], dim=1)
            texts = [t.strip() for t in tokenizer.batch_decode(completion_ids * mask + tokenizer.pad_token_id * (1 - mask), skip_special_tokens=True)]
            columns = {
                "gold": [items[i].answer for i in group],
                "should_forget": [should_forget[i] for i in group],
                "subject_name": [items[i].subject_name for i in group],
                "fact": [items[i].fact for i in group],
            }
            question_texts = [items[i].question for i in group]
            components = {name: torch.tensor(fn(question_texts, texts, **columns)) for name, fn, _ in rewards}
            total = sum(weight * components[name] for name, _, weight in rewards)
            advantages = group_advantages(total, config.group_size).to(accelerator.device)
            with torch.no_grad():
                if prompt_batch is not None:
                    ref = shared_prompt_logprobs(reference, prompt_batch, config.group_size, sequences, attention, width, mrope=reference_mrope)
                else:
                    ref = completion_logprobs(reference, batch, sequences, attention, width)
            model.train()
            if prompt_batch is not None:
                new = shared_prompt_logprobs(model, prompt_batch, config.group_size, sequences, attention, width, accelerator.unwrap_model(model), policy_mrope)
            else:
                new = completion_logprobs(model, batch, sequences, attention, width)
            # one update per batch (on-policy): the sampling policy's log-probs are the current ones,
            # so the ratio is exp(new - new.detach()) = 1 with the right gradient; saves a forward pass
            old = new.detach()
            weights = informative_groups(total, config.group_size).to(accelerator.device) if config.drop_flat_groups else None
            loss, logs = policy_loss(new, old, ref, advantages, mask.float(), config, weights)
            accelerator.backward(loss)  # on every process, even one with no group left: DDP's all-reduce needs them all
            if weights is None or accelerator.gather(weights.sum().reshape(1)).sum().item() > 0:
                accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            forget_rows = [j for j, i in enumerate(group) if should_forget[i]]
            row = mean_over_processes(
                accelerator,
                {
                    "loss": loss.item(),
                    "reward": total.mean().item(),
                    **{f"reward_{name}": value.mean().item() for name, value in components.items()},
                    **group_spread(total, config.group_size),
                    **logs,
                    "entropy": -(old * mask).sum().item() / mask.sum().clamp(min=1).item(),
                    "forget_refusal_rate": sum(is_refusal(texts[j]) for j in forget_rows) / max(len(forget_rows), 1),
                },
            )
            log.append({"step": step + 1, **row, "completion_tokens": int(mask.sum()) * accelerator.num_processes, "seconds": time.perf_counter() - started})
            log_row(accelerator, log[-1])
            log[-1]["samples"] = extreme_samples(question_texts, texts, total, columns["should_forget"], config.group_size)  # this process's groups
            bar.update(task, advance=1, loss=row["loss"])
            stop.stop_here(accelerator, checkpoint_dir, step + 1, config.steps, {"log": log})
            if checkpoint_dir is not None and (step + 1) % config.checkpoint_every == 0 and step + 1 < config.steps:
                save_checkpoint(accelerator, checkpoint_dir, step + 1, {"log": log})
    return log
