"""Each loss against a value computed by hand (or by an independent straightforward loop)."""

import math

import pytest
import torch

from asru.methods import losses

# One sample, vocabulary of 2, answer = token 1 at position 2 (predicted from position 1).
LOGITS = torch.tensor([[[0.0, 0.0], [0.0, math.log(3.0)], [0.0, 0.0]]])  # p(token 1 | pos 1) = 3/4
LABELS = torch.tensor([[-100, -100, 1]])


def test_answer_nll_by_hand():
    assert losses.answer_nll(LOGITS, LABELS).item() == pytest.approx(-math.log(0.75))


def test_ga_and_graddiff_by_hand():
    forget, retain = torch.tensor([1.0, 3.0]), torch.tensor([0.5])
    assert losses.gradient_ascent(forget).item() == pytest.approx(-2.0)
    assert losses.gradient_difference(forget, retain, retain_weight=2.0).item() == pytest.approx(-2.0 + 1.0)


def _npo_straightforward(logp, ref, beta):
    total = 0.0
    for a, b in zip(logp.tolist(), ref.tolist()):
        ratio = math.exp(beta * (a - b))  # (pi / pi_ref)^beta
        total += (2 / beta) * math.log(1 + ratio)
    return total / len(logp)


def test_npo_matches_independent_formula():
    logp, ref = torch.tensor([-1.0, -2.5, -0.3]), torch.tensor([-0.5, -2.0, -1.0])
    assert losses.npo(logp, ref, beta=0.4).item() == pytest.approx(_npo_straightforward(logp, ref, 0.4), rel=1e-6)


def test_npo_equals_ga_direction_at_reference():
    """At pi == pi_ref NPO's loss is (2/beta) log 2 and its gradient pushes log pi down."""
    logp = torch.tensor([-1.0], requires_grad=True)
    loss = losses.npo(logp, torch.tensor([-1.0]), beta=0.4)
    assert loss.item() == pytest.approx(2 / 0.4 * math.log(2))
    loss.backward()
    assert logp.grad.item() > 0  # minimising the loss lowers log pi


def test_simnpo_by_hand():
    # log pi = -4 over 2 tokens: NLL / |y| = 2; beta (2 - delta) = 2 * 1.5 = 3; loss = (2/2) log(1 + e^-3) = 0.048587
    value = losses.simnpo(torch.tensor([-4.0]), torch.tensor([2]), beta=2.0, delta=0.5).item()
    assert value == pytest.approx(0.0485873516)


def test_dpo_by_hand():
    value = losses.dpo(torch.tensor([-1.0]), torch.tensor([-2.0]), torch.tensor([-1.5]), torch.tensor([-1.5]), beta=0.5).item()
    margin = (-1.0 + 1.5) - (-2.0 + 1.5)
    assert value == pytest.approx(math.log(1 + math.exp(-0.5 * margin)))


def test_kl_zero_for_identical_and_positive_otherwise():
    assert losses.kl_to_reference(LOGITS, LOGITS, LABELS).item() == pytest.approx(0.0, abs=1e-7)
    other = LOGITS.clone()
    other[0, 1] = torch.tensor([0.0, 0.0])
    p, q = torch.tensor([0.25, 0.75]), torch.tensor([0.5, 0.5])
    expected = (q * (q.log() - p.log())).sum().item()  # KL(reference=q || model=p)
    assert losses.kl_to_reference(LOGITS, other, LABELS).item() == pytest.approx(expected, rel=1e-5)


def test_boundary_hinge_pairs_only_same_subject():
    forget = torch.tensor([2.0, 0.5])
    retain = torch.tensor([1.5, 0.0, 9.0])
    value = losses.boundary_hinge(forget, ["a", "b"], retain, ["a", "b", "c"], margin=1.0).item()
    # pairs (a: 2.0 vs 1.5 -> 0.5), (b: 0.5 vs 0.0 -> 0.5); subject c has no forget item
    assert value == pytest.approx(((1 - 0.5) + (1 - 0.5)) / 2)


def test_boundary_hinge_averages_per_subject_then_over_subjects():
    """PPU-Bench: a subject with more pairs does not weigh more (the flat mean over pairs would)."""
    forget = torch.tensor([2.0, 0.5, 3.0])
    retain = torch.tensor([1.5, 0.2, 9.0])
    value = losses.boundary_hinge(forget, ["a", "a", "b"], retain, ["a", "b", "c"], margin=1.0).item()
    # subject a, 2 pairs: max(0, 1 - (2.0 - 1.5)) = 0.5, max(0, 1 - (0.5 - 1.5)) = 2.0 -> mean 1.25
    # subject b, 1 pair: max(0, 1 - (3.0 - 0.2)) = 0 (clipped) -> 0
    # over subjects: (1.25 + 0) / 2 = 0.625 (the flat mean over the 3 pairs would be 2.5 / 3 = 0.833)
    assert value == pytest.approx(0.625)


def test_boundary_hinge_ignores_rows_without_a_subject():
    value = losses.boundary_hinge(torch.tensor([0.0, 5.0]), ["", "a"], torch.tensor([0.0, 4.5]), ["", "a"], margin=1.0).item()
    assert value == pytest.approx(0.5)  # only subject a: 1 - (5.0 - 4.5); the "" pair (hinge 1.0) is not a subject


def test_batch_nll_pools_tokens_or_averages_samples():
    per_sample, lengths = torch.tensor([1.0, 4.0]), torch.tensor([3, 1])
    assert losses.batch_nll(per_sample, lengths, "tokens").item() == pytest.approx((3 * 1.0 + 1 * 4.0) / 4)  # 1.75
    assert losses.batch_nll(per_sample, lengths, "samples").item() == pytest.approx(2.5)


def test_boundary_hinge_without_pairs_is_zero_with_grad():
    forget = torch.tensor([2.0], requires_grad=True)
    value = losses.boundary_hinge(forget, ["a"], torch.tensor([1.0]), ["b"])
    value.backward()
    assert value.item() == 0.0 and forget.grad is not None


def test_activation_mse_respects_mask():
    hidden = torch.zeros(1, 3, 2)
    target = torch.tensor([[[1.0, 1.0], [2.0, 2.0], [100.0, 100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert losses.activation_mse(hidden, target, mask).item() == pytest.approx((1 + 1 + 4 + 4) / 4)
