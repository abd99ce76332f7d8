"""TOFU's truth ratio and forget quality against hand-computed values; the KS test against brute force."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from asru.data.schema import Sample
from asru.eval.forget_quality import forget_quality, ks_2samp, ranked_first, truth_ratio, truth_ratio_score, wrong_answers
from asru.eval.likelihood import AnswerLikelihood


def answer(*logprobs: float) -> AnswerLikelihood:
    return AnswerLikelihood("x", tuple(logprobs), tuple(logprobs))


def brute_force_p(a: list[float], b: list[float]) -> float:
    """P(D' >= D) over every way to split the pooled values into groups of len(a) and len(b) (distinct values)."""
    pooled, n = a + b, len(a)

    def statistic(x, y):
        return max(abs(sum(v <= t for v in x) / len(x) - sum(v <= t for v in y) / len(y)) for t in pooled)

    observed = statistic(a, b)
    splits = list(itertools.combinations(range(len(pooled)), n))
    extreme = 0
    for chosen in splits:
        x = [pooled[i] for i in chosen]
        y = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        extreme += statistic(x, y) >= observed - 1e-12
    return extreme / len(splits)


def test_ks_test_matches_hand_counted_and_brute_force_p_values():
    assert ks_2samp([1, 2, 3], [4, 5, 6]) == (1.0, pytest.approx(2 / 20))  # the 2 of C(6, 3) orderings that separate fully
    assert ks_2samp([1, 2], [3]) == (1.0, pytest.approx(2 / 3))
    assert ks_2samp([0.1, 0.5, 0.9], [0.1, 0.5, 0.9]) == (0.0, 1.0)  # identical samples: indistinguishable
    rng = random.Random(0)
    for n, m in ((4, 5), (5, 5), (3, 7), (6, 4)):
        a = [rng.random() for _ in range(n)]
        b = [rng.random() + 0.3 for _ in range(m)]
        statistic, p = ks_2samp(a, b)
        assert p == pytest.approx(brute_force_p(a, b), rel=1e-9), (n, m)
        assert 0 < statistic <= 1


def test_ks_test_on_large_samples_agrees_with_the_asymptotic_distribution(monkeypatch):
    from asru.eval import forget_quality as module

    rng = random.Random(1)
    a = [rng.gauss(0, 1) for _ in range(300)]
    b = [rng.gauss(0.3, 1) for _ in range(300)]
    exact = ks_2samp(a, b)
    monkeypatch.setattr(module, "KS_EXACT_MAX_CELLS", 10)
    asymptotic = ks_2samp(a, b)
    assert exact[0] == asymptotic[0] and 0.01 < exact[1] < 0.5 and asymptotic[1] == pytest.approx(exact[1], rel=0.01)
    with pytest.raises(ValueError):
        ks_2samp([], [1.0])


def test_truth_ratio_is_open_unlearnings_arithmetic():
    true = answer(-0.1, -0.3)  # avg_loss 0.2
    wrong = [answer(-2.0), answer(-1.0, -3.0)]  # avg_loss 2.0 each
    expected = math.exp(-2.0) / (math.exp(-0.2) + 1e-10)
    assert truth_ratio(true, wrong) == pytest.approx(expected)
    # the wrong answers' losses are averaged before exponentiating (a geometric mean of their per-token probabilities)
    assert truth_ratio(answer(-1.0), [answer(-1.0), answer(-3.0)]) == pytest.approx(math.exp(-2.0) / (math.exp(-1.0) + 1e-10))
    # TOFU's forget Truth Ratio: mean of min(R, 1/R); 1 when the truth is no more likely than a wrong answer
    assert truth_ratio_score([0.5, 2.0, 1.0]) == pytest.approx((0.5 + 1 / (2.0 + 1e-10) + 1 / (1 + 1e-10)) / 3)
    assert truth_ratio_score([]) is None
    assert ranked_first(true, wrong) and not ranked_first(answer(-2.0), [answer(-1.0), answer(-3.0)])


def test_forget_quality_is_the_ks_p_value_against_the_oracles_ratios():
    mine, oracles = [0.01, 0.02, 0.03, 0.05], [0.8, 0.9, 1.1, 1.3]
    assert forget_quality(mine, oracles) == ks_2samp(mine, oracles) == (1.0, pytest.approx(2 / 70))
    assert forget_quality(oracles, oracles) == (0.0, 1.0)
    assert forget_quality(mine, []) == (None, None)


def test_wrong_answers_are_other_values_of_the_same_fact_the_same_for_every_model():
    sample = Sample(id="s001-f1-text-qa", kind="fact", fact="birthplace", fact_id=1, modality="text", question="Where?", answer="Lisbon")
    values = {"birthplace": ["Lisbon", "Oslo", "Korsa", "Yarrow", "Tarvin", "Zennor", "Halvor", "lisbon"], "job": ["chef"]}
    first = wrong_answers(sample, values)
    assert len(first) == 5 and len(set(first)) == 5 and first == wrong_answers(sample, values)
    assert not {"Lisbon", "lisbon", "chef"} & set(first)  # never the truth (however written), never another fact's value
    other = sample.model_copy(update={"id": "s002-f1-text-qa"})
    assert sorted(wrong_answers(other, values)) != sorted(first) or len(values["birthplace"]) <= 7  # drawn per item
    assert wrong_answers(sample, {"birthplace": ["Lisbon", "Oslo"]}) == ["Oslo"]  # as many as there are
