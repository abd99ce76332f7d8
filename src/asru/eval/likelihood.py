"""How likely a model finds a given answer: token by token, under teacher forcing.

An answer that is *given* rather than generated cannot hide behind a refusal: a model trained to
refuse still ranks the true value above wrong ones if it knows it. Every likelihood-based measure
reads these numbers — the judge's perplexity (:func:`asru.eval.evaluate.answer_perplexities`), the
truth ratio and answer ranking (:mod:`asru.eval.forget_quality`) and the membership-inference
scores (:mod:`asru.eval.membership`) — so they all score an answer the same way: the answer's
tokens and the end-of-turn token the encoder appends (:meth:`asru.data.collate.Encoder.encode`),
after the probe's prompt (wording, image, earlier turns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from asru.data.collate import IGNORE_INDEX, Encoder
from asru.eval.attacks import Probe


@dataclass(frozen=True)
class AnswerLikelihood:
    """One answer under one model: its tokens' log-probabilities (the end-of-turn token last) and
    Min-K%++'s standardised version of each (Zhang et al. 2024: (log p(x_t) − μ_t) / σ_t, with μ_t and
    σ_t² the mean and variance of log p over the vocabulary at that position)."""

    answer: str
    token_logprobs: tuple[float, ...]
    standardised: tuple[float, ...]

    @property
    def mean_nll(self) -> float:
        """Mean negative log-likelihood per token: TOFU's ``avg_loss``, the LOSS attack's score."""
        return -sum(self.token_logprobs) / max(1, len(self.token_logprobs))


@torch.no_grad()
def answer_likelihoods(model, encoder: Encoder, probes: Sequence[Probe], answers: Sequence[str], batch_size: int = 64) -> list[AnswerLikelihood]:
    """Each answer's :class:`AnswerLikelihood` after its probe's prompt, in input order.

    Batches are cut from the pairs sorted by length (little padding); the vocabulary statistics are
    computed at the answer positions only.
    """
    model.eval()
    device = next(model.parameters()).device
    items = [encoder.encode(p.question, p.image, answer=a, context=list(p.context)) for p, a in zip(probes, answers)]
    order = sorted(range(len(items)), key=lambda i: len(items[i].input_ids))
    out: list[AnswerLikelihood | None] = [None] * len(items)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = {k: v.to(device) for k, v in encoder.collate([items[i] for i in chunk]).items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits[:, :-1].float()  # position t predicts token t + 1
        targets = labels[:, 1:]
        for row, index in enumerate(chunk):
            positions = (targets[row] != IGNORE_INDEX).nonzero(as_tuple=True)[0]
            logprobs = torch.log_softmax(logits[row, positions], dim=-1)  # [answer tokens, vocab]
            chosen = logprobs.gather(-1, targets[row, positions].unsqueeze(-1)).squeeze(-1)
            probs = logprobs.exp()
            mu = (probs * logprobs).sum(-1)
            sigma = ((probs * logprobs.square()).sum(-1) - mu.square()).clamp(min=1e-6).sqrt()  # open-unlearning's clamp
            out[index] = AnswerLikelihood(answers[index], tuple(chosen.tolist()), tuple(((chosen - mu) / sigma).tolist()))
    return out  # type: ignore[return-value]
