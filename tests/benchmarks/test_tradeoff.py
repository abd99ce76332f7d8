"""`asru bench` / benchmarks/tradeoff.py: quick mode end to end, numbers from the runs, resumability, bad input.

One quick benchmark (2 methods × 2 settings, tiny world and target model, one seed) runs once for
the module; the other tests read it, re-invoke it (everything skipped) or feed it bad input.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import assert_one_line_error, run_cli  # tests/conftest.py

from asru.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("grad_diff", "steering")
SETTINGS = ("complete", "selective")
# 6 people, every attack: about 20 s of runs on 2 idle cores (a minute when the cores are shared)
QUICK = ("--quick", "--methods", ",".join(METHODS), "--settings", ",".join(SETTINGS), "--subjects", "6")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private ASRU_CACHE for the module (the quick world and tiny target are built once in it)."""
    folder = tmp_path_factory.mktemp("asru_cache")
    patch = pytest.MonkeyPatch()
    patch.setenv("ASRU_CACHE", str(folder))
    yield folder
    patch.undo()


@pytest.fixture(scope="module")
def bench(cache, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    started = time.perf_counter()
    code, stdout, err = run_cli("bench", *QUICK, "--out", out)
    assert code == 0, err + stdout
    return out, stdout, time.perf_counter() - started


def test_quick_bench_writes_tables_and_plots_from_its_runs(bench):
    out, stdout, _ = bench
    summary = json.loads((out / "tradeoff.json").read_text())
    assert summary["runs_planned"] == summary["runs_finished"] == len(SETTINGS) * (len(METHODS) + 2)  # + the target and oracle rows
    assert summary["config"]["quick"] is True and summary["seeds"] == [0]
    assert {"platform", "cpu_count"} <= set(summary["machine"]) and summary["versions"]["torch"] == torch.__version__
    assert summary["date"][:4].isdigit() and summary["partial"] == [] and summary["not_run"] == []
    for setting in SETTINGS:
        assert sorted(summary["settings"][setting]) == sorted(summary["rows"]) and summary["rows"] == ["target", "oracle", *METHODS]
        oracle = json.loads((out / "runs" / setting / "oracle" / "seed0" / "results.json").read_text())
        assert oracle["method"] == "oracle" and oracle["oracle"]["model"] == oracle["model"]  # fine-tuned before the runs, evaluated as itself
        for row in ("target", "oracle", *METHODS):
            cell = summary["settings"][setting][row]
            run = out / "runs" / setting / row / "seed0"
            assert cell["runs"] == [str(run)] and cell["seeds"] == [0]
            results = json.loads((run / "results.json").read_text())
            metrics = cell["metrics"]
            # the numbers are the run's own, over the questions the target answered correctly (results.json keeps the raw
            # ones too; the quick target may know none, and then there is no conditioned rate to show)
            forget = results["metrics"]["forget"]["all"]
            assert {"leakage", "refusal_rate", "n", "n_known"} <= set(forget) and metrics["forget_known"]["values"] == [forget["n_known"]]
            assert metrics["forget_leakage"]["values"] == [v for v in [forget.get("leakage_known")] if v is not None]
            assert metrics["forget_refusal"]["mean"] == forget.get("refusal_rate_known")
            assert metrics["retain_other"]["mean"] == results["metrics"]["retain_other"]["all"].get("exact_match_known")
            assert metrics["naturalness"]["mean"] == results["metrics"]["forget"]["judge"]["naturalness"]
            assert metrics["attack.relearn"]["mean"] == results["attacks"]["relearn"].get("leakage_known")
            if row == "target":  # over what it knew, the target leaks all of it: 1 by construction
                assert forget.get("leakage_known", 1.0) == 1.0 and metrics["attack.one_word"]["values"] in ([], [1.0])
            # gone or hidden: every row against its setting's oracle; the oracle as never-seen on its own forget set
            assert results["oracle"] == oracle["oracle"]
            assert metrics["forget_quality"]["mean"] == results["forget_quality"]["forget_quality"] and metrics["privleak"]["mean"] == results["membership"]["privleak"]
            assert metrics["answer_rank1"]["mean"] == results["answer_ranking"]["rank1"] and metrics["probe_recovery"]["mean"] == results["linear_probe"]["max_recovery"]
            if row == "oracle":
                assert metrics["forget_quality"]["mean"] == 1.0 and metrics["privleak"]["mean"] == 0.0
            attempts = json.loads((run / "bench_time.json").read_text())["attempts"]
            assert len(attempts) == 1 and metrics["wall_seconds"]["mean"] == pytest.approx(attempts[0], abs=0.01)
            assert attempts[0] >= results["timing"]["eval_seconds"]
            assert metrics["forget_leakage"]["std"] is None  # one seed: no spread claimed
            assert json.loads((run / "bench_run.json").read_text())["row"] == row
        assert "attack.steering_removed" in summary["settings"][setting]["steering"]["metrics"]
        # drawn when some row has a conditioned attack leakage (the quick target may have known none of the attacked questions)
        drawn = any(s["n"] for cell in summary["settings"][setting].values() for key, s in cell["metrics"].items() if key.startswith("attack."))
        assert (out / f"tradeoff_attacks_{setting}.png").is_file() == drawn and (not drawn or (out / f"tradeoff_attacks_{setting}.png").stat().st_size > 1000)
    same = {s: json.loads((out / "runs" / s / "grad_diff" / "seed0" / "results.json").read_text())["metrics"].get("retain_same_subject") for s in SETTINGS}
    assert same["complete"] is None and summary["settings"]["complete"]["grad_diff"]["metrics"]["retain_same_subject"]["n"] == 0  # no such split
    known = same["selective"]["all"].get("exact_match_known")  # none when the quick target knew none of them
    assert summary["settings"]["selective"]["grad_diff"]["metrics"]["retain_same_subject"]["n"] == (known is not None)
    for png in ("tradeoff_forget_vs_retain.png", "tradeoff_quality.png"):
        assert (out / png).stat().st_size > 1000
    md = (out / "tradeoff.md").read_text()
    assert "## complete" in md and "## selective" in md and "quick mode" in md
    assert "| grad_diff | 1/1 |" in md and "leak: relearn" in md and "leak: steering_removed" in md
    assert "forget leakage (known)" in md and "Rates marked (known) are knowledge-conditioned" in md
    assert "![forget vs retain](tradeoff_forget_vs_retain.png)" in md
    assert "**Restricted**: only target, oracle, grad_diff, steering in complete, selective" in md
    assert "forget quality (KS p vs oracle)" in md and "The `oracle` row is the retrained oracle" in md
    score = summary["settings"]["complete"]["grad_diff"]["metrics"]["score"]["mean"]
    assert f"| grad_diff | 1/1 | {'–' if score is None else f'{score:.2f}'} |" in md  # every table leads with the score
    assert "unlearning score ↑" in md and "95 % confidence interval" in md
    assert md.index("## At a glance: the unlearning score") < md.index("## complete")  # the small table first
    assert "8 runs: 0 finished (skipped)" in stdout


def test_every_run_is_scored_and_the_per_item_score_agrees(bench):
    """The table's score (from results.json's rates) equals the one the bootstrap recomputes from answers.jsonl."""
    from asru.eval.score import RETAIN_SPLITS, items_score, load_run_items

    out, _, _ = bench
    summary = json.loads((out / "tradeoff.json").read_text())
    for setting in SETTINGS:
        rows = summary["settings"][setting]
        target = rows["target"]["per_seed"]["0"]
        for row in ("oracle", *METHODS):
            values = rows[row]["per_seed"]["0"]
            if values["score"] is None:  # the quick target knew none of the forget questions
                continue
            assert 0 <= values["score"] <= min(values["score_efficacy"], values["score_utility"]) + 1e-9
            by_items = items_score(load_run_items(out / "runs" / setting / row / "seed0"), {s: target.get(s) for s in RETAIN_SPLITS})
            assert by_items["score"] == pytest.approx(values["score"]), (setting, row)
        assert rows["target"]["per_seed"]["0"]["score_efficacy"] in (None, 0.0)  # it leaks all it knew


def test_the_paired_test_puts_a_method_against_the_best_other(bench, tmp_path):
    import dataclasses

    from asru.bench import BenchConfig, aggregate, keep_items, load_methods, plan_runs, select_methods, significance, significance_line
    from asru.cache import cached_world
    from asru.pipeline import resolve_attacks
    from asru.world import load_world

    out, _, _ = bench
    config = BenchConfig(quick=True, methods=list(METHODS), settings=list(SETTINGS), subjects=6, out=str(out))
    entries = select_methods(load_methods(None, quick=True), list(METHODS), None)
    world = load_world(cached_world(0, 6, None, utility_questions=12, unknown_people=4))
    target = Path(json.loads((out / "tradeoff.json").read_text())["target_model"]["path"])
    runs = plan_runs(config, entries, world, target, resolve_attacks(["all"]))
    table = aggregate(config, runs)
    items = keep_items(runs, tmp_path / "items")
    assert sorted(items) == sorted((run.setting, run.row, run.seed) for run in runs if run.row in METHODS)  # the reference rows need none
    tests = significance(table, entries, items, resamples=200, proposed_row="steering")
    # the run folders gone (a lost machine): the committed items files give the same test
    gone = [dataclasses.replace(run, folder=tmp_path / "gone" / run.row) for run in runs]
    assert keep_items(gone, tmp_path / "items") == items
    assert significance(table, entries, keep_items(gone, tmp_path / "items"), resamples=200, proposed_row="steering") == tests
    assert keep_items(gone, tmp_path / "no items") == {}
    # the quick target may know none of the forget questions (then nothing is scored: tests/eval/test_oracle.py has a knowing target)
    scorable = [s for s in SETTINGS if all(table[s][r]["per_seed"][0]["score"] is not None for r in ("steering", "grad_diff"))]
    assert sorted(tests) == sorted(scorable)
    for setting, test in tests.items():
        assert test["baseline"] == "grad_diff" and test["seeds"] == [0] and 0 < test["p_value"] <= 1
        scores = {row: table[setting][row]["per_seed"][0]["score"] for row in ("steering", "grad_diff")}
        assert test["difference"] == pytest.approx(scores["steering"] - scores["grad_diff"])
        assert test["ci95"][0] <= test["difference"] + 1e-9 or test["ci95"][1] >= test["difference"] - 1e-9
        assert "steering" in significance_line(test) and ("significant" in significance_line(test))


def test_every_row_reads_the_same_cached_target_bits(bench, cache):
    """One target and one world: one knowledge file, and in each setting every row has the same bit for the same probe."""
    out, _, _ = bench
    (knowledge,) = (cache / "knowledge").glob("*.json")
    assert json.loads(knowledge.read_text())["known"]
    bits: dict[tuple, bool] = {}
    for answers in (out / "runs").rglob("answers.jsonl"):
        setting = answers.relative_to(out / "runs").parts[0]
        for line in answers.read_text().splitlines():
            record = json.loads(line)
            asked = (setting, record["split"], record["id"], record["question"], record["image"])
            assert isinstance(record["target_correct"], bool) and bits.setdefault(asked, record["target_correct"]) == record["target_correct"], asked
    assert len({asked[0] for asked in bits}) == len(SETTINGS)


def test_the_target_travels_with_the_tables_and_a_fresh_cache_gets_that_build_back(bench, cache, monkeypatch):
    """The bench keeps its target (weights and all) under OUT/target_models; a cache without it gets that very build back
    (the same fingerprint, no fine-tuning) instead of fine-tuning another: another machine rounds differently, and the
    tables use one build."""
    import shutil

    import asru.train.finetune
    from asru.bench import TARGET_MODELS, quick_recipe
    from asru.cache import cached_target, target_folder
    from asru.eval.knowledge import model_fingerprint
    from asru.world import load_world

    out, _, _ = bench
    (kept,) = (out / TARGET_MODELS).iterdir()
    built = cache / "targets" / kept.name
    assert model_fingerprint(kept) == model_fingerprint(built)
    (world_dir,) = (p for p in (cache / "worlds").iterdir() if p.is_dir() and target_folder(load_world(p).manifest["content_hash"], quick_recipe()) == built)
    monkeypatch.setattr(asru.train.finetune, "finetune", lambda *args, **kwargs: pytest.fail("fine-tuned instead of restoring"))
    moved = shutil.move(built, cache / "elsewhere")
    try:
        assert cached_target(world_dir, quick_recipe(), kept_in=out / TARGET_MODELS) == built
        assert model_fingerprint(built) == model_fingerprint(kept)
        assert not list((cache / "targets").glob("*.partial"))
    finally:
        shutil.rmtree(built, ignore_errors=True)
        shutil.move(moved, built)


def test_a_second_invocation_skips_finished_runs(bench):
    out, _, first_seconds = bench
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").rglob("results.json")}
    started = time.perf_counter()
    code, stdout, err = run_cli("bench", *QUICK, "--out", out)
    assert code == 0, err
    assert "8 runs: 8 finished (skipped), 0 to resume, 0 new" in stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # no run was redone
    assert time.perf_counter() - started < first_seconds


def test_runs_in_worker_processes_give_the_same_numbers(bench, tmp_path):
    """--workers 2: the unfinished runs go to two spawned processes; their results equal the one-process ones."""
    out, _, _ = bench
    copy = tmp_path / "bench"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    redo = [copy / "runs" / "complete" / "grad_diff" / "seed0", copy / "runs" / "selective" / "steering" / "seed0"]
    for run in redo:
        (run / "results.json").unlink()
    code, stdout, err = run_cli("bench", *QUICK, "--out", copy, "--workers", "2")
    assert code == 0, err + stdout
    assert "8 runs: 6 finished (skipped), 2 to resume, 0 new" in stdout and "2 runs in 2 processes side by side" in stdout
    for run in redo:
        again = json.loads((run / "results.json").read_text())
        first = json.loads((out / run.relative_to(copy) / "results.json").read_text())
        assert again["metrics"] == first["metrics"] and again["attacks"] == first["attacks"] and again["forget_quality"] == first["forget_quality"]
        assert len(json.loads((run / "bench_time.json").read_text())["attempts"]) == 2
    summary = json.loads((copy / "tradeoff.json").read_text())
    assert summary["runs_finished"] == 8 and summary["config"]["workers"] == 2


def test_unfinished_runs_resume_and_partial_cells_are_labelled(bench, tmp_path):
    from asru.bench import BenchConfig, load_methods, plan_runs, prepare_inputs, run_state, select_methods
    from asru.pipeline import resolve_attacks
    from asru.world import load_world

    out, _, _ = bench
    copy = tmp_path / "bench"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    run = copy / "runs" / "selective" / "grad_diff" / "seed0"
    (run / "results.json").unlink()  # as if killed before it finished: bench_run.json (and its checkpoint) stay
    config = BenchConfig(quick=True, methods=list(METHODS), settings=list(SETTINGS), subjects=6, out=str(copy))
    world_dir, target_dir, _ = prepare_inputs(config)
    entries = select_methods(load_methods(None, quick=True), list(METHODS), None)
    planned = {p.folder: p for p in plan_runs(config, entries, load_world(world_dir), target_dir, resolve_attacks(["all"]))}
    assert run_state(planned[run]) == "resume"
    done = copy / "runs" / "complete" / "grad_diff" / "seed0"
    assert run_state(planned[done]) == "done"
    # a run folder written before a config field existed is still done while the field stays at its default ...
    record = json.loads((done / "bench_run.json").read_text())
    for section, field in (("unlearn_config", "report_to"), ("method_params", next(iter(record["method_params"])))):
        older = {**record, section: {k: v for k, v in record[section].items() if k != field}}
        (done / "bench_run.json").write_text(json.dumps(older))
        assert run_state(planned[done]) == "done", section
    # ... and stale once the new run sets it to something else
    planned[done].record["unlearn_config"]["report_to"] = "tensorboard"
    with pytest.raises(ConfigError, match="report_to"):
        run_state(planned[done])
    planned[done].record["unlearn_config"]["report_to"] = "none"
    # a record from before method revisions is the first revision: done at 1, stale once the method's code moves on
    (done / "bench_run.json").write_text(json.dumps({k: v for k, v in record.items() if k != "method_revision"}))
    assert run_state(planned[done]) == "done"
    planned[done].record["method_revision"] = 2
    with pytest.raises(ConfigError, match="method_revision"):
        run_state(planned[done])
    planned[done].record["method_revision"] = 1
    (done / "bench_run.json").write_text(json.dumps(record))
    # two seeds asked, one finished: every finished cell is partial, and says so
    code, stdout, err = run_cli("bench", *QUICK, "--out", copy, "--seeds", "0,1", "--report-only")
    assert code == 0, err
    summary = json.loads((copy / "tradeoff.json").read_text())
    assert "selective/grad_diff" in summary["not_run"] and "complete/grad_diff" in summary["partial"]
    assert summary["settings"]["complete"]["grad_diff"]["metrics"]["forget_known"]["n"] == 1  # (the count: there even when the target knew none)
    md = (copy / "tradeoff.md").read_text()
    assert "| grad_diff | 1/2 partial |" in md and "(1/2)" in md and "| grad_diff | 0/2 not run |" in md
    assert "**Partial** (fewer than 2 seeds): " in md


def test_report_only_reports_a_run_started_with_another_config_and_says_so(bench, tmp_path):
    """After a default moves on, --report-only still writes the tables: the finished run is reported as it ran,
    with the record it was started with, and listed as such; running the benchmark is still the one-line error."""
    out, _, _ = bench
    copy = tmp_path / "bench"
    subprocess.run(["cp", "-r", str(out), str(copy)], check=True)
    (copy / "tradeoff.json").unlink()  # the folders, not an earlier summary, hold the runs
    run = copy / "runs" / "complete" / "grad_diff" / "seed0"
    record = json.loads((run / "bench_run.json").read_text())
    field = next(key for key, value in record["method_params"].items() if isinstance(value, float))
    older = {**record, "method_params": {**record["method_params"], field: record["method_params"][field] + 1.0}}
    (run / "bench_run.json").write_text(json.dumps(older))
    code, stdout, err = run_cli("bench", *QUICK, "--out", copy, "--report-only")
    assert code == 0, err + stdout
    assert "1 finished runs were started with another config" in stdout
    summary = json.loads((copy / "tradeoff.json").read_text())
    assert summary["stale"] == [f"complete/grad_diff seed 0: {f'method_params.{field}'} was {older['method_params'][field]}, now {record['method_params'][field]}"]
    cell = summary["settings"]["complete"]["grad_diff"]
    assert cell["seeds"] == [0] and cell["records"]["0"]["method_params"][field] == older["method_params"][field]  # the record it ran with
    assert "**Ran with another config**" in (copy / "tradeoff.md").read_text()
    code, _, err = run_cli("bench", *QUICK, "--out", copy)
    assert_one_line_error(code, err, "was started with another config")


def test_an_interrupted_run_resumes_and_every_attempt_counts_in_its_wall_time(cache, tmp_path, monkeypatch):
    from asru import pipeline
    from asru.bench import BenchConfig, attempts, run_bench
    from asru.errors import Interrupted

    config = BenchConfig(quick=True, methods=["grad_diff"], settings=["complete"], subjects=6, attacks=["paraphrase"], target_row=False, oracle_row=False, out=str(tmp_path / "b"))
    run = tmp_path / "b" / "runs" / "complete" / "grad_diff" / "seed0"
    real_unlearn = pipeline.unlearn

    def killed(*args, **kwargs):
        raise Interrupted("interrupted by SIGINT after step 1/3", signal.SIGINT)

    monkeypatch.setattr(pipeline, "unlearn", killed)
    with pytest.raises(Interrupted):
        run_bench(config)
    assert not (run / "results.json").exists() and len(attempts(run)) == 1 and (run / "bench_run.json").is_file()
    monkeypatch.setattr(pipeline, "unlearn", real_unlearn)
    summary = run_bench(config)
    assert (run / "results.json").is_file() and len(attempts(run)) == 2
    assert summary["settings"]["complete"]["grad_diff"]["metrics"]["wall_seconds"]["mean"] == pytest.approx(sum(attempts(run)), abs=0.01)


def test_a_run_started_with_another_config_is_a_one_line_error(bench, tmp_path):
    out, _, _ = bench
    methods = tmp_path / "methods.yaml"
    methods.write_text("quick: {steps: 3, batch_size: 4, checkpoint_every: 2}\nmethods:\n  - method: grad_diff\n    quick: {steps: 5}\n  - method: steering\n")
    code, _, err = run_cli("bench", *QUICK, "--out", out, "--methods-file", methods)
    assert_one_line_error(code, err, str(out / "runs" / "complete" / "grad_diff" / "seed0"), "steps was 3, now 5")


@pytest.mark.parametrize(
    "yaml_text, fragments",
    [
        ("methods:\n  - method: grad_diff\n  - method: forget_everything\n", ["methods[1] (forget_everything)", "unknown method 'forget_everything'"]),
        ("methods:\n  - method: npo\n    stepz: 3\n", ["methods[0] (npo)", "field 'stepz'"]),
        ("methods:\n  - method: npo\n    method_args: {betta: 1}\n", ["methods[0] (npo)", "method_args of 'npo'", "betta"]),
        ("methods:\n  - method: npo\n    setting: complete\n", ["methods[0] (npo)", "'setting' is set by the benchmark"]),
        ("methods:\n  - method: npo\n  - method: npo\n", ["methods[1] (npo)", "appears twice"]),
        ("methods:\n  - name: a b\n    method: npo\n", ["methods[0] (a b)", "field 'name'"]),
        ("methods:\n  - name: oracle\n    method: npo\n", ["methods[0] (oracle)", "field 'name'", "'oracle'"]),
        ("methods: []\n", ["non-empty 'methods' list"]),
        ("- method: npo\n", ["non-empty 'methods' list"]),
        ("methods:\n  - npo\n", ["methods[0]", "expected a mapping"]),
        ("methods: [\n", ["invalid YAML"]),
        ("methods:\n  - method: npo\n    per_setting: {everything: {steps: 3}}\n", ["methods[0] (npo)", "field 'per_setting'", "complete, selective, personalized"]),
        ("methods:\n  - method: npo\n    per_setting: {complete: {train_forms: [essay]}}\n", ["methods[0] (npo) per_setting.complete", "train_forms"]),
        ("methods:\n  - method: npo\n    per_setting: {complete: {seed: 3}}\n", ["methods[0] (npo)", "'seed' is set by the benchmark"]),
    ],
)
def test_bad_methods_file_is_a_one_line_error(yaml_text, fragments, tmp_path):
    methods = tmp_path / "methods.yaml"
    methods.write_text(yaml_text)
    code, _, err = run_cli("bench", "--quick", "--methods-file", methods, "--out", tmp_path / "out")
    assert_one_line_error(code, err, str(methods), *fragments)
    assert not (tmp_path / "out" / "runs").exists()


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("--methods", "grad_diff,nope"), ["option --methods", "'nope'", "methods.yaml"]),
        (("--settings", "complete,everything"), ["field 'settings.1'"]),
        (("--seeds", "0,x"), ["field 'seeds.1'"]),
        (("--attacks", "paraphrase,telepathy"), ["unknown attack 'telepathy'"]),
        (("--forget-ratio", "1.5"), ["field 'forget_ratio'"]),
    ],
)
def test_bad_options_are_one_line_errors(args, fragments, tmp_path):
    code, _, err = run_cli("bench", "--quick", *args, "--out", tmp_path / "out")
    assert_one_line_error(code, err, *fragments)


def test_a_config_file_sets_the_fields_and_options_override_it(bench, tmp_path):
    out = tmp_path / "bench"
    subprocess.run(["cp", "-r", str(bench[0]), str(out)], check=True)
    config = tmp_path / "bench.yaml"
    config.write_text(f"quick: true\nsubjects: 6\nmethods: [grad_diff]\nsettings: [selective]\nseeds: [0, 1]\nreport_only: true\nout: {tmp_path / 'elsewhere'}\n")
    code, _, err = run_cli("bench", "--config", config, "--out", out)
    assert code == 0, err
    summary = json.loads((out / "tradeoff.json").read_text())
    assert summary["rows"] == ["target", "oracle", "grad_diff"] and list(summary["settings"]) == ["selective"] and summary["seeds"] == [0, 1]
    assert sorted(summary["partial"]) == ["selective/grad_diff", "selective/oracle", "selective/target"] and not (tmp_path / "elsewhere").exists()
    config.write_text("quick: true\nsedes: [0]\n")
    code, _, err = run_cli("bench", "--config", config, "--out", tmp_path / "o")
    assert_one_line_error(code, err, str(config), "field 'sedes'")


def test_the_shipped_methods_file_lists_every_method(tmp_path):
    from asru.bench import load_methods

    for quick in (False, True):
        entries = {e.name: e for e in load_methods(None, quick)}
        assert list(entries) == ["asru", "asru_stage1", "asru_stage2", "ga", "grad_diff", "kl", "npo", "simnpo", "idk", "rmu", "mmunlearner", "steering", "grad_diff_lr3e-4", "npo_lr3e-4", "bao_grad_diff"]
        assert entries["asru_stage2"].fields_for(None)["method_args"]["stage"] == "2" and entries["bao_grad_diff"].fields_for(None)["bao"] is True
    full = {e.name: e for e in load_methods(None, False)}
    # no ASRU hyper-parameter is pinned in the file: the tuned defaults in asru/methods/ apply
    assert full["asru"].fields_for(None) == {"method": "asru"} and full["asru_stage1"].fields_for(None) == {"method": "asru_stage1"}


def test_benchmarks_script_runs_the_same_command(tmp_path):
    methods = tmp_path / "methods.yaml"
    methods.write_text("methods:\n  - method: unheard_of\n")
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "tradeoff.py"), "--methods-file", str(methods), "--out", str(tmp_path / "o")], capture_output=True, text=True)
    assert_one_line_error(result.returncode, result.stderr, "unknown method 'unheard_of'")


def test_one_thread_workers_fork_on_linux_and_others_spawn(monkeypatch):
    from asru import bench

    monkeypatch.setattr(bench.sys, "platform", "linux")
    assert bench.start_method(1) == "fork" and bench.start_method(2) == "spawn"
    monkeypatch.setattr(bench.sys, "platform", "darwin")
    assert bench.start_method(1) == "spawn"


def test_oracles_are_fine_tuned_side_by_side_once_per_forget_set(tiny_world, tmp_path, monkeypatch):
    """With workers > 1 the oracles not yet built (one per forget set that no built oracle covers) go
    to build_in_parallel together, before each run's oracle is looked up; with one worker, one by one."""
    import json

    import asru.cache as cache_module
    import asru.pipeline as pipeline_module
    from asru.bench import PlannedRun, prepare_oracles
    from asru.cache import oracle_recipe, target_folder
    from asru.eval.oracle import ORACLE_ROW, forget_set
    from asru.pipeline import EvalConfig, evaluation_splits
    from asru.train.finetune import FinetuneConfig

    monkeypatch.setenv("ASRU_CACHE", str(tmp_path / "cache"))
    world_hash = tiny_world.manifest["content_hash"]
    recipe = FinetuneConfig(epochs=1)

    def fake_built(r):
        folder = target_folder(world_hash, r)
        folder.mkdir(parents=True)
        (folder / "finetune.json").write_text(json.dumps({"world_hash": world_hash, "recipe": r.model_dump(mode="json")}))
        return folder

    target_dir = fake_built(recipe)
    configs = {(s, n): EvalConfig(setting=s, seed=n) for s in ("complete", "selective") for n in (0, 1)}
    runs = [PlannedRun(s, row, n, tmp_path / s / row / str(n), {}, config) for (s, n), config in configs.items() for row in ("target", ORACLE_ROW)]
    states = ["todo"] * len(runs)
    excluded = {key: forget_set(tiny_world, evaluation_splits(tiny_world, config)[0]) for key, config in configs.items()}
    fake_built(oracle_recipe(recipe, excluded["complete", 0]))  # built already: not fine-tuned again
    asked, looked_up = [], []

    def fake_build_in_parallel(world_dir, recipes, console=None, workers=None):
        asked.append((list(recipes), workers))
        return [fake_built(r) for r in recipes]

    monkeypatch.setattr(cache_module, "build_in_parallel", fake_build_in_parallel)
    monkeypatch.setattr(pipeline_module, "oracle", lambda target, world, config, console=None, chain=None: looked_up.append((config.setting, config.seed)))
    states[1] = "done"  # complete seed 0's oracle row is finished and its oracle built: its target row needs nothing more
    prepare_oracles(runs, states, tiny_world.root, target_dir, None, workers=2)
    built = {(subject, fact) for subject, facts in excluded["complete", 0].items() for fact in facts}
    covered = {key for key, facts in excluded.items() if {(s, f) for s, ids in facts.items() for f in ids} <= built}  # that oracle stands for them
    wanted = {oracle_recipe(recipe, excluded[key]).model_dump_json() for key in configs if key not in covered}
    assert len(wanted) >= 2
    assert len(asked) == 1 and asked[0][1] == 2
    assert {r.model_dump_json() for r in asked[0][0]} == wanted and len(asked[0][0]) == len(wanted)
    assert looked_up == list(configs)[1:]  # every other (setting, seed) with an unfinished run, in plan order
    asked.clear(), looked_up.clear()
    prepare_oracles(runs, ["done"] * 2 + ["todo"] * 6, tiny_world.root, target_dir, None, workers=1)
    assert asked == [] and looked_up == list(configs)[1:]  # one worker: the lookups build them one by one


def _fake_worker_run(run, world_dir, target_dir, threads):
    """bench._worker_run's stand-in in the forked worker: seed 0 is stopped by a signal at once, the others take 5 s."""
    from asru.errors import WorkerOutcome

    (run.folder / f"started-{run.seed}").touch()
    if run.seed == 0:
        return WorkerOutcome(True, "terminated by SIGTERM", 15)
    time.sleep(5)
    (run.folder / f"finished-{run.seed}").touch()
    return WorkerOutcome(False)


def test_a_stopped_run_stops_the_pool_and_nothing_queued_starts(tmp_path, monkeypatch):
    """One worker's stop: the runs not started never start, the running one is terminated after the grace period."""
    import asru.bench as bench_module
    import asru.cache as cache_module
    from asru.bench import PlannedRun, execute_parallel
    from asru.errors import Interrupted

    monkeypatch.setattr(bench_module, "_worker_run", _fake_worker_run)
    monkeypatch.setattr(bench_module, "available_cores", lambda: 2)
    monkeypatch.setattr(cache_module, "STOP_GRACE_SECONDS", 1.0)
    runs = [PlannedRun("complete", "fake", seed, tmp_path, {}) for seed in range(4)]
    started = time.time()
    with pytest.raises(Interrupted, match="SIGTERM"):
        execute_parallel(runs, tmp_path, tmp_path, workers=2)
    assert time.time() - started < 4.5
    assert sorted(p.name for p in tmp_path.glob("started-*")) == ["started-0", "started-1"]
    time.sleep(5)
    assert not list(tmp_path.glob("finished-*"))


def _slow_worker_run(run, world_dir, target_dir, threads):
    """bench._worker_run's stand-in: notes its process, then takes 5 s (a run between training steps, e.g. evaluating)."""
    from asru.errors import WorkerOutcome

    (run.folder / f"started-{run.seed}").write_text(str(os.getpid()))
    time.sleep(5)
    (run.folder / f"finished-{run.seed}").touch()
    return WorkerOutcome(False)


def test_a_sigterm_to_the_parent_alone_stops_its_workers_too(tmp_path, monkeypatch):
    """A SIGTERM to the bench process (not its group: ``kill PID``, a scheduler's stop) unwinds it through stop_pool,
    which stops the workers; with Python's default SIGTERM the parent died at once and its workers lived on
    (benchmarks/*.py, which are not the CLI, had no handler: 2026-12-07)."""
    import threading

    import asru.bench as bench_module
    import asru.cache as cache_module
    from asru.bench import PlannedRun, execute_parallel
    from asru.errors import Interrupted

    monkeypatch.setattr(bench_module, "_worker_run", _slow_worker_run)
    monkeypatch.setattr(bench_module, "available_cores", lambda: 2)
    monkeypatch.setattr(cache_module, "STOP_GRACE_SECONDS", 1.0)
    before = signal.getsignal(signal.SIGTERM)
    runs = [PlannedRun("complete", "fake", seed, tmp_path, {}) for seed in range(4)]

    def signal_once_both_started():
        deadline = time.time() + 30
        while len(list(tmp_path.glob("started-*"))) < 2 and time.time() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=signal_once_both_started, daemon=True).start()
    with pytest.raises(Interrupted, match="terminated by SIGTERM"):
        execute_parallel(runs, tmp_path, tmp_path, workers=2)
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is the pool's only
    pids = [int(p.read_text()) for p in tmp_path.glob("started-*")]
    assert len(pids) == 2 and pids[0] != pids[1]
    for pid in pids:  # stopped and reaped: no process left with that id
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert sorted(p.name for p in tmp_path.glob("started-*")) == ["started-0", "started-1"]  # nothing queued started
    assert not list(tmp_path.glob("finished-*"))


def test_the_tables_reuse_a_recorded_run_only_on_the_same_build_of_the_target(tmp_path):
    """recorded_runs: the tables need one build of the target per table, the tuning reads other builds of the same recipe."""
    from asru.bench import PlannedRun, recorded_runs

    record = {"row": "npo", "target": "recipe", "target_build": "b1", "attacks": ["prefill"]}
    run = PlannedRun("complete", "npo", 0, tmp_path / "runs" / "npo", record)
    summary = tmp_path / "tradeoff.json"

    def write(recorded: dict) -> None:
        summary.write_text(json.dumps({"settings": {"complete": {"npo": {"per_seed": {"0": {"forget_leakage": 0.1, "score": 0.5}}, "records": {"0": recorded}}}}}))

    write(record)
    assert recorded_runs(summary, [run]) == {("complete", "npo", 0): ({"forget_leakage": 0.1}, record)}  # the score is recomputed
    write({**record, "target_build": "b2"})
    assert recorded_runs(summary, [run]) == {}
    assert recorded_runs(summary, [run], same_build=False)[("complete", "npo", 0)][1]["target_build"] == "b2"  # kept as recorded
    write({k: v for k, v in record.items() if k != "target_build"})  # recorded before builds were
    assert recorded_runs(summary, [run]) == {} and ("complete", "npo", 0) in recorded_runs(summary, [run], same_build=False)
    write({**record, "attacks": ["prefill", "relearn"]})  # another config: never
    assert recorded_runs(summary, [run], same_build=False) == {}
    (run.folder).mkdir(parents=True)
    (run.folder / "bench_run.json").write_text(json.dumps(record))  # a folder that is there is the truth
    write(record)
    assert recorded_runs(summary, [run]) == {}


def test_a_record_holds_the_question_forms_the_run_trains_resolved_from_the_methods_default():
    """``train_forms`` left unset trains the method's own forms (ASRU: every form, a baseline: qa); the record
    names them, so that a change of a method's default makes its old runs stale and leaves the others' alone."""
    from asru.bench import unlearn_record
    from asru.train.unlearn import UnlearnConfig

    def forms(**fields):
        return unlearn_record({}, "row", UnlearnConfig(**fields))["unlearn_config"]["train_forms"]

    assert forms(method="npo") == ["qa"] and forms(method="asru") == ["qa", "cloze", "mcq"]
    assert forms(method="asru", method_args={"preset": "authors"}) == ["qa"]
    assert forms(method="npo", train_forms=["qa", "mcq"]) == ["qa", "mcq"]  # given: as given
    # the method's revision too: a code change that alters what a method trains makes its finished runs stale
    assert unlearn_record({}, "row", UnlearnConfig(method="npo"))["method_revision"] == 1
    assert unlearn_record({}, "row", UnlearnConfig(method="idk"))["method_revision"] == 2  # its refusals to photos name nobody
    with pytest.raises(ValueError, match="train_forms"):
        UnlearnConfig(method="npo", train_forms=["essay"])


def test_per_setting_fields_apply_in_their_setting_only_under_the_grid_point_and_the_tuned_choice(tmp_path):
    """``per_setting`` (a tuned baseline given ASRU's material in one setting): in the tables and in the grid of that
    setting, under the grid point; the other settings keep the entry's own fields."""
    from asru.bench import load_methods

    methods = tmp_path / "methods.yaml"
    methods.write_text("methods:\n  - method: npo\n    steps: 10\n    grid: {learning_rate: [1.0e-4, 3.0e-4]}\n    per_setting: {complete: {train_forms: [qa, cloze, mcq], steps: 20}}\n")
    (entry,) = load_methods(methods)
    assert entry.fields_for("complete") == {"method": "npo", "steps": 20, "train_forms": ["qa", "cloze", "mcq"]}
    assert entry.fields_for("selective") == {"method": "npo", "steps": 10}
    assert entry.point_fields({"learning_rate": 3e-4, "steps": 30}, "complete") == {"method": "npo", "steps": 30, "train_forms": ["qa", "cloze", "mcq"], "learning_rate": 3e-4}
    assert entry.point_fields({"learning_rate": 3e-4}, "personalized") == {"method": "npo", "steps": 10, "learning_rate": 3e-4}


def _quick_worker_run(run, world_dir, target_dir, threads):
    """bench._worker_run's stand-in: every run finishes at once."""
    from asru.errors import WorkerOutcome

    return WorkerOutcome(False, wall_seconds=1.0, cpu_seconds=1.0)


def test_side_by_side_runs_log_each_finish_with_the_count_and_the_time_left(tmp_path, monkeypatch):
    """In a log there is no live bar: each "done" line says how many are finished and, but for the last, the time left."""
    import io

    from rich.console import Console

    import asru.bench as bench_module
    from asru.bench import PlannedRun, execute_parallel

    monkeypatch.setattr(bench_module, "_worker_run", _quick_worker_run)
    monkeypatch.setattr(bench_module, "available_cores", lambda: 2)
    log = io.StringIO()
    runs = [PlannedRun("complete", "fake", seed, tmp_path, {}) for seed in range(3)]
    execute_parallel(runs, tmp_path, tmp_path, workers=2, console=Console(file=log, width=200))
    lines = [line for line in log.getvalue().splitlines() if line.startswith("done")]
    assert [line.split(", ")[1].split(" of ")[0] for line in lines] == ["1", "2", "3"]
    assert all("left at this pace" in line for line in lines[:-1]) and "left" not in lines[-1]


def test_the_headline_table_bolds_each_settings_best_method_and_lists_the_paired_tests():
    """One row per method, one column per setting; the target and oracle rows are references, never the best."""
    from asru.bench import headline

    def cell(mean, n, ci=None):
        return {"metrics": {"score": {"mean": mean, "n": n, "ci95": ci}}}

    summary = {
        "rows": ["target", "oracle", "asru", "npo"],
        "settings": {
            "complete": {"target": cell(0.0, 2, 0.0), "oracle": cell(0.98, 2, 0.01), "asru": cell(0.90, 2, 0.05), "npo": cell(0.93, 1)},
            "selective": {"target": cell(0.0, 2, 0.0), "oracle": cell(0.95, 2, 0.02), "asru": cell(0.84, 2, 0.03), "npo": {"metrics": {}}},
        },
        "significance": {"complete": {"method": "asru", "baseline": "npo", "difference": -0.03, "ci95": [-0.1, 0.04], "p_value": 0.4, "seeds": [0, 1], "resamples": 2000}},
    }
    lines = headline(summary, asked=2)
    table = "\n".join(lines)
    assert "| method | complete | selective |" in table
    assert "| oracle | 0.98 ± 0.01 | 0.95 ± 0.02 |" in table  # higher, but a reference
    assert "| asru | 0.90 ± 0.05 | **0.84 ± 0.03** |" in table and "| npo | **0.93 (1/2)** | – |" in table
    assert lines[-1].startswith("- complete: Paired test") and "no significant difference" in lines[-1]


def test_the_head_to_head_table_sets_the_proposed_method_beside_the_tested_baseline_and_the_oracle():
    """One small table per setting with a paired test: the score's parts and the columns the score does not read, for the
    proposed method, the baseline its test picked and the oracle; no table where nothing was tested."""
    from asru.bench import HEAD_TO_HEAD, head_to_head

    def cell(score, privleak, n=2):
        return {"metrics": {"score": {"mean": score, "n": n, "ci95": 0.01}, "privleak": {"mean": privleak, "n": n, "ci95": None}}}

    summary = {
        "settings": {"complete": {"target": cell(0.0, -1.0), "oracle": cell(0.97, 0.0), "asru": cell(0.85, 0.31), "npo": cell(0.86, 0.2), "kl": cell(0.8, 0.05)}},
        "significance": {"complete": {"method": "asru", "baseline": "npo", "difference": -0.01, "ci95": [-0.1, 0.08], "p_value": 0.8, "seeds": [0, 1], "resamples": 2000}},
    }
    lines = head_to_head(summary, asked=2)
    table = "\n".join(lines)
    assert "## Head to head" in lines[1] and "### complete: `asru` against `npo`" in table
    rows = [line.split(" | ")[0].strip("| ") for line in table.splitlines() if line.startswith("| ") and not line.startswith("| row")]
    assert rows == ["asru", "npo", "oracle"]  # not the target, not the untested kl
    assert "| asru | 0.85 ± 0.01 |" in table and "| 0.31 |" in table  # the score, then PrivLeak among the columns
    assert len(lines[-1].splitlines()[0].split(" | ")) == len(HEAD_TO_HEAD) + 1
    assert head_to_head({**summary, "significance": {}}, asked=2) == []


def test_a_run_started_with_an_option_asru_no_longer_has_is_named_as_such(tmp_path):
    """A folder whose record holds a method option that today's code lacks (asru upgraded mid-benchmark): the one-line
    error says so, beside the usual "delete that folder"."""
    from asru.bench import RUN_RECORD, PlannedRun, run_state
    from asru.errors import ConfigError

    record = {"row": "asru", "method_params": {"scale": 3.0}}
    run = PlannedRun("complete", "asru", 0, tmp_path / "run", record)
    run.folder.mkdir()
    (run.folder / RUN_RECORD).write_text(json.dumps({**record, "method_params": {"scale": 3.0, "old_option": 0.0}}))
    with pytest.raises(ConfigError, match="old_option was 0.0, now null; old_option: an option this version of asru no longer has"):
        run_state(run)
    (run.folder / RUN_RECORD).write_text(json.dumps({**record, "method_params": {"scale": 1.5}}))
    with pytest.raises(ConfigError, match=r"scale was 1.5, now 3.0\); delete that folder"):  # a changed value: no such note
        run_state(run)


def test_a_cell_is_partial_by_its_seeds_not_by_a_rate_undefined_on_a_finished_seed(tmp_path):
    """A seed with no attacked question the target knew has no value for that attack: the cell is complete, the value says (n/asked)."""
    from asru.bench import BenchConfig, PlannedRun, _fmt, aggregate

    config = BenchConfig(seeds=[0, 1], methods=["npo"], out=str(tmp_path))
    values = {0: {"forget_leakage": 0.1, "attack.prefill": 0.0}, 1: {"forget_leakage": 0.2}}
    runs = [PlannedRun("complete", "npo", seed, tmp_path / f"npo{seed}", {}) for seed in (0, 1)]
    cell = aggregate(config, runs, {("complete", "npo", seed): (values[seed], {}) for seed in (0, 1)})["complete"]["npo"]
    assert cell["partial"] is False and cell["metrics"]["attack.prefill"]["n"] == 1
    assert _fmt(cell["metrics"]["attack.prefill"], "rate", 2).endswith("(1/2)") and "(" not in _fmt(cell["metrics"]["forget_leakage"], "rate", 2)
    cell = aggregate(config, runs[:1], {("complete", "npo", 0): (values[0], {})})["complete"]["npo"]
    assert cell["partial"] is True  # one of two seeds finished


def test_a_field_added_inside_a_nested_config_keeps_finished_runs_done(tmp_path):
    """A run recorded before ASRU's `rl` section gained a field is done while the new run leaves it at its
    default, and started with another config once it does not."""
    from asru.bench import RUN_RECORD, PlannedRun, run_state
    from asru.methods.base import get_method
    from asru.train.unlearn import UnlearnConfig

    config = UnlearnConfig(method="asru")
    params = get_method("asru").Params().model_dump(mode="json")
    record = {"row": "asru", "unlearn_config": config.model_dump(mode="json"), "method_params": params}
    older = {**record, "method_params": {**params, "rl": {k: v for k, v in params["rl"].items() if k != "drop_flat_groups"}}}
    run = PlannedRun("complete", "asru", 0, tmp_path / "run", record, config)
    run.folder.mkdir()
    (run.folder / RUN_RECORD).write_text(json.dumps(older))
    assert run_state(run) == "resume"
    run.record = {**record, "method_params": {**params, "rl": {**params["rl"], "drop_flat_groups": True}}}
    with pytest.raises(ConfigError, match="method_params.rl.drop_flat_groups"):
        run_state(run)


def test_the_summary_snapshot_waits_its_interval_and_a_failed_one_does_not_stop_the_bench(monkeypatch):
    """``asru.bench.every``: the tables' and the tuning's summary rewritten between runs, at most once per SNAPSHOT_SECONDS."""
    import asru.bench

    clock = [1000.0]
    monkeypatch.setattr("asru.bench.time.monotonic", lambda: clock[0])
    monkeypatch.setattr("asru.bench.SNAPSHOT_SECONDS", 300.0)
    writes = []
    maybe_write = asru.bench.every(lambda: writes.append(clock[0]))
    maybe_write()
    clock[0] += 299
    maybe_write()
    assert writes == []  # not yet: the bench began less than 300 s ago
    clock[0] += 1
    maybe_write()
    clock[0] += 100
    maybe_write()
    assert writes == [1300.0]

    def failing() -> None:
        raise OSError("disk full")

    printed = []
    console = type("Console", (), {"print": lambda self, text, **_: printed.append(text)})()
    maybe_fail = asru.bench.every(failing, console)
    clock[0] += 300
    maybe_fail()  # reported, not raised
    assert "disk full" in printed[0] and "writes it at the end" in printed[0]


# ----- oracles fine-tuned in the pool of runs (asru.bench.execute_parallel): fake jobs that log when they start and end

JOB_LOG = "jobs.log"
SLEEP = {"A": 0.3, "B": 0.6, "C": 1.5}


def _log(folder: Path, line: str) -> None:
    with open(folder / JOB_LOG, "a", encoding="utf-8") as handle:  # appends from two processes: one short write each
        handle.write(line + "\n")


def _fake_fine_tune(world_dir, recipe, threads):
    from asru.errors import WorkerOutcome

    _log(Path(world_dir), f"start oracle {recipe}")
    time.sleep(SLEEP[recipe])
    _log(Path(world_dir), f"end oracle {recipe}")
    return WorkerOutcome(False, wall_seconds=SLEEP[recipe])


def _fake_run(run, world_dir, target_dir, threads):
    from asru.errors import WorkerOutcome

    _log(Path(world_dir), f"start {run.setting}/{run.row}")
    time.sleep(0.1)
    _log(Path(world_dir), f"end {run.setting}/{run.row}")
    return WorkerOutcome(False, wall_seconds=0.1)


def test_oracles_fine_tune_in_the_pool_and_runs_that_need_none_fill_the_free_worker(tmp_path, monkeypatch):
    """Three oracles on two workers: when the first is built, the third starts, and the runs of the first's setting take
    the worker the second leaves; no run starts before its own oracle is built."""
    from asru.bench import PendingOracle, PlannedRun, execute_parallel

    monkeypatch.setattr("asru.cache._fine_tune_in_worker", _fake_fine_tune)
    monkeypatch.setattr("asru.bench._worker_run", _fake_run)
    monkeypatch.setattr("asru.bench.available_cores", lambda: 2)  # one thread a worker: forked workers, which see the fakes
    oracles = [PendingOracle(name, frozenset({(setting, 0)}), tmp_path / name, 10) for name, setting in (("A", "complete"), ("B", "selective"), ("C", "personalized"))]
    runs = [PlannedRun(setting, row, 0, tmp_path / setting / row, {}) for setting in ("personalized", "complete", "selective") for row in ("target", "npo")]
    built = []
    execute_parallel(runs, tmp_path, tmp_path, 2, oracles=oracles, oracle_built=lambda: built.append(len(built)))
    log = (tmp_path / JOB_LOG).read_text().splitlines()
    at = {line: index for index, line in enumerate(log)}
    assert len(built) == 3 and len(log) == 2 * (3 + 6)
    for name, setting in (("A", "complete"), ("B", "selective"), ("C", "personalized")):
        for row in ("target", "npo"):
            assert at[f"start {setting}/{row}"] > at[f"end oracle {name}"], log  # never before its oracle
    assert at["start oracle C"] < at["start complete/target"] < at["end oracle C"], log  # beside the third oracle, not after it


def test_an_oracle_missing_from_the_cache_is_fine_tuned_in_the_pool_of_runs(bench, tmp_path):
    """--workers 2 on a cache without the oracle the quick bench built: the oracles are fine-tuned by the run pool's
    workers before the runs that need them; Complete's runs give the same numbers as the first time."""
    import shutil

    out, _, _ = bench
    copy = tmp_path / "bench"
    shutil.copytree(out, copy)
    complete = copy / "runs" / "complete"
    oracle_dir = Path(json.loads((complete / "oracle" / "seed0" / "results.json").read_text())["model"])
    redo = [complete / "oracle" / "seed0", complete / "grad_diff" / "seed0", copy / "runs" / "selective" / "steering" / "seed0"]
    for run in redo:
        (run / "results.json").unlink()
    aside = tmp_path / "oracle model"
    cached = set(oracle_dir.parent.iterdir())
    shutil.move(oracle_dir, aside)  # Complete's oracle, which also covered Selective's forget set: Selective's own is built too
    try:
        code, stdout, err = run_cli("bench", *QUICK, "--out", copy, "--workers", "2")
        assert code == 0, err + stdout
        flat = " ".join(stdout.split())
        assert "first 2 oracle fine-tunes" in flat and (oracle_dir / "finetune.json").is_file(), stdout
        assert flat.index("fine-tuning the oracle of complete seed 0") < flat.index("built the oracle of complete seed 0"), stdout
        for setting, row in (("complete", "oracle"), ("complete", "grad_diff"), ("selective", "steering")):
            assert flat.index(f"built the oracle of {setting} seed 0") < flat.index(f"done {setting}/{row}/seed0"), stdout
        for run in redo[:2]:
            again = json.loads((run / "results.json").read_text())
            first = json.loads((out / run.relative_to(copy) / "results.json").read_text())
            assert again["metrics"] == first["metrics"] and again.get("forget_quality") == first.get("forget_quality"), run
    finally:  # the module's cache as it was: the covering oracle back, Selective's own gone (later tests compare with the first numbers)
        shutil.rmtree(oracle_dir, ignore_errors=True)
        shutil.move(aside, oracle_dir)
        for extra in set(oracle_dir.parent.iterdir()) - cached:
            shutil.rmtree(extra) if extra.is_dir() else extra.unlink()


def test_the_oracle_rows_run_first_and_the_rest_in_plan_order(tmp_path, monkeypatch):
    """A recorded oracle row (with the oracle's kept measures) spares a lost machine that oracle's fine-tune: its runs go first."""
    from asru.bench import PlannedRun, execute_todo

    ran = []
    monkeypatch.setattr("asru.bench.execute", lambda run, *args, **kwargs: ran.append(f"{run.setting}/{run.row}"))
    plan = [PlannedRun(setting, row, 100, tmp_path / setting / row, {}) for setting in ("complete", "selective") for row in ("target", "oracle", "npo@g0", "npo@g1")]
    execute_todo([(run, "new") for run in plan], len(plan), tmp_path, tmp_path, 1)
    assert ran == ["complete/oracle", "selective/oracle", "complete/target", "complete/npo@g0", "complete/npo@g1", "selective/target", "selective/npo@g0", "selective/npo@g1"]


def test_the_share_of_contextual_refusals_is_a_column_kept_in_the_summary():
    """Issue 21's contextual goal reads the share from the summary, which outlives the run folders (it read results.json)."""
    from asru.bench import run_values

    judge = {"labels": {"refusal_contextual": 0.4, "refusal_rigid": 0.6}, "contextual_refusal": 3.8, "naturalness": 4.0}
    values = run_values({"metrics": {"forget": {"judge": judge}}})
    assert values["contextual_share"] == 0.4 and values["contextual_refusal"] == 3.8
    assert run_values({"metrics": {}})["contextual_share"] is None  # not judged: unmeasured, not 0
