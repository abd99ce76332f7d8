"""Membership inference: can the forget people be told from people the model never saw?

Each question about a forget person and about a holdout person (never trained: ``splits["holdout"]``)
is scored with its true answer given; every score is signed like a loss (higher = less familiar),
as open-unlearning's attacks are (``src/evals/metrics/mia/``):

- ``loss``: the answer's mean negative log-likelihood per token (Yeom et al. 2018);
- ``zlib``: that loss divided by the length of the zlib-compressed answer (Carlini et al. 2021);
- ``min_k``: minus the mean of the lowest k % of the answer tokens' log-probabilities (Min-K% Prob,
  Shi et al. 2024), end-of-turn token excluded, at least one token;
- ``min_k_plus_plus``: the same over each token's log-probability standardised by the mean and
  standard deviation of log p over the vocabulary at that position (Min-K%++, Zhang et al. 2024).

k = 40 % as open-unlearning's TOFU and MUSE configs set it. The **AUC** is open-unlearning's
``mia_auc``: the probability that a holdout question scores above a forget question (ties count
half), 1.0 when every forget person looks more familiar than every never-seen one, 0.5 when they
cannot be told apart.

**PrivLeak** (MUSE, Shi et al. 2024) compares that with the retrained oracle's AUC on the same
questions: (AUC_model − AUC_oracle) / AUC_oracle on MUSE's AUC, which is 1 − the AUC above (MUSE's
code labels the forget set as the non-members; open-unlearning's ``privleak`` converts the same way).
So 0 = like the oracle, strongly negative (−1 at worst) = the forget people still recognisable
(under-unlearning: the target), positive = they look *less* familiar than never-seen people
(over-unlearning, itself a tell). MUSE prints it ×100; here it is the fraction. The headline
``privleak`` is on Min-K% Prob, MUSE's choice (open-unlearning's ``privleak`` config).
"""

from __future__ import annotations

import zlib
from typing import Sequence

from asru.eval.likelihood import AnswerLikelihood

MIN_K = 0.4  # open-unlearning's k for Min-K% and Min-K%++ (configs/eval/{tofu,muse}_metrics/mia_min_k*.yaml)
SCORES = ("loss", "zlib", "min_k", "min_k_plus_plus")
PRIVLEAK_SCORE = "min_k"  # MUSE's PrivLeak is on Min-K% Prob


def _lowest_k_mean(values: Sequence[float], k: float) -> float:
    """Minus the mean of the lowest ``k`` share of ``values`` (at least one); 0 for none, as open-unlearning."""
    if not values:
        return 0.0
    lowest = sorted(values)[: max(1, int(len(values) * k))]
    return -sum(lowest) / len(lowest)


def membership_scores(likelihood: AnswerLikelihood, k: float = MIN_K) -> dict[str, float]:
    """Every score of one answer (higher = less familiar)."""
    loss = likelihood.mean_nll
    return {
        "loss": loss,
        "zlib": loss / len(zlib.compress(likelihood.answer.encode("utf-8"))),
        "min_k": _lowest_k_mean(likelihood.token_logprobs[:-1], k),  # the end-of-turn token is not scored
        "min_k_plus_plus": _lowest_k_mean(likelihood.standardised[:-1], k),
    }


def auc(forget: Sequence[float], holdout: Sequence[float]) -> float | None:
    """P(holdout score > forget score) + ½ P(tie): the ROC AUC of scores that are higher for non-members (None without both sets)."""
    if not forget or not holdout:
        return None
    above = sum((h > f) + 0.5 * (h == f) for f in forget for h in holdout)
    return above / (len(forget) * len(holdout))


def privleak(model_auc: float | None, oracle_auc: float | None) -> float | None:
    """MUSE's PrivLeak from two AUCs as :func:`auc` orients them (MUSE's AUC is 1 − that), as a fraction."""
    if model_auc is None or oracle_auc is None:
        return None
    muse, muse_oracle = 1 - model_auc, 1 - oracle_auc
    return (muse - muse_oracle) / (muse_oracle + 1e-10)  # open-unlearning's 1e-10
