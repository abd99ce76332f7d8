"""Membership-inference scores, AUC and MUSE's PrivLeak against hand-computed values."""

from __future__ import annotations

import zlib

import pytest

from asru.eval.likelihood import AnswerLikelihood
from asru.eval.membership import auc, membership_scores, privleak


def test_scores_are_open_unlearnings_definitions():
    # five answer tokens and the end-of-turn token (not scored by Min-K%)
    likelihood = AnswerLikelihood("Port Avelin", (-0.5, -3.0, -1.0, -0.2, -2.0, -9.0), (0.4, -2.5, -1.5, 0.3, -0.7, -5.0))
    scores = membership_scores(likelihood, k=0.4)
    loss = (0.5 + 3.0 + 1.0 + 0.2 + 2.0 + 9.0) / 6
    assert scores["loss"] == pytest.approx(loss)
    assert scores["zlib"] == pytest.approx(loss / len(zlib.compress(b"Port Avelin")))
    assert scores["min_k"] == pytest.approx((3.0 + 2.0) / 2)  # int(5 * 0.4) = 2 lowest of the 5 answer tokens, negated
    assert scores["min_k_plus_plus"] == pytest.approx((2.5 + 1.5) / 2)
    short = membership_scores(AnswerLikelihood("Oslo", (-4.0, -0.1), (-1.0, 0.0)), k=0.4)
    assert short["min_k"] == 4.0 and short["min_k_plus_plus"] == 1.0  # at least one token
    assert membership_scores(AnswerLikelihood("", (-0.1,), (0.0,)))["min_k"] == 0.0  # no answer token: 0, as open-unlearning


def test_auc_counts_holdout_scores_above_forget_scores_ties_half():
    forget, holdout = [1.0, 2.0, 3.0], [2.0, 4.0]
    # pairs (f, h): (1,2) above, (1,4) above, (2,2) tie, (2,4) above, (3,2) below, (3,4) above -> 4.5 / 6
    assert auc(forget, holdout) == pytest.approx(4.5 / 6)
    assert auc([0.1, 0.2], [5.0, 6.0]) == 1.0  # every forget item looks more familiar (lower loss) than every holdout one
    assert auc([5.0], [0.1]) == 0.0 and auc([], [1.0]) is None


def test_privleak_is_muses_relative_auc_difference():
    # MUSE's AUC is 1 - ours: the target (ours 0.9 -> 0.1) against the oracle (0.5 -> 0.5): (0.1 - 0.5) / 0.5 = -0.8
    assert privleak(0.9, 0.5) == pytest.approx(-0.8)
    assert privleak(0.3, 0.5) == pytest.approx(0.4)  # over-unlearned: forget people less familiar than never-seen ones
    assert privleak(0.62, 0.62) == 0.0
    assert privleak(0.7, 0.4) == pytest.approx(((1 - 0.7) - (1 - 0.4)) / (1 - 0.4))
    assert privleak(None, 0.5) is None and privleak(0.5, None) is None
