"""Unlearning losses as plain functions, so methods compose (ASRU and BAO reuse them).

Conventions: ``logits`` [B, T, V] and ``labels`` [B, T] with -100 on prompt and padding, as a
causal LM sees them (position t predicts token t+1). Per-sample quantities are returned as [B]
tensors; methods decide how to weight and average them (``batch_nll``).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from asru.data.collate import IGNORE_INDEX

# How a batch's NLL averages its answer tokens: "tokens" pools every answer token of the batch (a
# Hugging Face model's ``outputs.loss``, which open-unlearning and PPU-Bench train on, so long
# answers weigh more); "samples" takes each item's mean first (every item weighs the same).
NLLReduction = Literal["tokens", "samples"]


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probabilities of the label tokens [B, T-1] and their mask [B, T-1]."""
    logits = logits[:, :-1].float()
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    safe_targets = targets.masked_fill(~mask, 0)
    logprobs = torch.log_softmax(logits, dim=-1).gather(-1, safe_targets.unsqueeze(-1)).squeeze(-1)
    return logprobs * mask, mask


def sequence_logprob(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum of answer-token log-probabilities per sample [B]."""
    logprobs, _ = token_logprobs(logits, labels)
    return logprobs.sum(-1)


def answer_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the answer tokens, per sample [B]."""
    logprobs, mask = token_logprobs(logits, labels)
    return -logprobs.sum(-1) / mask.sum(-1).clamp(min=1)


def answer_lengths(labels: torch.Tensor) -> torch.Tensor:
    """Number of predicted answer tokens per sample [B] (the tokens ``answer_nll`` averages)."""
    return (labels[:, 1:] != IGNORE_INDEX).sum(-1)


def batch_nll(per_sample_nll: torch.Tensor, lengths: torch.Tensor, reduction: NLLReduction = "tokens") -> torch.Tensor:
    """The batch's NLL from per-sample means [B] and answer lengths [B] (see ``NLLReduction``)."""
    if reduction == "samples":
        return per_sample_nll.mean()
    weights = lengths.to(per_sample_nll.dtype)
    return (per_sample_nll * weights).sum() / _tokens_per_process(weights.sum()).clamp(min=1)


def _tokens_per_process(count: torch.Tensor) -> torch.Tensor:
    """The batch's answer tokens over every data-parallel process, divided by their number.

    Data-parallel training averages each process's gradient; dividing a process's summed NLL by this
    (not by its own token count) makes that average the gradient of the whole batch's token mean,
    so two processes follow one process's trajectory (tests/train/test_distributed.py). One process:
    its own count.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return count
    total = count.detach().clone()
    dist.all_reduce(total)
    return total / dist.get_world_size()


def gradient_ascent(forget_nll: torch.Tensor) -> torch.Tensor:
    """GA: maximise the forget NLL."""
    return -forget_nll.mean()


def gradient_difference(forget_nll: torch.Tensor, retain_nll: torch.Tensor, forget_weight: float = 1.0, retain_weight: float = 1.0) -> torch.Tensor:
    """GradDiff: -gamma * NLL(forget) + alpha * NLL(retain) (open-unlearning's gamma and alpha).

    Takes batch NLLs (``batch_nll``), or per-sample NLLs, which are averaged over the samples.
    """
    return -forget_weight * forget_nll.mean() + retain_weight * retain_nll.mean()


def kl_to_reference(logits: torch.Tensor, reference_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """KL(reference || model) over answer positions, averaged over those positions."""
    mask = labels[:, 1:] != IGNORE_INDEX
    log_p = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    log_q = torch.log_softmax(reference_logits[:, :-1].float(), dim=-1)
    kl = (log_q.exp() * (log_q - log_p)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp(min=1)


def npo(forget_logprob: torch.Tensor, reference_logprob: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """NPO (Zhang et al. 2024): -(2/beta) * log sigmoid(-beta * (log pi - log pi_ref)), averaged over samples.

    ``forget_logprob`` and ``reference_logprob`` are each answer's *summed* log-probability [B], as
    in open-unlearning's ``compute_dpo_loss`` (``compute_batch_nll`` sums over tokens).
    """
    return -(2.0 / beta) * F.logsigmoid(-beta * (forget_logprob - reference_logprob)).mean()


def simnpo(forget_logprob: torch.Tensor, lengths: torch.Tensor, beta: float = 4.5, delta: float = 0.0) -> torch.Tensor:
    """SimNPO (Fan et al. 2024), as open-unlearning writes it: -(2/beta) * log sigmoid(beta * (NLL / |y| - delta)).

    Reference-free NPO on the length-normalised NLL (the summed NLL over the answer's tokens);
    ``delta`` is the paper's margin gamma divided by beta (the paper: log sigmoid(-(beta/|y|) log pi - gamma)).
    """
    normalised_nll = -forget_logprob / lengths.clamp(min=1)
    return -(2.0 / beta) * F.logsigmoid(beta * (normalised_nll - delta)).mean()


def dpo(chosen_logprob, rejected_logprob, reference_chosen_logprob, reference_rejected_logprob, beta: float = 0.1) -> torch.Tensor:
    """DPO: prefer ``chosen`` (a refusal) over ``rejected`` (the true answer) relative to the reference."""
    margin = (chosen_logprob - reference_chosen_logprob) - (rejected_logprob - reference_rejected_logprob)
    return -F.logsigmoid(beta * margin).mean()


def boundary_hinge(
    forget_nll: torch.Tensor, forget_subjects: list[str], retain_nll: torch.Tensor, retain_subjects: list[str], margin: float = 1.0
) -> torch.Tensor:
    """BAO (PPU-Bench): per subject, the mean of max(0, m - (NLL_f - NLL_r)) over its (forget, retain) pairs; then the mean over subjects.

    It asks the model to be *less* sure of a forgotten fact than of a kept fact **of the same
    person** by a margin, which is what keeps the boundary inside one subject sharp. Averaging per
    subject first (as PPU-Bench's code does) keeps a subject with many pairs from outweighing the
    others. ``forget_nll`` / ``retain_nll`` are per-sample mean NLLs [B]; an empty subject id is no subject.
    """
    per_subject = []
    for subject in sorted(set(forget_subjects) & set(retain_subjects) - {""}):
        forget = forget_nll[[i for i, s in enumerate(forget_subjects) if s == subject]]
        retain = retain_nll[[j for j, s in enumerate(retain_subjects) if s == subject]]
        per_subject.append(torch.relu(margin - (forget[:, None] - retain[None, :])).mean())
    if not per_subject:
        return forget_nll.sum() * 0.0
    return torch.stack(per_subject).mean()


def activation_mse(hidden: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error between activations [B, T, H] at masked positions [B, T] (RMU, ASRU stage 1)."""
    mask = mask.to(hidden.dtype).unsqueeze(-1)
    squared = ((hidden.float() - target.float()) ** 2) * mask
    return squared.sum() / (mask.sum() * hidden.shape[-1]).clamp(min=1)
