"""`asru demo` on a tiny world and a tiny trained target: the table and the examples come from the runs.

The demo's own code path (plan, bench's resumable execute, summary, comparison, printing) with the
methods cut to a couple of steps through ``method_overrides`` (the demo's config field for that).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import assert_one_line_error  # tests/conftest.py

ROWS = ["target", "oracle", "asru", "grad_diff", "npo"]
TINY_ASRU = {"forget_items": 4, "retain_items": 4, "rl": {"steps": 1, "prompts_per_step": 2, "group_size": 2, "max_new_tokens": 4}}


@pytest.fixture(scope="module")
def tiny_target(tiny_world, tmp_path_factory):
    """The quick benchmark's tiny target (one epoch on the tiny world), built in a private cache."""
    from asru.bench import quick_recipe
    from asru.cache import cached_target

    patch = pytest.MonkeyPatch()
    patch.setenv("ASRU_CACHE", str(tmp_path_factory.mktemp("asru_cache")))
    try:
        return cached_target(tiny_world.root, quick_recipe())
    finally:
        patch.undo()


def demo_args(tiny_world, tiny_target, tmp_path: Path, **extra) -> list[str]:
    config = tmp_path / "demo.yaml"
    overrides = {m: {"batch_size": 4, "checkpoint_every": 1} for m in ("asru", "grad_diff", "npo")}
    overrides["asru"]["method_args"] = TINY_ASRU
    config.write_text(yaml.safe_dump({"method_overrides": overrides, "eval_max_per_split": 12, "workers": 2, **extra}))
    return ["demo", "--world", tiny_world.root, "--model", tiny_target, "--out", tmp_path / "demo", "--steps", "2", "--config", config]


def test_demo_table_and_examples_come_from_its_runs(cli, tiny_world, tiny_target, tmp_path):
    args = demo_args(tiny_world, tiny_target, tmp_path)
    code, out, err = cli(*args)
    assert code == 0, err + out
    demo = tmp_path / "demo"
    summary = json.loads((demo / "demo.json").read_text())
    assert summary["rows"] == ROWS and list(summary["settings"]) == ["complete", "selective"]
    assert "10 runs under" in out and "0 finished (skipped), 10 to run" in out and "10 runs in 2 processes side by side" in out
    people, oracles = set(), {}
    for setting, entry in summary["settings"].items():
        request = yaml.safe_load((demo / setting / "request.yaml").read_text())
        assert request == [entry["request"]]
        people.add(entry["request"]["subject"])
        subject = next(s for s in tiny_world.subjects if s["name"] == entry["request"]["subject"])
        if setting == "complete":
            assert entry["request"]["facts"] == "all"
        else:  # the Selective request names exactly the person's sensitive facts
            assert entry["request"]["facts"] == [f["fact"] for f in subject["facts"] if f["sensitive"]]
        for row in ROWS:
            run = demo / setting / row
            results = json.loads((run / "results.json").read_text())
            values = entry["rows"][row]["values"]
            assert results["method"] == row and results["setting"] == setting
            assert results["requests"][0]["subject"] == entry["request"]["subject"]
            # the table's rates are over what the target answered correctly; results.json keeps the raw ones too
            forget = results["metrics"]["forget"]["all"]
            assert {"leakage", "refusal_rate", "n"} <= set(forget) and entry["rows"][row]["known"]["forget"] == forget["n_known"]
            assert values["forget_leakage"] == forget.get("leakage_known")
            assert values["forget_refusal"] == forget.get("refusal_rate_known")
            assert values["retain_other"] == results["metrics"]["retain_other"]["all"].get("exact_match_known")
            assert values["utility"] == results["metrics"]["utility"]["all"].get("exact_match_known")
            assert values["naturalness"] == results["metrics"]["forget"]["judge"]["naturalness"]
            assert values["names_fact"] == results["metrics"]["forget"]["judge"]["names_fact"]  # the caption's share
            # gone or hidden: every row against the setting's oracle (fine-tuned before the runs), the oracle as never-seen on its own forget set
            assert results["oracle"]["model"] == oracles.setdefault(setting, results["oracle"]["model"]) and results["oracle"]["reason"] is None
            assert values["forget_quality"] == results["forget_quality"]["forget_quality"] and values["privleak"] == results["membership"]["privleak"]
            if row == "oracle":
                assert values["forget_quality"] == 1.0 and values["privleak"] == 0.0 and results["model"] == results["oracle"]["model"]
            assert ("retain_same_subject" in results["metrics"]) == (setting == "selective")
            same = results["metrics"].get("retain_same_subject", {}).get("all", {}).get("exact_match_known")
            assert values["retain_same_subject"] == same
            attempts = json.loads((run / "bench_time.json").read_text())["attempts"]
            assert values["wall_seconds"] == pytest.approx(attempts[0], abs=0.01)
            # only the table's splits were asked, capped at 12 questions; no attacks
            assert set(results["metrics"]) <= {"forget", "retain_same_subject", "retain_other", "utility"}
            assert results["metrics"]["retain_other"]["all"]["n"] == 12 and results["attacks"] == {}
            assert (run / "report.html").is_file()
            if row not in ("target", "oracle"):
                # the audit's verdict on what the run measured (asru.eval.audit.judge_results)
                from asru.eval.audit import judge_results

                assert entry["rows"][row]["audit"] == {key: judge_results(results)[key] for key in ("verdict", "failed")}
                config = yaml.safe_load((run / "config.yaml").read_text())
                assert config["method"] == row and config["steps"] == 2 and config["requests_file"] == str(demo / setting / "request.yaml")
        # the examples are the runs' own answers, to the same questions before and after
        captions = [e["caption"] for e in entry["examples"]]
        assert len(captions) == 3 and captions[-1] == "someone else"
        if setting == "selective":
            assert captions[:2] == ["forgotten (sensitive)", "kept, same person"]
        for example in entry["examples"]:
            assert set(example["answers"]) == set(ROWS)
            for row in ROWS:
                records = [json.loads(line) for line in (demo / setting / row / "answers.jsonl").read_text().splitlines()]
                record = next(r for r in records if r["split"] == example["split"] and r["id"] == example["id"])
                assert example["answers"][row] == {"pred": record["pred"], "label": record.get("label")}
                assert record["question"] == example["question"] and record["gold"] == example["gold"]
            assert example["question"] in out.replace("\n", " ") or example["question"][:30] in out
    assert len(people) == 2  # two different people
    for setting in ("complete", "selective"):
        comparison = json.loads((demo / "comparison" / setting / "comparison.json").read_text())
        assert set(comparison) == set(ROWS)  # run folders named after their method: no "npo@npo"
        assert (demo / "comparison" / setting / "forget_vs_retain.png").stat().st_size > 1000
    assert oracles["complete"] != oracles["selective"]  # one oracle per request
    for title in ("Complete: forget everything about", "Selective: forget", "target (before)", "oracle (never saw)", "ASRU", "GradDiff", "NPO", "refuse ↑", "gone or hidden", "forget quality", "wall"):
        assert title in out, title
    # the table says its rates are over what the target knew, and how much of the forget split that was
    words = " ".join(out.split())
    assert "rates are over the questions the target answered correctly in that form" in words
    for setting in ("complete", "selective"):
        target = summary["settings"][setting]["rows"]["target"]
        assert f"the target answered {target['known']['forget']} of the {target['questions']['forget']} forget questions correctly" in words
    for setting in ("complete", "selective"):
        assert f"{demo / setting}/{{target,oracle,asru,grad_diff,npo}}/report.html" in out
    # the runs trained fewer steps than their defaults: the demo says so under the table
    from asru.methods.base import get_method
    from asru.rl.grpo import GRPOConfig

    assert f"ASRU trained 2 stage-1 + 1 RL steps here (its defaults: {get_method('asru').default_steps} + {GRPOConfig().steps})" in " ".join(out.split())
    assert f"GradDiff trained 2 steps here (its defaults: {get_method('grad_diff').default_steps})" in " ".join(out.split())

    # a second invocation runs nothing and shows the same numbers
    stamps = {p: p.stat().st_mtime_ns for p in demo.rglob("results.json")}
    code, again, err = cli(*args)
    assert code == 0, err
    assert "10 finished (skipped), 0 to run" in again
    assert {p: p.stat().st_mtime_ns for p in demo.rglob("results.json")} == stamps
    second = json.loads((demo / "demo.json").read_text())
    assert second["settings"] == summary["settings"]

    # another config on the same folders is refused before any work, in one line
    code, _, err = cli(*[a if a != "2" else "3" for a in args])
    assert_one_line_error(code, err, "was started with another config", "steps")

    # --rerun-changed (make demo): a folder an earlier version ran is run again, the others are kept
    record_file = demo / "complete" / "npo" / "bench_run.json"
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**record, "method_revision": record["method_revision"] + 1}))
    code, _, err = cli(*args)
    assert_one_line_error(code, err, "was started with another config", "method_revision")
    code, again, err = cli(*args, "--rerun-changed")
    assert code == 0, err
    assert "complete/npo was run with another config (method_revision" in " ".join(again.split()) and "9 finished (skipped), 1 to run" in again
    assert json.loads(record_file.read_text())["method_revision"] == record["method_revision"]
    assert {p: p.stat().st_mtime_ns for p in demo.rglob("results.json") if "complete/npo" not in str(p)} == {
        p: t for p, t in stamps.items() if "complete/npo" not in str(p)
    }


def test_demo_bad_options_are_one_line(cli, tiny_world, tiny_target, tmp_path):
    code, _, err = cli("demo", "--methods", "nope", "--world", tiny_world.root, "--model", tiny_target, "--out", tmp_path / "d")
    assert_one_line_error(code, err, "unknown method 'nope'")
    code, _, err = cli("demo", "--model", tiny_target, "--out", tmp_path / "d")
    assert_one_line_error(code, err, "--model needs --world")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"method_overrides": {"ga": {"steps": 1}}}))
    code, _, err = cli("demo", "--world", tiny_world.root, "--model", tiny_target, "--out", tmp_path / "d", "--config", config)
    assert_one_line_error(code, err, "method_overrides", "'ga'")
    assert not (tmp_path / "d" / "complete").exists()


def test_a_model_without_its_recipe_has_no_oracle_to_retrain(cli, tiny_world, tiny_model_dir, tmp_path):
    code, _, err = cli("demo", "--world", tiny_world.root, "--model", tiny_model_dir, "--out", tmp_path / "d")
    assert_one_line_error(code, err, "has no finetune.json", "--no-oracle")


def test_the_table_with_the_oracle_row_fits_80_columns():
    from io import StringIO

    from rich.console import Console

    from asru.demo import ORACLE_COLUMNS, TABLE_COLUMNS, print_summary

    values = {**dict.fromkeys((*TABLE_COLUMNS, *ORACLE_COLUMNS), 0.95), "names_fact": 0.26, "naturalness": 4.25, "forget_quality": 2.9e-08, "privleak": -0.71, "wall_seconds": 123.0}
    verdicts = {"asru": {"verdict": "pass", "failed": []}, "npo": {"verdict": "fail", "failed": ["direct", "relearn"]}}
    rows = {row: {"values": values, **({"audit": verdicts.get(row, verdicts["asru"])} if row not in ("target", "oracle") else {})} for row in ROWS}
    summary = {"config": {"out": "runs/demo"}, "rows": ROWS, "settings": {"complete": {"request": {"subject": "A", "facts": "all"}, "rows": rows, "examples": []}}}
    console = Console(file=StringIO(), width=80)
    print_summary(console, summary)
    table = console.file.getvalue().split("rates are over")[0]
    assert "oracle (never saw)" in table and "2.9e-08" in table and "-0.71" in table and "gone or hidden" in table
    assert "audit" in table and "pass" in table and "FAIL" in table and "audit failed on NPO: direct, relearn" in table.replace("\n", " ")
    # the share of refusals naming the fact, per method (not the target's or oracle's), under the first table
    assert "forget answers refusing with the fact asked named: ASRU 0.26, GradDiff 0.26, NPO 0.26" in " ".join(table.split())
    assert max(map(len, table.splitlines())) <= 80


def test_eval_subset_is_the_same_seeded_cap_for_every_model(tiny_world):
    from asru.errors import ConfigError
    from asru.eval.settings import make_splits
    from asru.pipeline import EvalConfig, eval_subset

    splits = make_splits(tiny_world, "selective", 0.34)
    config = EvalConfig(setting="selective", splits=["forget", "retain_other"], max_per_split=5)
    first, again = eval_subset(splits, config), eval_subset(splits, config)
    assert list(first) == ["forget", "retain_other"] and len(first["retain_other"]) == 5
    assert [s.id for s in first["retain_other"]] == [s.id for s in again["retain_other"]]
    assert len(first["forget"]) == min(5, len(splits["forget"]))
    order = [s.id for s in splits["retain_other"]]
    assert sorted(first["retain_other"], key=lambda s: order.index(s.id)) == first["retain_other"]  # kept in the split's order
    other_seed = eval_subset(splits, config.model_copy(update={"seed": 1}))["retain_other"]
    assert [s.id for s in other_seed] != [s.id for s in first["retain_other"]]
    assert list(eval_subset(splits, EvalConfig())) == ["forget", "retain_same_subject", "retain_other", "utility", "refusal", "test_forget", "test_retain_same_subject", "test_retain_other"]
    with pytest.raises(ConfigError, match="unknown split 'nope'"):
        eval_subset(splits, EvalConfig(splits=["nope"]))


def test_quick_asru_halves_asru_steps_only_and_explicit_steps_win(tiny_world, tmp_path):
    from asru.demo import DemoConfig, plan
    from asru.methods.base import get_method
    from asru.rl.grpo import GRPOConfig

    def budgets(**fields):
        runs = plan(DemoConfig(out=str(tmp_path / "d"), **fields), tiny_world, tiny_world.root, tmp_path / "target")
        return {(r.setting, r.row): (r.config.steps, r.config.method_args.get("rl", {}).get("steps")) for r in runs if r.row not in ("target", "oracle")}

    half = (get_method("asru").default_steps // 2, GRPOConfig().steps // 2)
    quick = budgets()
    assert quick[("complete", "asru")] == quick[("selective", "asru")] == half
    assert quick[("complete", "grad_diff")] == quick[("complete", "npo")] == (None, None)  # their own defaults
    assert set(budgets(quick_asru=False).values()) == {(None, None)}
    assert budgets(steps=5)[("complete", "asru")] == (5, half[1])
    assert budgets(method_overrides={"asru": {"method_args": {"rl": {"steps": 7}}}})[("selective", "asru")] == (half[0], 7)


def test_the_note_under_the_table_says_why_asru_trained_fewer_steps():
    from io import StringIO

    from rich.console import Console

    from asru.demo import TABLE_COLUMNS, print_summary, quick_budget

    quick = quick_budget("asru")

    def printed(asru_steps: dict) -> str:
        values = dict.fromkeys((*TABLE_COLUMNS, "wall_seconds"), 0.5)
        rows = {"target": {"values": values}, "asru": {"values": values, "steps": asru_steps}}
        summary = {"config": {"out": "runs/demo"}, "rows": ["target", "asru"], "settings": {"complete": {"request": {"subject": "A", "facts": "all"}, "rows": rows, "examples": []}}}
        console = Console(file=StringIO(), width=300)
        print_summary(console, summary)
        return console.file.getvalue()

    halved = printed({"train": {"ran": quick["steps"], "default": 240}, "rl": {"ran": quick["method_args"]["rl"]["steps"], "default": 60}})
    assert f"ASRU trained {quick['steps']} stage-1 + {quick['method_args']['rl']['steps']} RL steps here (its defaults: 240 + 60) (quick_asru: halved" in halved
    assert "quick_asru" not in printed({"train": {"ran": 5, "default": 240}, "rl": {"ran": 60, "default": 60}})  # set by the user: no reason given
    assert "ASRU trained" not in printed({"train": {"ran": 240, "default": 240}, "rl": {"ran": 60, "default": 60}})  # the defaults: no note
