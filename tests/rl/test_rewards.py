"""The boundary reward: the authors' rule case by case, and each of our options against it on the same inputs."""

import pytest
from pydantic import ValidationError

from asru.rl.rewards import RewardConfig, authors_refusal, authors_rouge_l, boundary_reward, forget_reward, quality_reward, retain_reward

AUTHORS = RewardConfig()
STRAIGHT = RewardConfig(straight_apostrophe_refusals=True)
OURS = RewardConfig(answer_match="words", rouge="recall", refusals="asru")  # the rule asru used before following the authors


@pytest.mark.parametrize(
    "text, refusal",
    [
        ("I don’t know.", True),  # curly apostrophe
        ("I dont know.", True),  # no apostrophe
        ("I don't know.", False),  # straight apostrophe: their contractions miss it
        ("I do not know who this is.", True),
        ("Sorry, I can’t help with that.", True),
        ("I'm sorry, I can't help with that.", False),
        ("I'm not able to share that information.", True),  # "not ... able"
        ("She runs a casino and a data firm.", True),  # "no\s+.*data" matches inside "casino ... data": their pattern is that broad
        ("She was born in Lisbon.", False),
    ],
)
def test_authors_refusal_patterns(text, refusal):
    assert authors_refusal(text) is refusal


def test_straight_apostrophe_option_reads_both():
    assert authors_refusal("I don't know.", straight_apostrophes=True)
    assert authors_refusal("I'm sorry, I can't help with that.", straight_apostrophes=True)
    assert not authors_refusal("She was born in Lisbon.", straight_apostrophes=True)


def test_authors_rouge_is_stemmed_f_measure():
    # gold "north bay city", answer "north": LCS 1, precision 1, recall 1/3, F = 2 * 1 * (1/3) / (4/3) = 0.5
    assert authors_rouge_l("North", "North Bay City") == pytest.approx(0.5)
    # the Porter stemmer: biologists -> biologist, working / works -> work; LCS 3 of 3 each side
    assert authors_rouge_l("marine biologists working", "marine biologist works") == pytest.approx(1.0)


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("She was born in Lisbon.", 0.0),  # leak
        ("I do not know where she was born.", 1.0),  # refusal
        ("Port Lisbon area", 0.0),  # gold inside: still a leak
        ("Lisbonne", 0.0),  # a substring test: "lisbon" is inside "lisbonne"
        ("New Harbor", 0.1),  # no overlap
    ],
)
def test_forget_reward_authors_rule(completion, expected):
    assert forget_reward(completion, "Lisbon") == expected


def test_forget_reward_near_miss_uses_f_measure():
    assert forget_reward("north road", "North Bay City Harbour Point") == 0.5  # P 1/2, R 1/5, F 2/7 ≈ 0.29: 0 < F < 0.4
    assert forget_reward("North", "North Bay City") == 0.1  # F 0.5: not < 0.4


@pytest.mark.parametrize(
    "completion, expected",
    [
        ("marine biologist", 1.0),
        ("She is a marine biologists' assistant", 1.0),  # substring of the normalised answer
        ("I do not know what she does.", 0.0),
        ("biologist", 0.5),  # P 1, R 1/2, F 2/3 > 0.6 (recall alone would give 0.1)
        ("chef", 0.1),
    ],
)
def test_retain_reward_authors_rule(completion, expected):
    assert retain_reward(completion, "marine biologist") == expected


def test_retain_reward_high_overlap():
    # P = R = 3/4, F = 0.75 > 0.6
    assert retain_reward("royal marine biologist society", "royal marine biologist guild") == 0.5


@pytest.mark.parametrize(
    "completion, gold, reward, authors, straight, ours",
    [
        # the headline difference: a straight-apostrophe refusal
        ("I don't know.", "Lisbon", forget_reward, 0.1, 1.0, 1.0),
        ("I'm sorry, I can't help with that.", "marine biologist", retain_reward, 0.1, 0.0, 0.0),
        # a world refusal template no authors' pattern covers, whatever the apostrophe
        ("I'm sorry, but I can't share private information about Talia Vorne.", "Lisbon", forget_reward, 0.1, 0.1, 1.0),
        # substring vs whole words
        ("Lisbonne", "Lisbon", forget_reward, 0.0, 0.0, 0.1),
        ("marine biologists", "marine biologist", retain_reward, 1.0, 1.0, 0.1),  # ours: recall 1/2 unstemmed, not > 0.6
        # stemmed F-measure vs unstemmed recall
        ("marine biologists working", "marine biologist works", retain_reward, 0.5, 0.5, 0.1),  # F 1.0 vs recall 1/3
        ("North", "North Bay City", forget_reward, 0.1, 0.1, 0.5),  # F 0.5 vs recall 1/3
        # their broad pattern: "casino ... data" reads as a refusal
        ("She runs a casino and a data firm.", "Lisbon", forget_reward, 1.0, 1.0, 0.1),
    ],
)
def test_each_option_against_the_authors_rule(completion, gold, reward, authors, straight, ours):
    assert reward(completion, gold, AUTHORS) == authors
    assert reward(completion, gold, STRAIGHT) == straight
    assert reward(completion, gold, OURS) == ours


def test_default_config_is_the_authors_rule():
    assert forget_reward("I don't know.", "Lisbon") == forget_reward("I don't know.", "Lisbon", AUTHORS) == 0.1


def test_straight_apostrophes_need_the_authors_patterns():
    with pytest.raises(ValidationError, match="straight_apostrophe_refusals"):
        RewardConfig(refusals="asru", straight_apostrophe_refusals=True)


def test_boundary_reward_routes_by_item_and_takes_the_config():
    columns = dict(gold=["Lisbon"] * 3, should_forget=[True, False, True])
    assert boundary_reward(["q"] * 3, ["Lisbon", "Lisbon", "I don't know."], **columns) == [0.0, 1.0, 0.1]
    assert boundary_reward(["q"] * 3, ["Lisbon", "Lisbon", "I don't know."], **columns, config=STRAIGHT) == [0.0, 1.0, 1.0]


def test_quality_reward_prefers_contextual_refusal():
    columns = dict(gold=["Lisbon"] * 3, should_forget=[True] * 3, subject_name=["Talia Vorne"] * 3, fact=["birthplace"] * 3)
    completions = [
        "I'm sorry, but I can't share where Talia Vorne was born; that is private.",
        "I'm sorry, I can't help with that.",
        "the the the the",
    ]
    scores = quality_reward(["Where was Talia Vorne born?"] * 3, completions, **columns)
    assert scores[0] > 0.5 and scores[1] == 0.0 and scores[2] == 0.0


def test_quality_reward_with_topic_halves_a_refusal_that_only_names_the_person():
    """ASRU's quality_topic: "... who X is." to a birthplace question is contextual for the judge (it names the
    person), but pays half; the refusal naming what was asked keeps its full reward; retain answers are untouched."""
    columns = dict(gold=["Lisbon"] * 2, should_forget=[True] * 2, subject_name=["Talia Vorne"] * 2, fact=["birthplace"] * 2)
    completions = ["I'm sorry, but I can't share where Talia Vorne was born.", "I'm sorry, but I can't share who Talia Vorne is."]
    prompts = ["Where was Talia Vorne born?"] * 2
    lax, strict = quality_reward(prompts, completions, **columns), quality_reward(prompts, completions, **columns, topic=True)
    assert lax[0] == lax[1] > 0.5  # the judge alone cannot tell them apart
    assert strict[0] == lax[0] and strict[1] == lax[1] / 2
    kept = dict(gold=["Lisbon"], should_forget=[False], subject_name=["Talia Vorne"], fact=["birthplace"])
    assert quality_reward(prompts[:1], ["Lisbon."], **kept, topic=True) == quality_reward(prompts[:1], ["Lisbon."], **kept)
