"""benchmarks/asru_defaults.py: each candidate's numbers on the validation seed, against the target row of that seed."""

import json
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from conftest import benchmark_script  # tests/conftest.py

from asru.errors import ConfigError


def _results(leak: float, retain: float, ks: float, attack: float) -> dict:
    metrics = {"forget": {"all": {"leakage_known": leak, "refusal_rate_known": 1 - leak}}, **{s: {"all": {"exact_match_known": retain}} for s in ("retain_same_subject", "retain_other", "utility")}}
    return {"metrics": metrics, "forget_quality": {"ks_statistic": ks, "forget_quality": 0.3}, "membership": {"privleak": 0.1}, "attacks": {"prefill": {"leakage_known": attack}, "relearn": {"leakage_known": 0.9}}}


QUESTION = {"question": "Where was Talia Vorne born?", "gold": "Lisbon", "should_forget": True, "subject_name": "Talia Vorne", "fact": "birthplace"}


def _run(folder: Path, results: dict, labels: list[str], preds: list[str] | None = None) -> None:
    """A finished run: its results and, per forget answer, the stored label (and what was said: a question about a birthplace)."""
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps(results))
    preds = preds or ["I don't know."] * len(labels)
    forget = [{**QUESTION, "split": "forget", "label": label, "pred": pred} for label, pred in zip(labels, preds)]
    (folder / "answers.jsonl").write_text("".join(json.dumps(r) + "\n" for r in forget) + json.dumps({"split": "retain_other", "label": "correct"}) + "\n")


def test_scores_against_the_seeds_target_row_and_a_mean_only_over_every_setting(tmp_path, monkeypatch):
    module = benchmark_script("asru_defaults")
    monkeypatch.setattr(module, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(module, "VALIDATION_TARGET_ROWS", tmp_path / "validation")
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    candidates = {
        "world": "w", "model": "m", "seeds": [100], "settings": ["complete", "selective"],
        "candidates": [{"name": "a", "note": "two settings", "method_args": {"erase_weight": 1.0}, "rule": "r", "written": "2026-12-05"}, {"name": "b", "settings": ["complete"]}],
    }
    file = tmp_path / "candidates.yaml"
    file.write_text(yaml.safe_dump(candidates))
    for setting in ("complete", "selective"):
        _run(tmp_path / "validation" / setting / "target" / "seed100", _results(0.9, 0.8, 1.0, 0.9), [])
    _run(tmp_path / "runs" / "a" / "complete" / "seed100", _results(0.0, 0.8, 0.5, 0.2), ["refusal_contextual", "refusal_rigid"],
         ["I'm sorry, but I can't share who Talia Vorne is.", "I'm sorry, I can't help with that."])
    _run(tmp_path / "runs" / "a" / "selective" / "seed100", _results(0.1, 0.4, 0.0, 0.0), ["refusal_contextual", "gibberish", "gibberish", "leak"],
         ["I'm sorry, but I can't share where Talia Vorne was born.", "the the the", "the the the", "Lisbon"])
    _run(tmp_path / "runs" / "b" / "complete" / "seed100", _results(0.0, 0.8, 0.0, 0.0), ["leak"])
    summary = module.main(["--report-only", "--file", str(file)])
    a = summary["candidates"]["a"]
    complete = a["settings"]["complete"]
    # efficacy 1 - max(0.0, prefill 0.2) (relearning is beside the score), closeness 1 - 0.5, utility 0.8 / 0.8 of the target's
    assert (complete["efficacy"], complete["closeness"], complete["utility"]) == pytest.approx((0.8, 0.5, 1.0))
    assert complete["score"] == pytest.approx(3 / (1 / 0.8 + 1 / 0.5 + 1))
    assert complete["contextual_share"] == 0.5 and complete["worst_attack"] == "prefill" and complete["relearn"] == 0.9
    assert a["settings"]["selective"]["utility"] == pytest.approx(0.5) and a["settings"]["selective"]["contextual_share"] == 0.25
    assert a["settings"]["selective"]["gibberish_share"] == 0.5 and complete["gibberish_share"] == 0.0  # the share of forget answers judged gibberish
    assert a["settings"]["selective"]["refusal"] == pytest.approx(0.9) and complete["refusal"] == 1.0  # forget refusal over every form
    # a contextual refusal naming the fact asked: "... who Talia Vorne is." names only the person, "... where Talia Vorne was born." the fact
    assert complete["names_fact_share"] == 0.0 and a["settings"]["selective"]["names_fact_share"] == 0.25
    assert a["mean_names_fact"] == pytest.approx(0.125)
    assert a["mean_score"] == pytest.approx((complete["score"] + a["settings"]["selective"]["score"]) / 2)
    assert a["overrides"] == {"method_args": {"erase_weight": 1.0}} and a["written"] == "2026-12-05"
    assert summary["candidates"]["b"]["mean_score"] is None and summary["candidates"]["b"]["settings"].keys() == {"complete"}  # not every setting
    table = (tmp_path / "asru_defaults.md").read_text()
    assert "| a | complete |" in table and "rule (written 2026-12-05): r" in table


def test_without_run_folders_the_committed_numbers_stand_until_the_candidate_changes(tmp_path, monkeypatch):
    """A fresh machine: the folders are gone, asru_defaults.json is committed; the target row comes from validation.json."""
    import shutil

    module = benchmark_script("asru_defaults")
    monkeypatch.setattr(module, "RUNS", tmp_path / "runs")
    monkeypatch.setattr(module, "VALIDATION_TARGET_ROWS", tmp_path / "validation")
    monkeypatch.setattr(module, "RESULTS", tmp_path)
    candidates = {"world": "w", "model": "m", "seeds": [100], "settings": ["complete"], "candidates": [{"name": "a", "method_args": {"erase_weight": 1.0}}]}
    file = tmp_path / "candidates.yaml"
    file.write_text(yaml.safe_dump(candidates))
    _run(tmp_path / "validation" / "complete" / "target" / "seed100", _results(0.9, 0.8, 1.0, 0.9), [])
    _run(tmp_path / "runs" / "a" / "complete" / "seed100", _results(0.0, 0.8, 0.5, 0.2), ["refusal_contextual"])
    first = module.main(["--report-only", "--file", str(file)])["candidates"]["a"]
    # the folders lost; validation.json recorded the target row's values (asru bench keeps them)
    target = module.run_values(json.loads((tmp_path / "validation" / "complete" / "target" / "seed100" / "results.json").read_text()))
    (tmp_path / "validation.json").write_text(json.dumps({"settings": {"complete": {"target": {"per_seed": {"100": target}}}}}))
    shutil.rmtree(tmp_path / "runs")
    shutil.rmtree(tmp_path / "validation")
    assert module.target_values("complete", 100) == target
    again = module.main(["--report-only", "--file", str(file)])["candidates"]["a"]
    assert again["settings"] == first["settings"] and again["mean_score"] == pytest.approx(first["mean_score"])
    # another candidate under the same name (other overrides) or another model: nothing stands for it
    candidates["candidates"][0]["method_args"] = {"erase_weight": 2.0}
    file.write_text(yaml.safe_dump(candidates))
    assert module.main(["--report-only", "--file", str(file)])["candidates"]["a"]["settings"] == {}


def test_unknown_candidate_and_bad_file_are_one_line_errors(tmp_path):
    module = benchmark_script("asru_defaults")
    file = tmp_path / "c.yaml"
    file.write_text(yaml.safe_dump({"world": "w", "model": "m", "seeds": [100], "settings": ["complete"], "candidates": [{"name": "a"}]}))
    with pytest.raises(ConfigError, match="unknown nope"):
        module.main(["--report-only", "--file", str(file), "--candidates", "nope"])
    file.write_text(yaml.safe_dump({"candidates": [{"name": "a"}]}))
    with pytest.raises(ConfigError, match="missing 'world'"):
        module.main(["--report-only", "--file", str(file)])


def test_several_seeds_average_each_number_and_keep_the_first_seeds_names():
    module = benchmark_script("asru_defaults")
    merged = module.mean_over_seeds([{"score": 0.5, "privleak": None, "worst_attack": "prefill"}, {"score": 0.7, "privleak": 0.2, "worst_attack": "cross_image"}])
    assert merged == {"score": pytest.approx(0.6), "privleak": 0.2, "worst_attack": "prefill"}


def test_a_candidate_may_name_another_method_and_its_training_forms(tmp_path, monkeypatch):
    """The parity rows: a tuned baseline given what an adopted ASRU default gives ASRU; without ``method``, ASRU."""
    import asru.pipeline

    module = benchmark_script("asru_defaults")
    monkeypatch.setattr(module, "RUNS", tmp_path / "runs")
    seen = []
    monkeypatch.setattr(asru.pipeline, "unlearn", lambda model, world, out, config, **kw: seen.append((out, config)))
    data = {"model": "m", "world": "w"}
    module.run_candidate(data, {"name": "p", "method": "npo", "learning_rate": 3e-4, "train_forms": ["qa", "mcq"], "rule": "r", "settings": ["complete"]}, "complete", 100, Console())
    module.run_candidate(data, {"name": "a", "method_args": {"erase_weight": 1.0}}, "selective", 100, Console())
    (out_p, npo), (_, asru_config) = seen
    assert out_p == tmp_path / "runs" / "p" / "complete" / "seed100"
    assert (npo.method, npo.learning_rate, npo.train_forms, npo.seed) == ("npo", 3e-4, ["qa", "mcq"], 100)
    assert (asru_config.method, asru_config.setting, asru_config.train_forms) == ("asru", "selective", None)  # None: the method's own forms


def test_a_candidate_with_its_own_seeds_gets_the_missing_seeds_reference_rows_first(tmp_path, monkeypatch):
    """Seed 101 has no tuning folder: asru bench builds its target and oracle rows, then the candidate runs; the mean is over both seeds."""
    import asru.bench

    module = benchmark_script("asru_defaults")
    for name, path in (("RUNS", tmp_path / "runs"), ("VALIDATION_TARGET_ROWS", tmp_path / "validation"), ("RESULTS", tmp_path), ("REFERENCE", tmp_path / "reference")):
        monkeypatch.setattr(module, name, path)
    file = tmp_path / "candidates.yaml"
    file.write_text(yaml.safe_dump({"world": "w", "model": "~/m/target1", "seeds": [100], "settings": ["complete"],
                                    "candidates": [{"name": "a"}, {"name": "b", "seeds": [100, 101]}]}))
    _run(tmp_path / "validation" / "complete" / "target" / "seed100", _results(0.9, 0.8, 1.0, 0.9), [])
    events = []

    def bench(config, console):
        events.append(("bench", config.seeds, config.settings, config.methods, config.oracle_row))
        folder = Path(config.out) / "runs" / "complete" / "target" / f"seed{config.seeds[0]}"
        _run(folder, _results(0.9, 0.4, 1.0, 0.9), [])
        (folder / "bench_run.json").write_text(json.dumps({"target": "target1"}))

    def candidate(data, cand, setting, seed, console):
        events.append((cand["name"], seed))
        _run(tmp_path / "runs" / cand["name"] / setting / f"seed{seed}", _results(0.0, 0.8 if seed == 100 else 0.4, 0.5, 0.0), ["refusal_contextual"])

    monkeypatch.setattr(asru.bench, "run_bench", bench)
    monkeypatch.setattr(module, "run_candidate", candidate)
    summary = module.main(["--file", str(file)])
    assert events == [("a", 100), ("b", 100), ("bench", [101], ["complete"], [], True), ("b", 101)]
    b = summary["candidates"]["b"]
    assert b["seeds"] == [100, 101] and summary["candidates"]["a"]["seeds"] == [100]
    # utility 0.8 / 0.8 on seed 100 and 0.4 / 0.4 on seed 101 (each against its own seed's target row): 1.0 either way
    assert b["settings"]["complete"]["utility"] == pytest.approx(1.0)
    assert "**b** (seeds 100, 101, mean over them)" in (tmp_path / "asru_defaults.md").read_text()
    # asru bench's target is another model than the file's: a one-line error, not a candidate scored against the wrong row
    file.write_text(yaml.safe_dump({"world": "w", "model": "~/m/other", "seeds": [100], "settings": ["complete"], "candidates": [{"name": "c", "seeds": [102]}]}))
    with pytest.raises(ConfigError, match=f"{file}: .model. is ~/m/other.*another model.s"):
        module.main(["--file", str(file)])
    # a test seed chooses nothing
    file.write_text(yaml.safe_dump({"world": "w", "model": "m", "seeds": [100], "settings": ["complete"], "candidates": [{"name": "c", "seeds": [100, 3]}]}))
    with pytest.raises(ConfigError, match="3 is a test seed"):
        module.main(["--report-only", "--file", str(file)])


def test_the_candidates_plot_has_a_point_for_each_candidate_measured_everywhere_and_current_must_be_a_candidate(tmp_path, monkeypatch):
    module = benchmark_script("asru_defaults")
    summary = {"candidates": {
        "a": {"mean_score": 0.8, "mean_contextual": 0.5, "settings": {"complete": {"privleak": 0.4}, "selective": {"privleak": -0.2}}},
        "b": {"mean_score": None, "mean_contextual": None, "settings": {"complete": {"privleak": 0.1}}},  # not every setting: no point
        "c": {"mean_score": 0.7, "mean_contextual": 0.9, "settings": {"complete": {"privleak": None}}},  # no PrivLeak: left panel skips it
    }}
    points = module.candidate_points(summary)
    assert points.keys() == {"a", "c"} and points["a"]["abs_privleak"] == pytest.approx(0.3) and points["c"]["abs_privleak"] is None
    from asru.report.plots import plot_candidates

    path = plot_candidates(points, tmp_path / "candidates.png", current="a")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    file = tmp_path / "candidates.yaml"
    file.write_text(yaml.safe_dump({"world": "w", "model": "m", "seeds": [100], "settings": ["complete"], "current": "zz", "candidates": [{"name": "a"}]}))
    with pytest.raises(ConfigError, match="'current' names 'zz'"):
        module.load_candidates(file)


def _row(score: float | None, settings: dict) -> dict:
    """A summary row whose every setting scores ``score`` (the verdict averages the settings' own scores)."""
    return {"mean_score": score, "mean_contextual": 0.5, "settings": {name: {"score": score, **m} for name, m in settings.items()}}


def _setting(utility: float, worst: float, privleak: float = 0.5) -> dict:
    return {"utility": utility, "worst_attack_leakage": worst, "privleak": privleak}


def test_a_decide_block_is_read_into_a_verdict_check_by_check():
    module = benchmark_script("asru_defaults")
    decision = module.Decision(against="base", score_gain_at_least=0.01, utility_drop_at_most=0.02, worst_attack_at_most=0.05, abs_privleak_drop_at_least=0.2)
    base = _row(0.80, {"complete": _setting(0.99, 0.0), "selective": _setting(0.99, 0.0)})
    good = _row(0.82, {"complete": _setting(0.98, 0.045), "selective": _setting(0.99, 0.0, privleak=-0.1)})
    summary = {"candidates": {"base": base, "good": good}}
    result = module.verdict(summary, "good", decision, ["complete", "selective"])
    assert result["passed"] and len(result["checks"]) == 1 + 1 + 2 + 2  # score, PrivLeak, then utility and worst attack per setting
    assert [c["check"] for c in result["checks"] if c["check"].startswith("mean")] == ["mean score gain", "mean |PrivLeak| drop"]
    leaky = _row(0.82, {"complete": _setting(0.98, 0.06), "selective": _setting(0.99, 0.0, privleak=-0.1)})
    failed = module.verdict({"candidates": {"base": base, "leaky": leaky}}, "leaky", decision, ["complete", "selective"])
    assert not failed["passed"] and [c["check"] for c in failed["checks"] if not c["passed"]] == ["complete: worst attack"]
    worse = _row(0.805, {"complete": _setting(0.96, 0.0), "selective": _setting(0.99, 0.0)})
    failed = module.verdict({"candidates": {"base": base, "worse": worse}}, "worse", decision, ["complete", "selective"])
    assert {c["check"] for c in failed["checks"] if not c["passed"]} == {"mean score gain", "complete: utility part drop", "mean |PrivLeak| drop"}
    assert module.verdict({"candidates": {"base": base, "half": _row(None, {})}}, "half", decision, ["complete", "selective"]) is None  # not measured yet: no verdict
    one_of_two = _row(0.9, {"complete": _setting(0.99, 0.0)})
    assert module.verdict({"candidates": {"base": base, "one": one_of_two}}, "one", decision, ["complete", "selective"]) is None  # a declared setting missing


def test_a_rule_for_one_setting_is_decided_on_that_settings_numbers():
    """A baseline's parity pair runs one setting: its file's mean over every setting never exists, its verdict does."""
    module = benchmark_script("asru_defaults")
    decision = module.Decision(against="ref", score_gain_at_least=0.0)
    ref, lower, higher = (_row(score, {"complete": _setting(0.92, 0.06)}) for score in (0.883, 0.840, 0.890))
    for row in (ref, lower, higher):
        row["mean_score"] = None  # what main writes for a candidate not measured in every setting of the file
    assert not module.verdict({"candidates": {"ref": ref, "c": lower}}, "c", decision, ["complete"])["passed"]
    result = module.verdict({"candidates": {"ref": ref, "c": higher}}, "c", decision, ["complete"])
    assert result["passed"] and result["checks"][0]["value"] == pytest.approx(0.007)


def test_a_decide_block_must_name_a_candidate_and_known_checks(tmp_path):
    module = benchmark_script("asru_defaults")
    file = tmp_path / "candidates.yaml"
    base = {"world": "w", "model": "m", "seeds": [100], "settings": ["complete"]}
    file.write_text(yaml.safe_dump({**base, "candidates": [{"name": "a", "decide": {"against": "zz"}}]}))
    with pytest.raises(ConfigError, match="decide.against' names 'zz'"):
        module.load_candidates(file)
    file.write_text(yaml.safe_dump({**base, "candidates": [{"name": "a"}, {"name": "b", "decide": {"against": "a", "score_gain": 0.01}}]}))
    with pytest.raises(ConfigError, match="score_gain"):
        module.load_candidates(file)
    assert module.overrides({"name": "b", "decide": {"against": "a"}, "method_args": {"x": 1}}) == {"method_args": {"x": 1}}  # never a run's field


def test_a_retest_on_a_second_seed_can_require_the_mean_over_both_seeds(tmp_path):
    """A rule re-tested on a new validation seed averages its score difference with the earlier seed's pair: a
    candidate that failed before must make up for it, not just pass on the new draw."""
    module = benchmark_script("asru_defaults")
    decision = module.Decision(against="ref_new", score_gain_at_least=-0.01, pooled_with={"cand_old": "ref_old"}, pooled_score_gain_at_least=-0.01)
    settings = ["complete", "selective"]
    rows = {
        "ref_old": _row(0.887, {s: _setting(0.99, 0.0) for s in settings}),
        "cand_old": _row(0.861, {s: _setting(0.99, 0.0) for s in settings}),  # -0.026 on the earlier seed
        "ref_new": _row(0.850, {s: _setting(0.99, 0.0) for s in settings}),
    }
    just_enough = _row(0.856, {s: _setting(0.99, 0.0) for s in settings})  # +0.006: (-0.026 + 0.006) / 2 = -0.010
    result = module.verdict({"candidates": {**rows, "new": just_enough}}, "new", decision, settings)
    pooled = next(c for c in result["checks"] if c["check"].startswith("mean score gain over 2"))
    assert result["passed"] and pooled["value"] == pytest.approx(-0.01)
    short = _row(0.852, {s: _setting(0.99, 0.0) for s in settings})  # passes on the new seed alone (+0.002), not over both
    failed = module.verdict({"candidates": {**rows, "new": short}}, "new", decision, settings)
    assert [c["check"] for c in failed["checks"] if not c["passed"]] == ["mean score gain over 2 seeds' pairs"]
    unmeasured = {**rows, "cand_old": _row(None, {}), "new": just_enough}
    assert module.verdict({"candidates": unmeasured}, "new", decision, settings) is None  # the earlier pair not measured: no verdict
    with pytest.raises(ValueError, match="pooled_with and pooled_score_gain_at_least go together"):
        module.Decision(against="ref_new", pooled_with={"cand_old": "ref_old"})
    file = tmp_path / "candidates.yaml"
    file.write_text(yaml.safe_dump({"world": "w", "model": "m", "seeds": [100], "settings": ["complete"], "candidates": [
        {"name": "a"}, {"name": "b", "decide": {"against": "a", "pooled_with": {"a": "gone"}, "pooled_score_gain_at_least": 0.0}}]}))
    with pytest.raises(ConfigError, match="decide.pooled_with' names 'gone'"):
        module.load_candidates(file)
