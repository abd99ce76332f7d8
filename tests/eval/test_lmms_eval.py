"""The lmms-eval hook: its command, its reading of lmms-eval's results file, its wiring into eval/unlearn.

lmms-eval itself is not a test dependency: it pins a CUDA torchvision build whose operators do not
load with the CPU torch wheel (so its Qwen3-VL adapter cannot run here). The adapter is tested on
``data/lmms_eval_results.json``, a results file written by lmms-eval 0.7.3 itself
(``python -m lmms_eval --model dummy --tasks asru_fake --include_path TASKS --output_path OUT``,
the fake task of :func:`write_fake_task`), and the subprocess wiring through a stand-in
``lmms_eval`` package that writes that file where lmms-eval does. With lmms-eval installed, the
last test runs the real one (its ``dummy`` model) on the fake task.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import asru.eval.lmms as lmms
from asru.errors import AsruError
from asru.eval.lmms import LmmsEvalConfig, lmms_eval_command, lmms_eval_scores
from conftest import assert_one_line_error  # tests/conftest.py

RECORDED = Path(__file__).parent / "data" / "lmms_eval_results.json"

STAND_IN = '''
"""A stand-in for `python -m lmms_eval`: records its arguments, writes the recorded results file."""
import argparse, json, os, sys
from pathlib import Path

parser = argparse.ArgumentParser()
for option in ("--model", "--model_args", "--tasks", "--batch_size", "--output_path", "--limit", "--device", "--include_path"):
    parser.add_argument(option)
args = parser.parse_args()
Path(os.environ["STAND_IN_ARGV"]).write_text(json.dumps(sys.argv[1:]))
if "missing_task" in args.tasks:
    print("ERROR | lmms_eval.__main__:cli_evaluate - Tasks not found: missing_task", file=sys.stderr)
    sys.exit(1)
recorded = json.loads(Path(os.environ["STAND_IN_RECORDED"]).read_text())
recorded["results"] = {task: recorded["results"]["asru_fake"] for task in args.tasks.split(",")}
folder = Path(args.output_path) / args.model
folder.mkdir(parents=True)
(folder / "20261202_211703_results.json").write_text(json.dumps(recorded))
'''


@pytest.fixture
def stand_in(tmp_path, monkeypatch):
    """A fake lmms_eval package first on the path of this process and of its subprocesses; returns the argv file."""
    package = tmp_path / "stand_in" / "lmms_eval"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(STAND_IN)
    monkeypatch.syspath_prepend(str(package.parent))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(package.parent), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("STAND_IN_ARGV", str(tmp_path / "argv.json"))
    monkeypatch.setenv("STAND_IN_RECORDED", str(RECORDED))
    return tmp_path / "argv.json"


def small_eval_config(tmp_path) -> Path:
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"splits": ["forget"], "max_per_split": 2, "lmms_eval": {"limit": 5}}))
    return config


def test_the_recorded_results_file_becomes_our_scores():
    scores = lmms_eval_scores(json.loads(RECORDED.read_text()))
    assert scores["tasks"] == {"asru_fake": {"exact_match": 0.5, "exact_match_stderr": pytest.approx(0.2887, abs=1e-4), "exact_match_stderr_clt": pytest.approx(0.2887, abs=1e-4)}}
    assert scores["n"] == {"asru_fake": 4} and scores["higher_is_better"] == {"asru_fake": {"exact_match": True}}
    assert scores["model"] == "dummy" and scores["lmms_eval_version"]


def test_a_filter_other_than_none_keeps_its_name_and_non_numbers_are_dropped():
    raw = {"results": {"mmmu_val": {"alias": "mmmu_val", "mmmu_acc,none": 0.41, "acc,strict-match": 0.3, "acc_stderr,none": "N/A"}}}
    assert lmms_eval_scores(raw)["tasks"] == {"mmmu_val": {"mmmu_acc": 0.41, "acc,strict-match": 0.3}}
    with pytest.raises(AsruError, match="no 'results' mapping"):
        lmms_eval_scores({"error": "x"})


def test_the_command_is_an_argument_list(tmp_path):
    config = LmmsEvalConfig(tasks=["mme", "mmmu_val"], model_args="attn_implementation=sdpa", limit=50, device="cuda:0")
    assert lmms_eval_command("runs/a b/model", config, tmp_path) == [
        sys.executable, "-m", "lmms_eval", "--model", "qwen3_vl", "--model_args", "pretrained=runs/a b/model,attn_implementation=sdpa",
        "--tasks", "mme,mmmu_val", "--batch_size", "1", "--output_path", str(tmp_path), "--limit", "50", "--device", "cuda:0",
    ]


def test_asru_eval_stores_the_scores_next_to_ours(cli, stand_in, tiny_world, tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--config", small_eval_config(tmp_path), "--lmms-eval", "mme,pope")
    assert code == 0, err
    results = json.loads((run / "results.json").read_text())
    assert set(results["lmms_eval"]["tasks"]) == {"mme", "pope"} and results["lmms_eval"]["tasks"]["mme"]["exact_match"] == 0.5
    assert results["lmms_eval"]["limit"] == 5 and results["metrics"]["forget"]["all"]["n"] == 2  # ours are still there
    argv = json.loads(stand_in.read_text())
    assert argv[argv.index("--model_args") + 1] == f"pretrained={tiny_model_dir}" and argv[argv.index("--limit") + 1] == "5"


def test_asru_unlearn_hands_lmms_eval_the_saved_model(cli, stand_in, tiny_world, tiny_model_dir, tmp_path):
    run = tmp_path / "run"
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", run, "--method", "ga", "--steps", "1", "--forget-ratio", "0.34", "--lmms-eval", "mme")
    assert code == 0, err
    argv = json.loads(stand_in.read_text())
    assert argv[argv.index("--model_args") + 1] == f"pretrained={run / 'model'}"
    assert json.loads((run / "results.json").read_text())["lmms_eval"]["tasks"]["mme"]["exact_match"] == 0.5


def test_a_failed_lmms_eval_run_is_one_line_with_its_error(cli, stand_in, tiny_world, tiny_model_dir, tmp_path):
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", small_eval_config(tmp_path), "--lmms-eval", "missing_task")
    assert_one_line_error(code, err, "lmms-eval failed (exit 1)", "Tasks not found: missing_task")
    assert not (tmp_path / "run" / "results.json").exists()


def test_without_lmms_eval_the_option_is_one_line_before_any_work(cli, tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(lmms, "lmms_eval_installed", lambda: False)
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--lmms-eval", "mme")
    assert_one_line_error(code, err, "--lmms-eval", "pip install lmms-eval")
    assert not (tmp_path / "run").exists()


def test_a_steering_run_has_no_model_for_lmms_eval(cli, stand_in, tiny_world, tiny_model_dir, tmp_path):
    code, _, err = cli("unlearn", "--model", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--method", "steering", "--lmms-eval", "mme")
    assert_one_line_error(code, err, "--lmms-eval", "steering")
    assert not stand_in.exists()


@pytest.mark.parametrize("tasks", ["mme,--output_path=/etc", "mme pope", "mme;rm"])
def test_task_names_that_are_not_names_are_refused(cli, tiny_world, tiny_model_dir, tmp_path, tasks):
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--lmms-eval", tasks)
    assert_one_line_error(code, err, "lmms_eval.tasks", "not an lmms-eval task name")


def write_fake_task(folder: Path) -> Path:
    """A 4-question lmms-eval task on a local JSON file (the one the recorded results come from)."""
    folder.mkdir(parents=True)
    rows = [{"question": "Letter?", "answer": "A"}, {"question": "Other letter?", "answer": "B"}, {"question": "First letter?", "answer": "A"}, {"question": "Last letter?", "answer": "Z"}]
    (folder / "data.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "asru_fake.yaml").write_text(textwrap.dedent(f"""\
        task: asru_fake
        dataset_path: json
        dataset_kwargs:
          data_files:
            test: {folder / 'data.jsonl'}
        test_split: test
        output_type: generate_until
        doc_to_visual: !function utils.doc_to_visual
        doc_to_text: !function utils.doc_to_text
        doc_to_target: answer
        generation_kwargs:
          max_new_tokens: 8
          temperature: 0
          do_sample: false
        process_results: !function utils.process_results
        metric_list:
          - metric: exact_match
            aggregation: mean
            higher_is_better: true
        metadata:
          version: 0.0
        """))
    (folder / "utils.py").write_text(textwrap.dedent("""\
        def doc_to_visual(doc):
            return []


        def doc_to_text(doc, lmms_eval_specific_kwargs=None):
            return doc["question"]


        def process_results(doc, results):
            return {"exact_match": float(results[0].strip() == doc["answer"])}
        """))
    return folder


@pytest.mark.skipif(not lmms.lmms_eval_installed(), reason="lmms-eval is not installed (an optional extra)")
def test_the_real_lmms_eval_runs_a_fake_task(cli, tiny_world, tiny_model_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    config = tmp_path / "eval.yaml"
    tasks = write_fake_task(tmp_path / "tasks")
    config.write_text(yaml.safe_dump({"splits": ["forget"], "max_per_split": 2, "lmms_eval": {"model": "dummy", "include_path": str(tasks)}}))
    code, _, err = cli("eval", tiny_model_dir, "--world", tiny_world.root, "--out", tmp_path / "run", "--config", config, "--lmms-eval", "asru_fake")
    assert code == 0, err
    scores = json.loads((tmp_path / "run" / "results.json").read_text())["lmms_eval"]
    assert scores["tasks"]["asru_fake"]["exact_match"] == 0.5 and scores["n"] == {"asru_fake": 4}  # the dummy model answers "A"
