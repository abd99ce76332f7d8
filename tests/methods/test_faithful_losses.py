"""GradDiff, NPO, SimNPO and BAO on one batch, against their sources' formulas computed by hand.

Sources: open-unlearning (src/trainer/unlearn/grad_diff.py, npo.py, simnpo.py; compute_batch_nll and
compute_dpo_loss in src/trainer/utils.py; defaults in configs/trainer/*.yaml) and PPU-Bench's BAGD.py.
What they compute on a forget batch F and a retain batch R (HF loss = a model's ``outputs.loss``,
the mean NLL over every answer token of the batch):

    GradDiff  -gamma * HFloss(F) + alpha * HFloss(R)                               gamma = alpha = 1
    NPO       gamma * mean_i -(2/beta) log sigmoid(-beta (log pi_i - log ref_i)) + alpha * HFloss(R)
              (log pi_i summed over the answer's tokens)                           beta 0.1
    SimNPO    gamma * mean_i -(2/beta) log sigmoid(beta (NLL_i / |y_i| - delta)) + alpha * HFloss(R)
              (NLL_i summed)                                 beta 4.5, delta 0, gamma 0.125, alpha 1
    BAO       -HFloss(F) + HFloss(R) + lambda * mean over subjects of the mean over that subject's
              (forget, retain) pairs of max(0, m - (nll_f - nll_r)), nll = per-sample mean NLL

The model is a bigram table (next-token logits depend only on the current token), so every
probability is one of 1/4, 1/2, 3/4: token 0 -> (1/4, 3/4), token 1 -> (1/2, 1/2); the reference
model is uniform (1/2, 1/2).
"""

from types import SimpleNamespace

import pytest
import torch

from asru.methods.bao import BAO
from asru.methods.base import UnlearnBatch
from asru.methods.grad_diff import GradDiff
from asru.methods.npo import NPO
from asru.methods.simnpo import SimNPO


class Bigram:
    """A stand-in causal LM: logits at position t = table[token t]."""

    def __init__(self, table: list[list[float]]):
        self.table = torch.tensor(table)

    def __call__(self, input_ids, attention_mask=None, **_):
        return SimpleNamespace(logits=self.table[input_ids])


POLICY = Bigram([[0.0, torch.tensor(3.0).log().item()], [0.0, 0.0]])  # p(.|0) = (1/4, 3/4), p(.|1) = (1/2, 1/2)
REFERENCE = Bigram([[0.0, 0.0], [0.0, 0.0]])


def _rows(ids, labels):
    ids = torch.tensor(ids)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.tensor(labels)}


# forget A: 0 -> 1 (3/4), 1 -> 1 (1/2): NLL_A = ln(4/3) + ln 2 = 0.980829 over 2 tokens (mean 0.490415)
# forget B: 1 -> 0 (1/2):               NLL_B = ln 2       = 0.693147 over 1 token
# retain C: 1 -> 0 (1/2), 0 -> 1 (3/4): NLL_C = 0.980829 over 2 tokens (mean 0.490415)
# retain D: 0 -> 0 (1/4):               NLL_D = ln 4       = 1.386294 over 1 token
# HFloss(F) = (0.980829 + 0.693147) / 3 = 0.557992   (mean of the sample means: 0.591781)
# HFloss(R) = (0.980829 + 1.386294) / 3 = 0.789041   (mean of the sample means: 0.938354)
BATCH = UnlearnBatch(
    forget=_rows([[0, 1, 1], [0, 1, 0]], [[-100, 1, 1], [-100, -100, 0]]),
    retain=_rows([[1, 0, 1], [0, 0, 0]], [[-100, 0, 1], [-100, -100, 0]]),
    forget_subjects=["s1", "s1"],
    retain_subjects=["s1", "s2"],
)


def _loss(method) -> float:
    loss, _ = method.loss(POLICY, BATCH)
    return loss.item()


def test_grad_diff_matches_open_unlearning():
    # -0.557992 + 0.789041 = 0.231049 (= ln 2 / 3)
    assert _loss(GradDiff(GradDiff.Params())) == pytest.approx(0.2310491, abs=1e-6)
    # gamma 2, alpha 0.5: -2 * 0.557992 + 0.5 * 0.789041 = -0.721464
    assert _loss(GradDiff(GradDiff.Params(forget_weight=2.0, retain_weight=0.5))) == pytest.approx(-0.7214637, abs=1e-6)


def test_grad_diff_sample_mean_option():
    # -0.591781 + 0.938354 = 0.346574: what asru computed before following open-unlearning
    assert _loss(GradDiff(GradDiff.Params(nll_reduction="samples"))) == pytest.approx(0.3465736, abs=1e-6)


def test_npo_matches_open_unlearning():
    # log-ratios (summed log-probs): A: (ln 3/4 + ln 1/2) - 2 ln 1/2 = ln 1.5 = 0.405465; B: 0
    # A: (2/0.1) ln(1 + e^(0.1 * 0.405465)) = 20 ln 2.041380 = 14.272518;  B: 20 ln 2 = 13.862944
    # mean 14.067731, + HFloss(R) 0.789041 = 14.856772
    assert _loss(NPO(NPO.Params(), reference=REFERENCE)) == pytest.approx(14.856772, abs=1e-5)
    # nll_reduction samples: 14.067731 + 0.938354 = 15.006086
    assert _loss(NPO(NPO.Params(nll_reduction="samples"), reference=REFERENCE)) == pytest.approx(15.006086, abs=1e-5)


def test_simnpo_matches_open_unlearning():
    # NLL / |y|: A 0.490415, B 0.693147; beta 4.5:
    # A: (2/4.5) ln(1 + e^(-4.5 * 0.490415)) = 0.444444 * ln 1.110025 = 0.046400
    # B: (2/4.5) ln(1 + e^(-4.5 * 0.693147)) = 0.444444 * ln 1.044194 = 0.019220
    # mean 0.032810; gamma 0.125 * 0.032810 + HFloss(R) 0.789041 = 0.793142
    assert _loss(SimNPO(SimNPO.Params())) == pytest.approx(0.7931425, abs=1e-6)
    # delta 0.5: A: 0.444444 ln(1 + e^(-4.5 (0.490415 - 0.5))) = 0.317754; B: 0.444444 ln(1 + e^(-4.5 * 0.193147)) = 0.155629
    # mean 0.236692; 0.125 * 0.236692 + 0.789041 = 0.818628
    assert _loss(SimNPO(SimNPO.Params(delta=0.5))) == pytest.approx(0.8186277, abs=1e-6)


def test_bao_matches_ppu_bench():
    # hinge, subject s1 only (s2 has no forget row), per-sample mean NLLs:
    # (A, C): 1 - (0.490415 - 0.490415) = 1.0;  (B, C): 1 - (0.693147 - 0.490415) = 0.797267 -> mean 0.898634
    # -0.557992 + 0.789041 + 1.0 * 0.898634 = 1.129683
    assert _loss(BAO(BAO.Params())) == pytest.approx(1.1296828, abs=1e-6)
    # lambda 0.5 (PPU-Bench's argparse default): -0.557992 + 0.789041 + 0.449317 = 0.680366
    assert _loss(BAO(BAO.Params(weight=0.5))) == pytest.approx(0.6803659, abs=1e-6)


def test_defaults_are_the_sources():
    assert NPO.Params().beta == 0.1
    simnpo = SimNPO.Params()
    assert (simnpo.beta, simnpo.delta, simnpo.forget_weight, simnpo.retain_weight) == (4.5, 0.0, 0.125, 1.0)
    assert (BAO.Params().weight, BAO.Params().margin) == (1.0, 1.0)
    assert all(p.nll_reduction == "tokens" for p in (GradDiff.Params(), NPO.Params(), SimNPO.Params(), BAO.Params()))
