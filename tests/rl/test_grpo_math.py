"""GRPO pieces against hand-computed values."""

import math

import pytest
import torch

from asru.rl.grpo import GRPOConfig, clipped_objective, completion_mask, extreme_samples, group_advantages, group_spread, informative_groups, k3_kl, policy_loss


def test_group_advantages_by_hand():
    rewards = torch.tensor([1.0, 0.0, 0.5, 0.5])  # two groups of two
    adv = group_advantages(rewards, group_size=2, eps=1e-4)
    std = math.sqrt(0.5)  # unbiased std of (1, 0)
    assert adv[:2].tolist() == pytest.approx([0.5 / (std + 1e-4), -0.5 / (std + 1e-4)])
    assert adv[2:].abs().max().item() == 0.0  # identical rewards carry no signal


def test_group_spread_counts_the_groups_that_carry_no_signal():
    spread = group_spread(torch.tensor([1.0, 0.0, 0.5, 0.5, 0.1, 0.1]), group_size=2)
    assert spread["flat_groups"] == pytest.approx(2 / 3)
    assert spread["reward_std"] == pytest.approx(math.sqrt(0.5) / 3)


def test_extreme_samples_name_each_groups_best_and_worst_completion():
    samples = extreme_samples(["q1", "q1", "q2", "q2"], ["a", "b", "c", "d"], torch.tensor([0.2, 0.9, 0.5, 0.1]), [True, True, False, False], 2)
    assert samples == [
        {"question": "q1", "forget": True, "best": "b", "best_reward": 0.9, "worst": "a", "worst_reward": 0.2},
        {"question": "q2", "forget": False, "best": "c", "best_reward": 0.5, "worst": "d", "worst_reward": 0.1},
    ]


def test_k3_kl_by_hand_and_non_negative():
    logp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -2.0])
    delta = -0.5
    assert k3_kl(logp, ref)[0].item() == pytest.approx(math.exp(delta) - delta - 1)
    assert k3_kl(logp, ref)[1].item() == 0.0
    assert (k3_kl(torch.randn(100), torch.randn(100)) >= 0).all()


def test_clipped_objective_asymmetric_clip():
    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[1.5, 0.5]]))  # ratios 1.5 and 0.5
    mask = torch.ones(1, 2)
    positive, _ = clipped_objective(new, old, torch.tensor([1.0]), mask, 0.2, 0.3)
    assert positive[0].tolist() == pytest.approx([1.3, 0.5])  # upper clip at 1 + 0.3
    negative, _ = clipped_objective(new, old, torch.tensor([-1.0]), mask, 0.2, 0.3)
    assert negative[0].tolist() == pytest.approx([-1.5, -0.8])  # min() keeps the pessimistic side


def test_completion_mask_stops_after_first_eos():
    ids = torch.tensor([[5, 6, 2, 7, 2], [2, 9, 9, 9, 9], [5, 5, 5, 5, 5]])
    assert completion_mask(ids, eos_token_id=2).tolist() == [[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]]


def test_policy_loss_on_policy_equals_minus_advantage_mean():
    """At ratio 1 and reference == policy the loss is -mean(A) and KL is 0."""
    logp = torch.log(torch.tensor([[0.5, 0.25], [0.5, 0.5]]))
    adv = torch.tensor([1.0, -3.0])
    loss, logs = policy_loss(logp, logp, logp, adv, torch.ones(2, 2), GRPOConfig())
    assert loss.item() == pytest.approx(-(1.0 - 3.0) / 2)
    assert logs["kl"] == 0.0


def test_flat_groups_leave_the_batch_mean():
    assert informative_groups(torch.tensor([1.0, 0.0, 0.5, 0.5]), 2).tolist() == [1.0, 1.0, 0.0, 0.0]
    logp = torch.log(torch.tensor([[0.5, 0.25], [0.5, 0.5]]))
    loss, _ = policy_loss(logp, logp, logp, torch.tensor([1.0, -3.0]), torch.ones(2, 2), GRPOConfig(), torch.tensor([0.0, 1.0]))
    assert loss.item() == pytest.approx(3.0)  # only the second completion's -A
    loss, _ = policy_loss(logp, logp, logp, torch.tensor([1.0, -3.0]), torch.ones(2, 2), GRPOConfig(), torch.zeros(2))
    assert loss.item() == 0.0
