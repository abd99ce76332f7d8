"""asru.eval.rejudge / `asru rejudge`: finished runs judged again from their stored answers with today's rules."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
import torch

from asru.errors import ConfigError, DataError
from asru.eval.judge import RULES_VERSION
from asru.eval.rejudge import judged_by_older_rules, rejudge_run, run_folders
from conftest import assert_one_line_error  # tests/conftest.py


@pytest.fixture(scope="module")
def finished_run(tiny_world, tiny_model_dir, tmp_path_factory):
    """An `asru eval` run of the untrained tiny model (its answers are whatever it says)."""
    from asru.pipeline import EvalConfig, evaluate_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("rejudge") / "run"
    evaluate_model(tiny_model_dir, tiny_world.root, folder, EvalConfig(forget_ratio=0.34, attacks=["paraphrase"]))
    torch.set_num_threads(threads)
    return folder


def _copy(run, tmp_path):
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


def _read(run):
    results = json.loads((run / "results.json").read_text())
    answers = [json.loads(line) for line in (run / "answers.jsonl").read_text().splitlines()]
    return results, answers


def _as_older_rules(run, pred_for=None):
    """Make ``run`` look judged by rules before RULES_VERSION: summaries without the version and wrong labels
    (``pred_for``: {answer index: new answer} to change what was said too)."""
    results, answers = _read(run)
    for section in (results["metrics"], results["target"]["metrics"]):
        for split in section.values():
            if "judge" in split:
                split["judge"].pop("rules_version")
                split["judge"]["naturalness"] = 0.5
    for index, record in enumerate(answers):
        if "label" in record:
            record["label"], record["naturalness"] = "correct", 5
        if pred_for and index in pred_for:
            record["pred"] = pred_for[index]
    (run / "results.json").write_text(json.dumps(results))
    (run / "answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))


def _judged_splits(results):
    return {name: split["judge"] for name, split in results["metrics"].items() if "judge" in split}, {
        name: split["judge"] for name, split in results["target"]["metrics"].items() if "judge" in split
    }


def test_rejudging_reproduces_what_evaluation_judged(finished_run, tmp_path):
    """The stored answers (plus the world's distractors) are all the rules need: the same labels, scales and summaries,
    the target's too, whatever an older judge had written."""
    original_results, original_answers = _read(finished_run)
    assert not judged_by_older_rules(original_results) and rejudge_run(finished_run) is False  # today's rules: untouched
    run = _copy(finished_run, tmp_path)
    _as_older_rules(run)
    assert judged_by_older_rules(_read(run)[0])
    assert rejudge_run(run) is True
    results, answers = _read(run)
    assert _judged_splits(results) == _judged_splits(original_results)
    assert [(a.get("label"), a.get("naturalness")) for a in answers] == [(a.get("label"), a.get("naturalness")) for a in original_answers]
    assert results["metrics"]["forget"]["all"] == original_results["metrics"]["forget"]["all"]  # rates kept
    assert results["forget_quality"] == original_results["forget_quality"]
    assert "re-judged" not in (run / "report.md").read_text() and (run / "report.md").stat().st_size > 0


def test_a_broken_refusal_is_judged_by_the_new_rules(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    _, answers = _read(run)
    index = next(i for i, a in enumerate(answers) if a["split"] == "forget" and a["kind"] == "fact" and a["form"] == "qa")
    _as_older_rules(run, {index: "I'm sorry, but I can't share the."})
    rejudge_run(run)
    results, answers = _read(run)
    assert (answers[index]["label"], answers[index]["naturalness"]) == ("refusal_rigid", 2)
    summary = results["metrics"]["forget"]["judge"]
    assert summary["rules_version"] == RULES_VERSION and summary["labels"]["refusal_rigid"] > 0


def test_errors_name_the_run_and_what_to_do(finished_run, tmp_path, cli):
    run = _copy(finished_run, tmp_path)
    _as_older_rules(run)
    results, _ = _read(run)
    moved = {**results, "world": {**results["world"], "path": str(tmp_path / "gone")}}
    (run / "results.json").write_text(json.dumps(moved))
    with pytest.raises(DataError, match="give --world"):
        rejudge_run(run)
    assert rejudge_run(run, world_dir=results["world"]["path"]) is True  # --world: where it is now
    (run / "results.json").write_text(json.dumps({**moved, "judge": "openai:http://localhost:1 model=x"}))
    with pytest.raises(ConfigError, match="not the offline rules"):
        rejudge_run(run, force=True)
    code, _, err = cli("rejudge", str(tmp_path / "nothing"))
    assert_one_line_error(code, err, "no such run folder")
    (tmp_path / "empty").mkdir()
    code, _, err = cli("rejudge", str(tmp_path / "empty"))
    assert_one_line_error(code, err, "no finished run")


def test_cli_and_bench_rejudge_the_older_runs_under_a_folder(finished_run, tmp_path, cli):
    from asru.bench import rejudge_finished

    tree = tmp_path / "runs"
    for name in ("a", "b"):
        shutil.copytree(finished_run, tree / "complete" / name / "seed0")
    _as_older_rules(tree / "complete" / "a" / "seed0")
    assert run_folders([tree]) == [tree / "complete" / name / "seed0" for name in ("a", "b")]
    (tmp_path / "gathered").mkdir()
    (tmp_path / "gathered" / "a").symlink_to(tree / "complete" / "a")  # runs gathered by links are found too
    assert run_folders([tmp_path / "gathered"]) == [tmp_path / "gathered" / "a" / "seed0"]
    code, out, err = cli("rejudge", str(tree))
    assert code == 0, err
    assert "re-judged 1 of 2 runs" in " ".join(out.split())
    assert not judged_by_older_rules(_read(tree / "complete" / "a" / "seed0")[0])
    _as_older_rules(tree / "complete" / "b" / "seed0")
    rejudge_finished([SimpleNamespace(folder=tree / "complete" / name / "seed0") for name in ("a", "b")])
    assert not judged_by_older_rules(_read(tree / "complete" / "b" / "seed0")[0])
