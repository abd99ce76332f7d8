"""Unlearning losses as plain functions, so methods compose (ASRU and BAO reuse them).

Conventions: ``logits`` [B, T, V] and ``labels`` [B, T] with -100 on prompt and padding, as a
causal LM sees them (position t predicts token t+1). Per-sample quantities are returned as [B]
tensors; methods decide how to weight and average them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from asru.data.collate import IGNORE_INDEX


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


def gradient_ascent(forget_nll: torch.Tensor) -> torch.Tensor:
    """GA: maximise the forget NLL."""
    return -forget_nll.mean()


def gradient_difference(forget_nll: torch.Tensor, retain_nll: torch.Tensor, retain_weight: float = 1.0) -> torch.Tensor:
    """GradDiff: -CE(forget) + w * CE(retain)."""
    return -forget_nll.mean() + retain_weight * retain_nll.mean()


def kl_to_reference(logits: torch.Tensor, reference_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """KL(reference || model) over answer positions, averaged over those positions."""
    mask = labels[:, 1:] != IGNORE_INDEX
    log_p = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    log_q = torch.log_softmax(reference_logits[:, :-1].float(), dim=-1)
    kl = (log_q.exp() * (log_q - log_p)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp(min=1)


def npo(forget_logprob: torch.Tensor, reference_logprob: torch.Tensor, beta: float = 0.4) -> torch.Tensor:
    """NPO (Zhang et al. 2024): -(2/beta) * log sigmoid(-beta * (log pi - log pi_ref)), averaged."""
    return -(2.0 / beta) * F.logsigmoid(-beta * (forget_logprob - reference_logprob)).mean()


def simnpo(forget_logprob: torch.Tensor, answer_lengths: torch.Tensor, beta: float = 2.5, gamma: float = 0.0) -> torch.Tensor:
    """SimNPO (Fan et al. 2024): reference-free NPO with a length-normalised log-likelihood."""
    return -(2.0 / beta) * F.logsigmoid(-beta * forget_logprob / answer_lengths.clamp(min=1) - gamma).mean()


def dpo(chosen_logprob, rejected_logprob, reference_chosen_logprob, reference_rejected_logprob, beta: float = 0.1) -> torch.Tensor:
    """DPO: prefer ``chosen`` (a refusal) over ``rejected`` (the true answer) relative to the reference."""
    margin = (chosen_logprob - reference_chosen_logprob) - (rejected_logprob - reference_rejected_logprob)
    return -F.logsigmoid(beta * margin).mean()


def boundary_hinge(
    forget_nll: torch.Tensor, forget_subjects: list[str], retain_nll: torch.Tensor, retain_subjects: list[str], margin: float = 1.0
) -> torch.Tensor:
    """BAO: mean over same-subject (forget, retain) pairs of max(0, m - (NLL_f - NLL_r)).

    It asks the model to be *less* sure of a forgotten fact than of a kept fact **of the same
    person** by a margin, which is what keeps the boundary inside one subject sharp.
    """
    losses = []
    for i, subject in enumerate(forget_subjects):
        for j, other in enumerate(retain_subjects):
            if subject == other:
                losses.append(torch.relu(margin - (forget_nll[i] - retain_nll[j])))
    if not losses:
        return forget_nll.sum() * 0.0
    return torch.stack(losses).mean()


def activation_mse(hidden: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error between activations [B, T, H] at masked positions [B, T] (RMU, ASRU stage 1)."""
    mask = mask.to(hidden.dtype).unsqueeze(-1)
    squared = ((hidden.float() - target.float()) ** 2) * mask
    return squared.sum() / (mask.sum() * hidden.shape[-1]).clamp(min=1)
