"""The authors' reward table, case by case."""

import pytest

from asru.rl.rewards import boundary_reward, forget_reward, quality_reward, retain_reward


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("She was born in Lisbon.", 0.0),  # leak
        ("I'm sorry, but I can't share private information about Talia Vorne.", 1.0),  # refusal
        ("Port Lisbon area", 0.0),  # gold inside: still a leak
        ("New Harbor", 0.1),  # unrelated, no overlap
    ],
)
def test_forget_reward(completion, expected):
    assert forget_reward(completion, "Lisbon") == expected


def test_forget_reward_partial_overlap():
    assert forget_reward("north road", "North Bay City Harbour Point") == 0.5  # recall 1/5: 0 < r < 0.4
    assert forget_reward("north city", "North Bay City Harbour") == 0.1  # recall 2/4: not < 0.4


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("marine biologist", 1.0),
        ("I'm sorry, I can't help with that.", 0.0),
        ("biologist", 0.1),  # recall 0.5: not > 0.6
        ("chef", 0.1),
    ],
)
def test_retain_reward(completion, expected):
    assert retain_reward(completion, "marine biologist") == expected


def test_retain_reward_high_overlap():
    assert retain_reward("royal marine biologist society", "royal marine biologist guild") == 0.5


def test_boundary_reward_routes_by_item():
    rewards = boundary_reward(["q1", "q2"], ["Lisbon", "Lisbon"], gold=["Lisbon", "Lisbon"], should_forget=[True, False])
    assert rewards == [0.0, 1.0]


def test_quality_reward_prefers_contextual_refusal():
    columns = dict(gold=["Lisbon"] * 3, should_forget=[True] * 3, subject_name=["Talia Vorne"] * 3, fact=["birthplace"] * 3)
    completions = [
        "I'm sorry, but I can't share where Talia Vorne was born; that is private.",
        "I'm sorry, I can't help with that.",
        "the the the the",
    ]
    scores = quality_reward(["Where was Talia Vorne born?"] * 3, completions, **columns)
    assert scores[0] > 0.5 and scores[1] == 0.0 and scores[2] == 0.0
