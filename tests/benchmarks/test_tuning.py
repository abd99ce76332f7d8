"""`asru bench --tune`: grids on validation seeds, the declared rule, tuned.yaml applied to the test tables.

One quick tuning run (2 methods × 2 grid points, one setting, one validation seed, tiny world and
target) runs once for the module; the test tables then read its tuned.yaml.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from asru.bench import MethodEntry
from asru.bench import quick_recipe as QUICK_RECIPE
from asru.bench_tuning import MAX_GRID, choose, expand_grid
from asru.errors import ConfigError
from asru.eval.score import UTILITY_FLOOR
from conftest import assert_one_line_error, run_cli  # tests/conftest.py

METHODS_FILE = """\
quick: {steps: 3, batch_size: 4, checkpoint_every: 2}
methods:
  - method: grad_diff
    grid: {learning_rate: [1.0e-4, 1.0e-3]}
  - method: steering
    grid: {method_args.alpha: [1.0, 3.0]}
  - name: grad_diff_ablation
    method: grad_diff
    tuned_as: grad_diff
"""
COMMON = ("--quick", "--settings", "complete", "--subjects", "6", "--attacks", "paraphrase,one_word")


def knowing_recipe(architecture: str = "qwen3_vl"):
    """A quick target that knows its forget questions (the --quick one, one epoch, knows almost none: nothing to score)."""
    return QUICK_RECIPE(architecture).model_copy(update={"train_forms": ["qa"], "wrapper_share": 0, "context_share": 0, "image_repeats": 1, "epochs": 35, "learning_rate": 4e-3, "warmup_steps": 10})


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tuning")
    patch = pytest.MonkeyPatch()
    patch.setenv("ASRU_CACHE", str(folder / "cache"))
    patch.setattr("asru.bench.quick_recipe", knowing_recipe)
    methods = folder / "methods.yaml"
    methods.write_text(METHODS_FILE)
    code, out, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--out", folder / "out")
    assert code == 0, err + out
    yield folder, methods, folder / "out"
    patch.undo()


def test_expand_grid_makes_every_combination_nested():
    points = expand_grid({"learning_rate": [1e-4, 3e-4], "method_args.rl.steps": [5, 10]}, "where")
    assert points == [
        {"learning_rate": 1e-4, "method_args": {"rl": {"steps": 5}}}, {"learning_rate": 1e-4, "method_args": {"rl": {"steps": 10}}},
        {"learning_rate": 3e-4, "method_args": {"rl": {"steps": 5}}}, {"learning_rate": 3e-4, "method_args": {"rl": {"steps": 10}}},
    ]
    with pytest.raises(ConfigError, match=f"at most {MAX_GRID}"):
        expand_grid({"a": [1, 2, 3], "b": [1, 2, 3]}, "where")
    with pytest.raises(ConfigError, match="non-empty list"):
        expand_grid({"a": []}, "where")


def _cell(score, utility):
    return {"seeds": [100], "metrics": {"score": {"mean": score}, "score_utility": {"mean": utility}}}


def test_the_rule_picks_the_best_score_that_keeps_utility_and_falls_back_to_utility():
    entry = MethodEntry("m", "grad_diff", grid=[{"learning_rate": 1}, {"learning_rate": 2}, {"learning_rate": 3}])
    # g1 scores highest but loses utility; g2 is the best eligible one
    table = {"complete": {"m@g0": _cell(0.5, 0.95), "m@g1": _cell(0.9, UTILITY_FLOOR - 0.01), "m@g2": _cell(0.6, UTILITY_FLOOR)}}
    pick = choose(table, [entry])["m"]["complete"]
    assert pick["grid_point"] == 2 and pick["eligible"] and pick["fields"] == {"learning_rate": 3} and pick["validation_score"] == 0.6
    # none keeps 90 %: the point with the highest utility, marked
    table = {"complete": {"m@g0": _cell(0.5, 0.5), "m@g1": _cell(0.9, 0.2), "m@g2": _cell(0.1, 0.7)}}
    pick = choose(table, [entry])["m"]["complete"]
    assert pick["grid_point"] == 2 and not pick["eligible"]
    # a grid point not finished (or finished on fewer validation seeds than asked): no choice yet
    assert choose({"complete": {"m@g0": _cell(0.5, 0.95), "m@g2": _cell(0.6, 0.95)}}, [entry]) == {}
    assert choose(table, [entry], seeds=2) == {}


def test_tuning_runs_every_point_on_the_validation_seeds_and_writes_the_choice(tuned):
    folder, _, out = tuned
    summary = json.loads((out / "validation.json").read_text())
    assert summary["validation_seeds"] == [100] and summary["runs_planned"] == summary["runs_finished"] == 2 + 2 * 2  # target, oracle, 2 × 2 points
    for name in ("grad_diff", "steering"):
        for index in (0, 1):
            assert (out / "runs" / "validation" / "complete" / name / f"g{index}" / "seed100" / "results.json").is_file()
    data = yaml.safe_load((out / "tuned.yaml").read_text())
    assert data["validation_seeds"] == [100] and "utility part" in data["rule"]
    rows = summary["settings"]["complete"]
    for name, grid in (("grad_diff", [{"learning_rate": 1e-4}, {"learning_rate": 1e-3}]), ("steering", [{"method_args": {"alpha": 1.0}}, {"method_args": {"alpha": 3.0}}])):
        scored = [(i, rows[f"{name}@g{i}"]["metrics"].get("score", {}).get("mean"), rows[f"{name}@g{i}"]["metrics"].get("score_utility", {}).get("mean")) for i in (0, 1)]
        assert all(s is not None for _, s, _ in scored), scored  # the knowing target: every point is scored
        pick = data["methods"][name]["complete"]
        assert pick["fields"] == grid[pick["grid_point"]]
        # the rule, recomputed from the validation numbers
        eligible = [c for c in scored if c[2] >= UTILITY_FLOOR]
        best = max(eligible, key=lambda c: (c[1], c[2])) if eligible else max(scored, key=lambda c: (c[2], c[1]))
        assert pick["grid_point"] == best[0] and pick["eligible"] == bool(eligible)
    md = (out / "validation.md").read_text()
    assert "# Tuning on validation seeds" in md and "| grad_diff | g1 | learning_rate=0.001 |" in md


def test_the_tables_apply_tuned_yaml_on_test_seeds_only(tuned):
    folder, methods, out = tuned
    data = yaml.safe_load((out / "tuned.yaml").read_text())
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--out", out, "--no-oracle-row")
    assert code == 0, err + stdout
    summary = json.loads((out / "tradeoff.json").read_text())
    assert summary["tuning"]["file"] == str(out / "tuned.yaml") and summary["tuning"]["test_seeds"] == [0]
    for name in ("grad_diff", "steering"):
        record = json.loads((out / "runs" / "complete" / name / "seed0" / "bench_run.json").read_text())
        choice = data["methods"][name]["complete"]
        assert record["tuned"] == choice["fields"] and name in summary["tuning"]["tuned"]["complete"]
        run_config = yaml.safe_load((out / "runs" / "complete" / name / "seed0" / "config.yaml").read_text())
        for key, value in choice["fields"].items():  # the run was trained with the chosen point
            assert run_config[key] == value if not isinstance(value, dict) else value.items() <= run_config[key].items(), (key, run_config)
    # an ablation has no grid (not run in the tuning) and trains with its source's choice
    assert not (out / "runs" / "validation" / "complete" / "grad_diff_ablation").exists()
    record = json.loads((out / "runs" / "complete" / "grad_diff_ablation" / "seed0" / "bench_run.json").read_text())
    assert record["tuned"] == data["methods"]["grad_diff"]["complete"]["fields"] and "grad_diff_ablation" in summary["tuning"]["tuned"]["complete"]
    assert summary["tuning"]["tuned_as"] == {"grad_diff_ablation": "grad_diff"}
    assert "**Tuned** on validation seeds 100" in (out / "tradeoff.md").read_text()
    assert "`grad_diff_ablation` runs at `grad_diff`'s choice" in (out / "tradeoff.md").read_text()
    # a validation seed is never reported
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--out", out, "--seeds", "0,100")
    assert_one_line_error(code, err, "seed 100", "validation")
    # without the file's choices the record differs: the finished runs are not silently reused
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--out", out, "--no-oracle-row", "--no-tuned")
    assert_one_line_error(code, err, "started with another config")


def test_unequal_grids_and_bad_grids_are_one_line_errors(tmp_path):
    methods = tmp_path / "methods.yaml"
    methods.write_text("methods:\n  - method: grad_diff\n    grid: {learning_rate: [1.0e-4, 3.0e-4]}\n  - method: npo\n    grid: {steps: [10, 20, 30]}\n")
    code, _, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "same number of grid points", "grad_diff 2", "npo 3")
    methods.write_text("methods:\n  - method: npo\n    grid: {method_args.betta: [0.1, 0.2]}\n")
    code, _, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "methods[0] (npo) grid point 0", "betta")
    methods.write_text("methods:\n  - method: npo\n    grid: {steps: [10, 20]}\n  - name: ablation\n    method: npo\n    tuned_as: simnpo\n")
    code, _, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "methods[1] (ablation)", "tuned_as", "'simnpo' is not an entry with a grid")
    methods.write_text("methods:\n  - method: npo\n    grid: {steps: [10, 20]}\n  - name: ablation\n    method: npo\n    tuned_as: npo\n    grid: {steps: [10, 20]}\n")
    code, _, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "methods[1] (ablation)", "tuned_as", "no 'grid' of its own")
    code, _, err = run_cli("bench", *COMMON, "--tune", "--sequential", "2", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "--tune and --sequential")


def test_a_tuned_file_from_another_target_is_refused(tuned, tmp_path):
    folder, methods, out = tuned
    other = tmp_path / "tuned.yaml"
    data = yaml.safe_load((out / "tuned.yaml").read_text())
    other.write_text(yaml.safe_dump({**data, "target": "someone-else"}))
    code, _, err = run_cli("bench", *COMMON, "--methods-file", methods, "--out", tmp_path / "out", "--tuned-file", other, "--report-only")
    assert_one_line_error(code, err, "tuned on another world or target model")


def test_the_shipped_grids_give_every_method_the_same_budget():
    from asru.bench import load_methods
    from asru.bench_tuning import check_equal_budget

    entries = load_methods(None)
    tuned = check_equal_budget(entries)
    assert {e.name for e in entries} - {e.name for e in tuned} == {"grad_diff_lr3e-4", "npo_lr3e-4", "asru_stage1", "asru_stage2"}  # the hand-picked rows, ASRU's ablations
    assert {e.name: e.tuned_as for e in entries if e.tuned_as} == {"asru_stage1": "asru", "asru_stage2": "asru"}
    assert {len(e.grid) for e in tuned} == {MAX_GRID}


def test_an_empty_method_list_runs_only_the_reference_rows(tuned, tmp_path):
    """`--methods ''`: the target (and oracle) rows alone, which no tuning changes: built ahead of the tuning."""
    folder, methods, _ = tuned
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--methods", "", "--out", tmp_path / "refs", "--no-oracle-row")
    assert code == 0, err + stdout
    summary = json.loads((tmp_path / "refs" / "tradeoff.json").read_text())
    assert summary["rows"] == ["target"] and summary["runs_planned"] == summary["runs_finished"] == 1
    assert [p.name for p in (tmp_path / "refs" / "runs" / "complete").iterdir()] == ["target"]
    assert "**Restricted**" in (tmp_path / "refs" / "tradeoff.md").read_text()


def test_tuning_one_method_reports_and_keeps_every_grid(tuned, tmp_path):
    """--methods runs a few grids at a time; the report and tuned.yaml still cover every method, and an unfinished grid is not chosen."""
    import shutil

    folder, methods, out = tuned
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--methods", "grad_diff", "--out", copy, "--tuned-file", copy / "tuned.yaml")
    assert code == 0, err + stdout
    data = yaml.safe_load((copy / "tuned.yaml").read_text())
    assert set(data["methods"]) == {"grad_diff", "steering"}  # steering's grid finished earlier: still chosen
    # a setting not run this time keeps its choice (same world, target and validation seeds)
    data["methods"]["grad_diff"]["selective"] = data["methods"]["grad_diff"]["complete"]
    (copy / "tuned.yaml").write_text(yaml.safe_dump(data))
    assert "| steering | g1 |" in (copy / "validation.md").read_text()
    # one of steering's points never finished (no folder, no record): steering is not chosen (nor run: --methods grad_diff), and the report says so
    shutil.rmtree(copy / "runs" / "validation" / "complete" / "steering" / "g1")
    summary = json.loads((copy / "validation.json").read_text())
    del summary["settings"]["complete"]["steering@g1"]
    (copy / "validation.json").write_text(json.dumps(summary))
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--methods", "grad_diff", "--out", copy, "--tuned-file", copy / "tuned.yaml")
    assert code == 0, err + stdout
    kept = yaml.safe_load((copy / "tuned.yaml").read_text())["methods"]
    assert set(kept) == {"grad_diff"} and set(kept["grad_diff"]) == {"complete", "selective"}
    assert "Not chosen yet (a grid point still unfinished on a validation seed): steering." in (copy / "validation.md").read_text()


def test_a_fresh_machine_runs_nothing_finished_and_builds_no_finished_oracle(tuned, tmp_path):
    """The committed validation.json and oracle_measures only (no run folders, no oracle model, no cached measures):
    no finished grid point runs again and no oracle is fine-tuned; a grid point whose config changed runs against the recorded oracle."""
    import shutil

    from asru.cache import cache_root

    folder, methods, out = tuned
    fresh = tmp_path / "out"
    fresh.mkdir()
    # and recorded on another machine's build of the target (the same recipe): the tuning still reads them
    recorded = json.loads((out / "validation.json").read_text())
    for cell in recorded["settings"]["complete"].values():
        cell["records"]["100"]["target_build"] = "elsewhere"
    (fresh / "validation.json").write_text(json.dumps(recorded))
    shutil.copytree(out / "oracle_measures", fresh / "oracle_measures")
    assert list((fresh / "oracle_measures").glob("*.json"))
    before = json.loads((out / "validation.json").read_text())
    oracle_dir = Path(json.loads((out / "runs" / "validation" / "complete" / "oracle" / "seed100" / "results.json").read_text())["model"])
    moved = {oracle_dir: tmp_path / "oracle model", cache_root() / "oracle_measures": tmp_path / "cached measures"}
    for source, aside in moved.items():
        source.rename(aside)
    try:
        code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--tune-any-build", "--out", fresh, "--tuned-file", fresh / "tuned.yaml")
        assert code == 0, err + stdout
        assert "6 finished (skipped) (6 of them recorded in validation.json" in " ".join(stdout.split()), stdout
        assert "fine-tuning" not in stdout and not oracle_dir.exists()
        assert not list(fresh.rglob("results.json"))  # nothing ran
        after = json.loads((fresh / "validation.json").read_text())
        assert after["runs_finished"] == 6 and after["chosen"] == before["chosen"] and after["target_builds"] == {"elsewhere": 6}
        for row in ("grad_diff@g0", "steering@g1", "target", "oracle"):
            assert after["settings"]["complete"][row]["per_seed"] == before["settings"]["complete"][row]["per_seed"], row
            assert after["settings"]["complete"][row]["records"]["100"]["row"] == row
            assert after["settings"]["complete"][row]["records"]["100"]["target_build"] == "elsewhere"  # its own, kept
        # a grid point whose config changed (here steering's second alpha) is not the recorded run: it runs again, against
        # the oracle's recorded measures (its model still not built). Its grid would then mix two builds of the target, so
        # steering's other point runs again on this build too; grad_diff's grid, wholly on the other build, stays known
        changed = tmp_path / "methods.yaml"
        changed.write_text(METHODS_FILE.replace("alpha: [1.0, 3.0]", "alpha: [1.0, 5.0]"))
        code, stdout, err = run_cli("bench", *COMMON, "--methods-file", changed, "--tune", "--tune-any-build", "--out", fresh, "--tuned-file", fresh / "tuned.yaml")
        assert code == 0, err + stdout
        assert "(4 of them recorded in validation.json" in " ".join(stdout.split()) and "2 new" in stdout, stdout
        ran = sorted(p.relative_to(fresh / "runs" / "validation").parts[:3] for p in fresh.rglob("results.json"))
        assert ran == [("complete", "steering", "g0"), ("complete", "steering", "g1")]
        results = json.loads((fresh / "runs" / "validation" / "complete" / "steering" / "g1" / "seed100" / "results.json").read_text())
        assert results["oracle"] == {"model": str(oracle_dir), "reason": None} and results["forget_quality"]["ks_statistic"] is not None
        assert not oracle_dir.exists()
        summary = json.loads((fresh / "validation.json").read_text())
        assert summary["target_builds"]["elsewhere"] == 4 and sum(summary["target_builds"].values()) == 6
        assert {summary["settings"]["complete"][f"steering@g{i}"]["records"]["100"]["target_build"] for i in (0, 1)} != {"elsewhere"}
        assert "more than one build of the target" in (fresh / "validation.md").read_text()
    finally:
        for source, aside in moved.items():
            if source.exists():
                shutil.rmtree(source)
            aside.rename(source)
    # by default (--tune-this-build) every grid runs on the build the tables use: grad_diff's grid and the reference
    # rows, recorded on the other build, run again here; steering's points, run here above, stay done
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", changed, "--tune", "--out", fresh, "--tuned-file", fresh / "tuned.yaml")
    assert code == 0, err + stdout
    assert "2 finished (skipped)" in stdout and "4 new" in stdout, stdout
    summary = json.loads((fresh / "validation.json").read_text())
    assert "elsewhere" not in summary["target_builds"] and summary["runs_finished"] == 6


def test_a_tuning_stopped_midway_keeps_its_finished_runs_in_validation_json(tuned, tmp_path, monkeypatch):
    """The summary is rewritten between runs (``SNAPSHOT_SECONDS``): a machine lost mid-tuning, run folders and all,
    loses none of the runs finished before, and the next start reuses them from validation.json."""
    import shutil

    import asru.bench

    folder, methods, out = tuned
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    for name in ("validation.json", "validation.md", "tuned.yaml"):
        (copy / name).unlink()
    shutil.rmtree(copy / "runs" / "validation" / "complete" / "grad_diff")  # its two points run again, then the "machine" stops
    real_execute, ran = asru.bench.execute, []

    def execute_then_stop(run, *args, **kwargs):
        if ran:
            raise KeyboardInterrupt  # the second run never finishes
        real_execute(run, *args, **kwargs)
        ran.append(run.row)

    monkeypatch.setattr("asru.bench.execute", execute_then_stop)
    monkeypatch.setattr("asru.bench.SNAPSHOT_SECONDS", 0.0)
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--out", copy, "--tuned-file", copy / "tuned.yaml")
    assert code == 130 and ran == ["grad_diff@g0"], err + stdout
    snapshot = json.loads((copy / "validation.json").read_text())
    assert snapshot["runs_finished"] == 5 and not snapshot["settings"]["complete"]["grad_diff@g1"]["seeds"]
    assert snapshot["settings"]["complete"]["grad_diff@g0"]["records"]["100"]["row"] == "grad_diff@g0"
    assert "Not chosen yet (a grid point still unfinished on a validation seed): grad_diff." in (copy / "validation.md").read_text()
    # the machine is lost: the finished point's folder goes, its record stays; only the unfinished point runs
    shutil.rmtree(copy / "runs" / "validation" / "complete" / "grad_diff" / "g0")
    monkeypatch.setattr("asru.bench.execute", real_execute)
    code, stdout, err = run_cli("bench", *COMMON, "--methods-file", methods, "--tune", "--out", copy, "--tuned-file", copy / "tuned.yaml")
    assert code == 0, err + stdout
    assert "1 new" in stdout and not (copy / "runs" / "validation" / "complete" / "grad_diff" / "g0").exists(), stdout
    assert json.loads((copy / "validation.json").read_text())["runs_finished"] == 6
