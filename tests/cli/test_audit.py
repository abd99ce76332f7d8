"""``asru audit``: every attack, relearning and steering-removed against thresholds, exit 1 on fail,
audit.json written and the verdict added to the run's report."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from asru.eval.attacks import ALL_ATTACKS
from asru.eval.audit import AuditConfig, check_names, judge_checks, parse_thresholds
from conftest import assert_one_line_error  # tests/conftest.py


@pytest.fixture(scope="module")
def leaky_run(tiny_world, tiny_model_dir, tmp_path_factory):
    """An ``asru eval`` run of a model that still knows its forget facts: fine-tuned on them (40 steps)."""
    from asru.data.collate import Encoder
    from asru.eval.attacks import relearn
    from asru.eval.settings import make_splits
    from asru.models import load_vlm, save_vlm
    from asru.pipeline import EvalConfig, evaluate_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("audit")
    model, processor = load_vlm(tiny_model_dir)
    forget = [s for s in make_splits(tiny_world, "complete", 0.34)["forget"] if s.form == "qa"]
    torch.manual_seed(0)
    leaky = relearn(model, Encoder(processor, tiny_world.root), forget, steps=40, learning_rate=1e-2, batch_size=16)
    save_vlm(leaky, processor, base / "leaky")
    evaluate_model(base / "leaky", tiny_world.root, base / "run", EvalConfig(forget_ratio=0.34))
    torch.set_num_threads(threads)
    return base / "run"


def test_a_model_that_still_knows_fails_the_audit(leaky_run, tmp_path, cli):
    run = tmp_path / "run"
    shutil.copytree(leaky_run, run)
    code, out, err = cli("audit", run)
    assert code == 1, err
    assert "FAIL" in out
    audit = json.loads((run / "audit.json").read_text())
    assert audit["verdict"] == "fail" and "direct" in audit["failed"]
    assert set(audit["checks"]) | set(audit["skipped"]) == {"direct", *ALL_ATTACKS}
    direct = audit["checks"]["direct"]
    assert direct["leakage"] > 0.05 and direct["threshold"] == 0.05 and not direct["passed"]
    assert audit["model"].endswith("leaky")
    assert "## Audit: FAIL" in (run / "report.md").read_text()
    html = (run / "report.html").read_text()
    assert "<h2>Audit: FAIL</h2>" in html and "<td>direct</td>" in html
    # the same leakage under thresholds the user allows passes; per-check thresholds override the default
    code, out, _ = cli("audit", run, "--max-leakage", "1")
    assert code == 0 and "PASS" in out
    audit = json.loads((run / "audit.json").read_text())
    assert audit["verdict"] == "pass" and audit["checks"]["relearn"]["threshold"] == 1.0
    assert "## Audit: PASS" in (run / "report.md").read_text()
    code, out, _ = cli("audit", run, "--max-leakage", "1", "--threshold", "direct=0.01")
    audit = json.loads((run / "audit.json").read_text())
    assert code == 1 and audit["failed"] == ["direct"]
    assert audit["checks"]["direct"]["threshold"] == 0.01 and audit["checks"]["relearn"]["threshold"] == 1.0


def test_steering_run_is_audited_with_its_hooks_and_without(tiny_world, tiny_model_dir, tmp_path, cli):
    run = tmp_path / "steer"
    assert cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--method", "steering", "--forget-ratio", "0.34")[0] == 0
    code, out, err = cli("audit", run, "--max-leakage", "0.5")
    assert code == 0, err
    audit = json.loads((run / "audit.json").read_text())
    assert "steering_removed" in audit["checks"] and audit["verdict"] == "pass"
    assert audit["model"] == f"{tiny_model_dir} + {run / 'steering'}"
    # new results replace the ones the audit judged (a re-run writes the run folder again): the stale audit goes with them
    from asru.report.writer import write_run

    write_run(run, json.loads((run / "results.json").read_text()), [])
    assert not (run / "audit.json").exists() and "Audit" not in (run / "report.md").read_text()


@pytest.mark.parametrize(
    "options, fragments",
    [
        (["--threshold", "telepathy=0.1"], ["unknown check 'telepathy'", "relearn"]),
        (["--threshold", "relearn"], ["option --threshold", "CHECK=VALUE"]),
        (["--threshold", "relearn=2"], ["thresholds.relearn"]),
        (["--max-leakage", "-0.1"], ["field 'max_leakage'"]),
    ],
)
def test_bad_thresholds(options, fragments, leaky_run, cli):
    code, _, err = cli("audit", leaky_run, *options)
    assert_one_line_error(code, err, *fragments)


def test_not_a_run_folder(tmp_path, cli):
    code, _, err = cli("audit", tmp_path)
    assert_one_line_error(code, err, str(tmp_path), "results.json: not found (is", "a run folder?")


def test_verdict_rules():
    leakages = {"direct": {"leakage": 0.0, "n": 4}, "relearn": {"leakage": 0.25, "n": 4}, "paraphrase": {"leakage": 0.05, "n": 4}}
    verdict = judge_checks(leakages, AuditConfig())
    assert verdict["verdict"] == "fail" and verdict["failed"] == ["relearn"]
    assert verdict["checks"]["paraphrase"]["passed"]  # at the threshold passes: "leakage <= 5 %"
    assert judge_checks(leakages, AuditConfig(thresholds={"relearn": 0.25}))["verdict"] == "pass"
    assert parse_thresholds(["relearn=0.2", " direct = 0 "]) == {"relearn": 0.2, "direct": 0.0}
    assert check_names(steering=True)[-1] == "steering_removed" and "steering_removed" not in check_names(steering=False)


def test_the_verdict_is_on_what_the_starting_model_knew():
    """1 leak in 20 questions is 5 % raw, but 1 in the 4 the model knew is 25 %: the audit judges the 25 %."""
    leakages = {
        "direct": {"leakage": 0.05, "n": 20, "leakage_known": 0.25, "n_known": 4},
        "paraphrase": {"leakage": 0.0, "n": 20, "leakage_known": None, "n_known": 0},  # nothing known: judged on all
    }
    verdict = judge_checks(leakages, AuditConfig())
    assert verdict["failed"] == ["direct"] and verdict["checks"]["direct"]["judged_leakage"] == 0.25
    assert verdict["checks"]["paraphrase"]["judged_on"] == "all" and verdict["checks"]["paraphrase"]["passed"]


def test_a_baseline_raises_its_checks_threshold_and_is_recorded():
    config = AuditConfig()
    leak = {"relearn": {"leakage": 0.3, "n": 10}, "direct": {"leakage": 0.3, "n": 10}}
    result = judge_checks(leak, config, baselines={"relearn": 0.28})
    assert result["failed"] == ["direct"]  # only relearn is counted above the oracle's 0.28
    assert result["checks"]["relearn"]["threshold"] == pytest.approx(0.33) and result["checks"]["relearn"]["oracle_leakage"] == 0.28
    assert "oracle_leakage" not in result["checks"]["direct"]
    assert judge_checks(leak, config, baselines={"relearn": 0.2})["failed"] == ["relearn", "direct"]
