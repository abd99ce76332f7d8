"""asru.eval.audit: the oracle checks' verdicts and what a failed one says in words."""

from asru.eval.audit import AuditConfig, judge_oracle_checks


def _found(privleak: float, n_forget: int, rank1: float = 0.0) -> dict:
    return {
        "oracle": {"model": "oracle", "reason": None},
        "forget_quality": {"forget_quality": 0.5},
        "membership": {"privleak": privleak, "n_forget": n_forget, "min_k": {"forget_mean": 14.93, "holdout_mean": 5.27}},
        "answer_ranking": {"rank1": rank1, "rank1_oracle": 0.0},
        "linear_probe": {"gap": 0.0, "gap_layer": 1, "layers": [1], "recovery": [0.2], "recovery_oracle": [0.2]},
    }


def test_a_failed_privleak_says_which_way_and_warns_on_few_questions():
    refusing = judge_oracle_checks(_found(1.16, 4), AuditConfig())
    check = refusing["oracle_checks"]["privleak"]
    assert refusing["oracle_failed"] == ["privleak"] and check["n"] == 4
    assert "less likely than never-seen people's" in check["reading"] and "on 4 forget questions" in check["reading"]
    assert "14.9 against 5.3 nats a token" in check["reading"] and (check["forget_mean"], check["holdout_mean"]) == (14.93, 5.27)
    knowing = judge_oracle_checks(_found(-0.9, 40), AuditConfig())["oracle_checks"]["privleak"]
    assert "likelier than never-seen people's" in knowing["reading"] and "forget questions" not in knowing["reading"]  # 40: no warning
    passed = judge_oracle_checks(_found(0.2, 4), AuditConfig())["oracle_checks"]
    assert not any("reading" in check for check in passed.values())  # a passed check says nothing more


def test_a_failed_ranking_check_says_the_fact_is_still_preferred():
    checks = judge_oracle_checks(_found(0.0, 40, rank1=0.8), AuditConfig())["oracle_checks"]
    assert checks["answer_ranking"]["passed"] is False and "ranked first more often than by the oracle" in checks["answer_ranking"]["reading"]
