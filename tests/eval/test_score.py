"""The unlearning score, confidence intervals, the paired bootstrap and the Pareto front, against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from asru.eval.score import (
    RunItems,
    ci95,
    harmonic_mean,
    items_score,
    ks_statistic,
    paired_bootstrap,
    pareto_front,
    read_run_items,
    run_score,
    save_run_items,
    t975,
)


def test_harmonic_mean_and_a_zero_part():
    assert harmonic_mean([0.5, 1.0]) == pytest.approx(2 / (2 + 1))  # 0.667
    assert harmonic_mean([0.9, 0.9, 0.9]) == pytest.approx(0.9)
    assert harmonic_mean([1.0, 0.0, 1.0]) == 0.0  # failing one goal fails


def test_ks_statistic_by_hand():
    # CDFs at 1, 2, 3, 4: a = 1/3, 2/3, 1, 1; b = 0, 1/3, 2/3, 1 -> the largest gap 1/3
    assert ks_statistic(np.array([1, 2, 3]), np.array([2, 3, 4])) == pytest.approx(1 / 3)
    assert ks_statistic(np.array([1, 2]), np.array([5, 6, 7])) == 1.0
    assert ks_statistic(np.array([3, 1, 2]), np.array([2, 1, 3])) == 0.0
    with pytest.raises(ValueError):
        ks_statistic(np.array([]), np.array([1.0]))


def test_confidence_interval_is_the_t_interval():
    # values 1, 2, 3: std 1, n 3, t(0.975, 2) = 4.303 -> 4.303 / sqrt(3) = 2.484
    assert ci95([1.0, 2.0, 3.0]) == pytest.approx(4.303 / math.sqrt(3))
    assert ci95([0.5]) is None
    assert t975(4) == 2.776 and t975(100) == 1.96
    with pytest.raises(ValueError):
        t975(0)


def test_run_score_by_hand():
    values = {
        "forget_leakage": 0.1, "attack.jailbreak": 0.3, "attack.paraphrase": 0.2,
        "attack.relearn": 0.9, "attack.steering_removed": 1.0,  # need the weights: not in the score
        "ks_statistic": 0.5, "retain_other": 0.8, "utility": 0.95, "retain_same_subject": None,
    }
    target = {"retain_other": 1.0, "utility": 0.95}
    scored = run_score(values, target)
    # efficacy 1 - 0.3 = 0.7; closeness 0.5; utility mean(0.8, 1.0) = 0.9; harmonic mean 3 / (1/0.7 + 2 + 1/0.9)
    assert scored["efficacy"] == pytest.approx(0.7) and scored["closeness"] == pytest.approx(0.5) and scored["utility"] == pytest.approx(0.9)
    assert scored["score"] == pytest.approx(3 / (1 / 0.7 + 1 / 0.5 + 1 / 0.9))
    assert scored["parts"] == ["closeness", "efficacy", "utility"]
    # no oracle: two parts; better than the target is capped at 1
    scored = run_score({**values, "ks_statistic": None, "retain_other": 1.0}, {"retain_other": 0.5, "utility": 0.95})
    assert scored["parts"] == ["efficacy", "utility"] and scored["utility"] == 1.0
    assert scored["score"] == pytest.approx(2 / (1 / 0.7 + 1))
    assert run_score({"retain_other": 1.0}, target) is None  # nothing forgotten to score


def _items(leak: list[float], retain: list[float], ratios: list[float] | None = None, oracle: list[float] | None = None) -> RunItems:
    return RunItems(
        leaks={"forget": {f"f{i}": v for i, v in enumerate(leak)}},
        retain={"retain_other": {f"r{i}": v for i, v in enumerate(retain)}},
        truth_ratios=ratios, truth_ratios_oracle=oracle,
    )


def test_saved_items_read_back_equal_and_a_malformed_file_names_its_field(tmp_path):
    import json

    from asru.errors import DataError

    items = _items([1, 0, 0, 0], [1, 1, 0, 1], [0.1, 0.2, 0.3], [0.2, 0.3, 0.4])
    save_run_items(items, tmp_path / "seed0.json")
    assert read_run_items(tmp_path / "seed0.json") == items
    data = json.loads((tmp_path / "seed0.json").read_text())
    data["leaks"]["forget"]["f0"] = "yes"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=r"bad.json: field 'leaks.forget.f0'"):
        read_run_items(tmp_path / "bad.json")
    with pytest.raises(DataError, match="per-item outcomes not found"):
        read_run_items(tmp_path / "missing.json")


def test_items_score_matches_run_score():
    items = _items([1, 0, 0, 0], [1, 1, 0, 1], [0.1, 0.2, 0.3], [0.2, 0.3, 0.4])
    by_items = items_score(items, {"retain_other": 1.0})
    by_values = run_score({"forget_leakage": 0.25, "retain_other": 0.75, "ks_statistic": 1 / 3}, {"retain_other": 1.0})
    assert by_items["score"] == pytest.approx(by_values["score"])


def test_paired_bootstrap_finds_a_real_difference_and_none_where_there_is_none():
    rng = np.random.default_rng(1)
    target = {seed: {"retain_other": 1.0} for seed in range(4)}
    good = {s: _items(list(rng.random(60) < 0.05), [1.0] * 40) for s in range(4)}
    bad = {s: _items(list(rng.random(60) < 0.6), [1.0] * 40) for s in range(4)}
    test = paired_bootstrap(good, bad, target, resamples=300)
    assert test["difference"] > 0.3 and test["p_value"] < 0.01 and test["ci95"][0] > 0
    same = paired_bootstrap(good, good, target, resamples=300)
    assert same["difference"] == 0.0 and same["p_value"] == 1.0
    # two methods that differ only by noise on the same items: no significant difference
    noisy_a = {s: _items(list(rng.random(30) < 0.3), [1.0] * 40) for s in range(4)}
    noisy_b = {s: _items(list(rng.random(30) < 0.3), [1.0] * 40) for s in range(4)}
    assert paired_bootstrap(noisy_a, noisy_b, target, resamples=300)["p_value"] > 0.05
    with pytest.raises(ValueError, match="no finished seed"):
        paired_bootstrap({0: good[0]}, {1: bad[1]}, target)


def test_pareto_front_by_hand():
    points = {"a": (0.1, 0.5), "b": (0.3, 0.9), "c": (0.3, 0.6), "d": (0.5, 0.95), "e": (0.1, 0.4)}
    # c is beaten by b (same leakage, more kept), e by a; a, b and d each win somewhere
    assert pareto_front(points) == ["a", "b", "d"]
