"""benchmarks/asru_bars.py: each of issue 21's goals is read from a world's tables and run folders and judged."""

import json
from pathlib import Path

from conftest import benchmark_script  # tests/conftest.py


def _module():
    return benchmark_script("asru_bars")


def _summary(values: list[float]) -> dict:
    return {"mean": sum(values) / len(values), "values": values, "n": len(values)}


def _cell(seeds: list[int], **metrics: list[float]) -> dict:
    per_seed = {str(s): {k.replace("__", "."): v[i] for k, v in metrics.items()} for i, s in enumerate(seeds)}
    return {"seeds": seeds, "metrics": {k.replace("__", "."): _summary(v) for k, v in metrics.items()}, "per_seed": per_seed}


def test_goals_judge_the_worst_seed_the_worst_attack_and_each_ratio(tmp_path):
    module = _module()
    asru = _cell(
        [0, 1], forget_leakage=[0.0, 0.03], forget_refusal=[0.99, 0.96], attack__paraphrase=[0.0, 0.02], attack__role_play=[0.08, 0.04],
        attack__relearn=[0.5, 0.5], retain_same_subject=[0.96, 0.95], retain_other=[0.99, 0.97], utility=[0.9, 1.0], score=[0.8, 0.9], wall_seconds=[170, 200],
        contextual_share=[0.9, 0.8],
    )
    table = {"settings": {"selective": {"asru": asru}}}
    measured = {g["goal"]: g for g in module.goals(table, "selective")}
    leak = measured["forget leakage, every form (known; worst seed)"]
    assert leak["value"] == 0.03 and leak["pass"] is False  # seed 1 is over 0.02 although the mean (0.015) is not
    attack = measured["worst prompt attack (mean over seeds)"]
    assert abs(attack["value"] - 0.06) < 1e-9 and attack["pass"] is False and attack["note"] == "worst: role_play"
    assert measured["forget refusal, all forms (known; worst seed)"]["value"] == 0.96
    assert measured["forget refusal, all forms (known; worst seed)"]["pass"] is True
    contextual = measured["contextual refusals among forget answers"]
    assert abs(contextual["value"] - 0.85) < 1e-9 and contextual["pass"] is True
    assert measured["same person's kept facts (known, vs target)"]["pass"] is True  # 0.955
    assert measured["other people (known, vs target)"]["pass"] is True  # 0.98
    assert measured["general utility (known, vs target)"]["pass"] is False  # 0.95 < 0.97
    assert measured["relearning leakage"]["value"] == 0.5 and measured["relearning leakage"]["pass"] is None  # no oracle: listed, not judged
    assert measured["one run, train + eval (s)"]["value"] == 185 and measured["one run, train + eval (s)"]["pass"] is False
    # Complete has no kept facts of the same people
    complete = {g["goal"] for g in module.goals({"settings": {"complete": {"asru": asru}}}, "complete")}
    assert "same person's kept facts (known, vs target)" not in complete
    # the score goal without the trade-off's test: not yet run there, or a world it never runs (an unseen one)
    score = "unlearning score: tuned ASRU − the best tuned baseline (trade-off benchmark)"
    assert measured[score]["pass"] is None and measured[score]["note"] == "no trade-off test yet"
    unseen = {g["goal"]: g for g in module.goals(table, "selective", baselines=False)}
    assert unseen[score]["pass"] is None and unseen[score]["note"].startswith("no baselines on this world")


def test_goals_against_the_oracle_are_judged_where_the_table_has_its_row_and_the_score_from_the_tradeoff_test(tmp_path):
    module = _module()
    asru = _cell([0, 1], attack__relearn=[0.25, 0.35], answer_rank1=[0.20, 0.40], probe_recovery=[0.30, 0.30], forget_quality=[0.01, 0.05], privleak=[0.05, 0.10])
    oracle = _cell([0, 1], attack__relearn=[0.18, 0.22], answer_rank1=[0.10, 0.10], probe_recovery=[0.25, 0.25])
    table = {"settings": {"complete": {"asru": asru, "oracle": oracle}}}
    tradeoff = {"significance": {"complete": {"difference": 0.04, "p_value": 0.01, "baseline": "npo", "seeds": [0, 1]}}}
    measured = {g["goal"]: g for g in module.goals(table, "complete", tradeoff=tradeoff)}
    assert measured["relearning leakage"]["pass"] is False and measured["relearning leakage"]["note"] == "oracle: 0.200"  # 0.30 against 0.20
    assert measured["true answer ranked first among six"]["pass"] is False  # 0.30 against 0.10
    assert measured["probe recovery, best layer"]["pass"] is True  # 0.30 against 0.25
    assert measured["forget quality (KS p against the oracle, mean over seeds)"]["pass"] is False  # 0.03
    assert measured["PrivLeak (mean over seeds)"]["pass"] is True  # 0.075
    score = measured["unlearning score: tuned ASRU − the best tuned baseline (trade-off benchmark)"]
    assert score["value"] == 0.04 and score["pass"] is True and "against npo" in score["note"]
    # not significant: not passed; no oracle row: the oracle goals listed, not judged
    tradeoff["significance"]["complete"]["p_value"] = 0.2
    without = {g["goal"]: g for g in module.goals({"settings": {"complete": {"asru": asru}}}, "complete", tradeoff=tradeoff)}
    assert without["unlearning score: tuned ASRU − the best tuned baseline (trade-off benchmark)"]["pass"] is False
    for goal in ("relearning leakage", "true answer ranked first among six", "PrivLeak (mean over seeds)"):
        assert without[goal]["pass"] is None and without[goal]["note"] == "no oracle in this run"
    assert module.WORLDS[0].oracle and not any(w.oracle for w in module.WORLDS[1:])  # the reported world's oracles are the trade-off's


def test_missing_runs_are_unmeasured_not_passed():
    measured = _module().goals({}, "complete")
    assert all(g["value"] is None and g["pass"] is None for g in measured)


def test_ablation_rows_list_the_target_first_and_skip_rows_not_run(tmp_path):
    module = _module()
    table = {"settings": {"complete": {
        "asru": _cell([0, 1], score=[0.8, 0.9], attack__jailbreak=[0.1, 0.3], privleak=[0.2, 0.6], contextual_share=[0.5, 0.7]),
        "target": _cell([0, 1], score=[0.0, 0.0]),
    }}}
    table["settings"]["complete"]["oracle"] = _cell([0, 1], score=[0.9, 0.9])
    rows = module.ablation_rows(table, "complete", ("asru", "asru_no_refusal_text"))
    assert [r[0] for r in rows] == ["target", "oracle", "asru"]
    assert abs(rows[2][2] - 0.85) < 1e-9 and abs(rows[2][-1] - 0.2) < 1e-9  # score, worst prompt attack
    columns = dict(zip([key for key, _ in module.ABLATION_COLUMNS], rows[2][2:-1]))
    assert abs(columns["privleak"] - 0.4) < 1e-9 and abs(columns["contextual_share"] - 0.6) < 1e-9  # what the score does not read
    assert columns["forget_leakage"] is None and rows[0][2:-1] == [0.0] + [None] * (len(module.ABLATION_COLUMNS) - 1)


def test_unknown_world_is_a_one_line_error(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "benchmarks" / "asru_bars.py"
    done = subprocess.run([sys.executable, str(script), "--worlds", "moon", "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "--worlds: unknown world 'moon'" in done.stderr


def test_the_reported_world_reads_the_tradeoffs_oracle_rows_on_the_same_build_only():
    """The reported world runs no oracle of its own (15 fine-tunes on a fresh machine): its goals against the oracle read
    the trade-off's oracle rows, which ran on the same world, target and build; on another build they stay unjudged."""
    module = _module()
    asru = _cell([0], attack__relearn=[0.3], answer_rank1=[0.2], probe_recovery=[0.3])
    oracle = _cell([0], attack__relearn=[0.28], answer_rank1=[0.15], probe_recovery=[0.25])
    table = {"target_model": "t", "target_builds": {"b1": 2}, "settings": {"complete": {"asru": asru}}}
    tradeoff = {"target_model": "t", "target_builds": {"b1": 40}, "settings": {"complete": {"oracle": oracle, "npo": _cell([0])}}}
    merged = module.from_tradeoff(table, tradeoff)
    assert merged["settings"]["complete"] == {"asru": asru, "oracle": oracle} and "oracle" not in table["settings"]["complete"]
    judged = {g["goal"]: g for g in module.goals(merged, "complete")}
    assert judged["relearning leakage"]["pass"] is True and judged["relearning leakage"]["note"] == "oracle: 0.280"
    for other in ({**tradeoff, "target_builds": {"b2": 40}}, {**tradeoff, "target_model": "u"}, None):
        assert module.from_tradeoff(table, other) is table  # another build or target (or no trade-off yet): nothing borrowed


def test_ablation_rows_run_apart_on_fewer_seeds_and_are_tested_on_the_seeds_both_ran(tmp_path, monkeypatch):
    """The reported world's ablations run in a folder of their own on the ablation seeds: the record takes their cells
    beside ASRU's five seeds, and the bootstrap pairs each with ASRU on their shared seeds, reading each row's own folder."""
    module = _module()
    world = module.World("reported", 40, 0, ("asru",), "reported", False, ("asru_no_erase",))
    runs = tmp_path / "reported"
    main = {"settings": {"complete": {"asru": _cell([0, 1, 2], score=[0.8, 0.9, 0.7]), "target": _cell([0, 1, 2], score=[0.0, 0.0, 0.0])}}}
    ablations = {"settings": {"complete": {"asru_no_erase": _cell([0, 1], score=[0.5, 0.6]), "target": _cell([0, 1], score=[0.1, 0.1])}}}
    runs.mkdir()
    (runs / "tradeoff.json").write_text(json.dumps(main))
    module.ablation_folder(runs).mkdir()
    (module.ablation_folder(runs) / "tradeoff.json").write_text(json.dumps(ablations))
    assert module.ablation_folder(runs) == tmp_path / "reported_ablations"
    calls = []

    def fake_bootstrap(asru_items, other_items, target_retain, resamples):
        calls.append((asru_items, other_items, sorted(target_retain)))
        return {"difference": 0.25, "ci95": [0.1, 0.4], "p_value": 0.01}

    for folder, row, seeds in ((runs, "asru", (0, 1, 2)), (module.ablation_folder(runs), "asru_no_erase", (0, 1))):
        for seed in seeds:  # each run's per-item outcomes, as asru.bench.keep_items writes them
            (folder / "items" / "complete" / row).mkdir(parents=True, exist_ok=True)
            (folder / "items" / "complete" / row / f"seed{seed}.json").write_text("{}")
    monkeypatch.setattr("asru.eval.score.read_run_items", lambda path: path)
    monkeypatch.setattr("asru.eval.score.paired_bootstrap", fake_bootstrap)
    record = module.world_record(world, runs)
    rows = {r["row"]: r for r in record["ablations"]["complete"]}
    assert rows["asru"]["seeds"] == 3 and rows["asru_no_erase"]["seeds"] == 2 and abs(rows["asru_no_erase"]["score"] - 0.55) < 1e-9
    assert rows["target"]["seeds"] == 3  # the target of every seed, not the ablation folder's
    # ASRU again on the ablation seeds, right under its own row: what the ablations' means compare with
    assert [r["row"] for r in record["ablations"]["complete"]][:3] == ["target", "asru", "asru@ablation seeds"]
    assert rows["asru@ablation seeds"]["seeds"] == 2 and abs(rows["asru@ablation seeds"]["score"] - 0.85) < 1e-9
    (asru_items, other_items, seeds), = calls
    assert seeds == [0, 1]
    assert asru_items == {s: runs / "items" / "complete" / "asru" / f"seed{s}.json" for s in (0, 1)}
    assert other_items == {s: tmp_path / "reported_ablations" / "items" / "complete" / "asru_no_erase" / f"seed{s}.json" for s in (0, 1)}
    (runs / "items" / "complete" / "asru" / "seed1.json").unlink()  # a seed without its items (a run lost before they were kept): left out
    module.world_record(world, runs)
    assert sorted(calls[-1][2]) == [0]
    assert record["tests"] == [{"setting": "complete", "row": "asru_no_erase", "difference": 0.25, "ci95": [0.1, 0.4], "p_value": 0.01}]


def test_ablation_seeds_outside_the_seeds_are_a_one_line_error(tmp_path):
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "benchmarks" / "asru_bars.py"
    done = subprocess.run([sys.executable, str(script), "--seeds", "0,1", "--ablation-seeds", "1,3", "--out", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "--ablation-seeds: seed 3 is not in --seeds" in done.stderr


def _asru_record(**fields) -> dict:
    from asru.bench import unlearn_record
    from asru.train.unlearn import UnlearnConfig

    return unlearn_record({"target_build": "b1"}, "asru", UnlearnConfig.model_validate({"method": "asru", "setting": "complete", "seed": 0, **fields}))


def test_a_tradeoff_run_stands_for_the_defaults_only_when_it_trained_them():
    """The trade-off runs ASRU at its tuned point: the same run as the defaults when that point sets each field to its
    default value (given or not), another as soon as one field differs."""
    from asru.methods.base import get_method

    module = _module()
    params = get_method("asru").Params()
    assert module.defaults_difference(_asru_record()) is None
    at_defaults = _asru_record(learning_rate=get_method("asru").default_learning_rate, method_args={"scale": params.scale, "erase_weight": params.erase_weight})
    assert module.defaults_difference(at_defaults) is None
    assert "method_params.scale was 1.5" in module.defaults_difference(_asru_record(method_args={"scale": 1.5}))
    assert module.defaults_difference(_asru_record(learning_rate=1e-5)).startswith("unlearn_config.learning_rate was 1e-05")
    assert module.defaults_difference(_asru_record(batch_size=4)).startswith("unlearn_config.batch_size was 4")
    assert "train_photos was false" in module.defaults_difference(_asru_record(train_photos=False))
    # a run recorded before an option existed trained its default: not a difference; the option set otherwise still is
    older = _asru_record()
    del older["method_params"]["answer_share_rest"], older["method_params"]["rl"]["clip_high"]
    assert module.defaults_difference(older) is None
    assert "method_params.answer_share_rest was \"flat\"" in module.defaults_difference(_asru_record(method_args={"answer_share_rest": "flat"}))


def test_the_reported_world_reads_the_tradeoffs_asru_row_only_where_every_run_trained_the_defaults(tmp_path):
    module = _module()
    finished = {"seeds": [0, 1], "records": {"0": _asru_record(), "1": _asru_record()}}
    tradeoff = {"settings": {s: {"asru": finished} for s in module.SETTINGS}}
    assert module.tradeoff_asru_differences(tradeoff, [0, 1]) == []
    assert module.tradeoff_asru_differences(tradeoff, [0, 2])[0] == "complete seed 2: not finished in the trade-off"
    other = {"seeds": [0, 1], "records": {"0": _asru_record(), "1": _asru_record(method_args={"erase_weight": 0.0})}}
    reasons = module.tradeoff_asru_differences({"settings": {**tradeoff["settings"], "selective": {"asru": other}}}, [0, 1])
    assert reasons == ["selective seed 1: method_params.erase_weight was 0.0, now 2.0"]
    assert module.tradeoff_asru_differences(None, [0])  # no trade-off: a reason, not a crash

    # the record: ASRU, the target and the oracle from the trade-off, the ablations from their folder; a stale table in
    # the world's own folder (another build) is not read
    world = module.World("reported", 40, 0, ("asru",), "reported", True, ("asru_no_erase",))
    runs = tmp_path / "asru_runs" / "reported"
    runs.mkdir(parents=True)
    (runs / "tradeoff.json").write_text(json.dumps({"target_model": "t", "target_builds": {"old": 1}, "settings": {"complete": {"asru": _cell([0], score=[0.1])}}}))
    module.ablation_folder(runs).mkdir()
    ablations = {"target_model": "t", "target_builds": {"b1": 2}, "settings": {"complete": {"asru_no_erase": _cell([0], score=[0.5]), "target": _cell([0], score=[0.0])}}}
    (module.ablation_folder(runs) / "tradeoff.json").write_text(json.dumps(ablations))
    full = {"target_model": "t", "target_builds": {"b1": 40}, "settings": {"complete": {
        "asru": _cell([0, 1], score=[0.8, 0.9]), "target": _cell([0, 1], score=[0.0, 0.0]), "oracle": _cell([0, 1], score=[0.95, 0.95]), "npo": _cell([0, 1], score=[0.7, 0.7])}}}
    record = module.world_record(world, runs, full, tradeoff_out=tmp_path)
    rows = {r["row"]: r for r in record["ablations"]["complete"]}
    assert set(rows) == {"target", "oracle", "asru", "asru@ablation seeds", "asru_no_erase"}
    assert rows["asru@ablation seeds"]["seeds"] == 2 and abs(rows["asru@ablation seeds"]["score"] - 0.85) < 1e-9  # the default ablation seeds 0, 1
    assert abs(rows["asru"]["score"] - 0.85) < 1e-9 and rows["asru"]["seeds"] == 2 and rows["target"]["seeds"] == 2
    assert record["asru_row"] == "the trade-off's"
    own = module.world_record(world, runs, full)  # without: the world's own table, on another build: neither ablations nor oracle mixed in
    assert {r["row"] for r in own["ablations"]["complete"]} == {"asru"} and own["asru_row"] == "its own"
    # before any ablation ran: the trade-off's rows all the same
    (module.ablation_folder(runs) / "tradeoff.json").unlink()
    alone = module.world_record(world, runs, full, tradeoff_out=tmp_path)
    assert {r["row"] for r in alone["ablations"]["complete"]} == {"target", "oracle", "asru"}
    # ablations on another build than the trade-off's are not mixed with its rows
    (module.ablation_folder(runs) / "tradeoff.json").write_text(json.dumps({**ablations, "target_builds": {"b2": 2}}))
    mixed = module.world_record(world, runs, full, tradeoff_out=tmp_path)
    assert {r["row"] for r in mixed["ablations"]["complete"]} == {"target", "oracle", "asru"}


def test_the_run_time_goal_reads_asru_timed_alone_where_it_ran_on_the_same_target(tmp_path):
    module = _module()
    asru = _cell([0, 1], score=[0.8, 0.9], wall_seconds=[400, 420])
    solo = _cell([0], score=[0.82], wall_seconds=[250])
    measured = {g["goal"]: g for g in module.goals({"settings": {"complete": {"asru": asru}}}, "complete", solo=solo)}
    alone = measured["one run alone, train + eval (s; slowest timed)"]
    assert alone["value"] == 250 and alone["pass"] is False and alone["note"] == "1 run, every core (seeds 0)"
    assert measured["one run, train + eval (s)"]["value"] == 410  # the side-by-side runs stay listed
    fast = {g["goal"]: g for g in module.goals({"settings": {"complete": {"asru": asru}}}, "complete", solo=_cell([0, 1], wall_seconds=[150, 175]))}
    assert fast["one run alone, train + eval (s; slowest timed)"]["value"] == 175 and fast["one run alone, train + eval (s; slowest timed)"]["pass"] is True
    assert "one run alone, train + eval (s; slowest timed)" not in {g["goal"] for g in module.goals({"settings": {"complete": {"asru": asru}}}, "complete")}

    # the record: the solo folder's table beside the world's, on the same target only
    world = module.World("reported", 40, 0, ("asru",), "reported", True)
    runs = tmp_path / "asru_runs" / "reported"
    runs.mkdir(parents=True)
    (runs / "tradeoff.json").write_text(json.dumps({"target_model": "t", "target_builds": {"b1": 2}, "settings": {"complete": {"asru": asru}}}))
    module.solo_folder(runs).mkdir()
    (module.solo_folder(runs) / "tradeoff.json").write_text(json.dumps({"target_model": "t", "target_builds": {"b1": 1}, "settings": {"complete": {"asru": solo}}}))
    record = module.world_record(world, runs)
    assert [r["row"] for r in record["solo"]["complete"]] == ["asru"] and record["solo"]["complete"][0]["wall_seconds"] == 250
    assert record["solo"]["selective"] == []
    assert "each run alone with every core" in module.markdown({"date": "d", "machine": {}, "versions": {}, "seeds": [0, 1], "quick": False, "worlds": [record]})
    (module.solo_folder(runs) / "tradeoff.json").write_text(json.dumps({"target_model": "t", "target_builds": {"other": 1}, "settings": {"complete": {"asru": solo}}}))
    other = module.world_record(world, runs)
    assert other["solo"]["complete"] == [] and "one run alone, train + eval (s; slowest timed)" not in {g["goal"] for g in other["goals"]["complete"]}
