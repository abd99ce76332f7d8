"""`asru bench --architectures qwen3_vl,llava`: the benchmark once per family, each its own target, side by side.

The inputs are the test fixtures (``prepare_inputs`` patched): the tiny world and an untrained small
model of each family, one method, one setting, one cheap attack -- mechanics, not accuracy.
"""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, run_cli, small_model  # tests/conftest.py

ARGS = ("bench", "--quick", "--methods", "ga", "--settings", "complete", "--subjects", "6", "--attacks", "paraphrase", "--no-oracle-row")


@pytest.fixture(scope="module")
def family_dirs(tiny_world, tiny_model_dir, tmp_path_factory):
    """{family: saved untrained model} for Qwen3-VL and LLaVA; prepare_inputs hands out the asked family's."""
    from asru import bench
    from asru.models import save_vlm

    llava_dir = tmp_path_factory.mktemp("llava_model")
    save_vlm(*small_model(tiny_world, "llava"), llava_dir)
    dirs = {"qwen3_vl": tiny_model_dir, "llava": llava_dir}
    asked = []

    def inputs(config, console=None):
        asked.append(config.architectures)
        return tiny_world.root, dirs[config.architectures[0]], bench.quick_recipe(config.architectures[0])

    patch = pytest.MonkeyPatch()
    patch.setattr(bench, "prepare_inputs", inputs)
    yield dirs, asked
    patch.undo()


def test_each_family_runs_the_benchmark_on_its_own_target_and_the_summary_compares_them(family_dirs, tmp_path):
    dirs, asked = family_dirs
    code, stdout, err = run_cli(*ARGS, "--architectures", "qwen3_vl,llava", "--out", tmp_path)
    assert code == 0, err + stdout
    assert asked == [["qwen3_vl"], ["llava"]]  # one single-family benchmark each, in the order asked
    summary = json.loads((tmp_path / "architectures.json").read_text())
    assert summary["config"]["architectures"] == ["qwen3_vl", "llava"] and set(summary["families"]) == {"qwen3_vl", "llava"}  # the JSON's keys are sorted
    for family, data in summary["families"].items():
        own = json.loads((tmp_path / family / "tradeoff.json").read_text())  # each family's full table
        assert own["config"]["architectures"] == [family] and own["target_model"]["path"] == str(dirs[family])
        assert own["target_model"]["recipe"]["model"]["architecture"] == family
        assert data["target_model"]["path"] == str(dirs[family]) and data["runs_finished"] == data["runs_planned"] == 2
        run = json.loads((tmp_path / family / "runs" / "complete" / "ga" / "seed0" / "results.json").read_text())
        assert run["model"] == str(dirs[family])  # the method started from that family's target
        for row in ("target", "ga"):  # the side-by-side numbers are the family's own
            assert data["settings"]["complete"][row]["score"] == own["settings"]["complete"][row]["metrics"]["score"]
            assert data["settings"]["complete"][row]["forget_leakage"] == own["settings"]["complete"][row]["metrics"]["forget_leakage"]
        assert summary["best"]["complete"][family] == ("ga" if own["settings"]["complete"]["ga"]["metrics"]["score"]["mean"] is not None else None)
    md = (tmp_path / "architectures.md").read_text()
    assert "## qwen3_vl" in md and "## llava" in md and "## Best method by unlearning score" in md
    assert "| complete | target | 1/1 |" in md and "| complete | ga | 1/1 |" in md
    assert "full table: [llava/tradeoff.md](llava/tradeoff.md)" in md  # relative: the folder can move
    assert "per family" in stdout and "4/4 runs finished" in stdout
    # resumable as one: a second call runs nothing
    code, stdout, err = run_cli(*ARGS, "--architectures", "qwen3_vl,llava", "--out", tmp_path)
    assert code == 0, err + stdout
    assert stdout.count("2 runs: 2 finished (skipped), 0 to resume, 0 new") == 2


def test_what_cannot_work_across_families_is_one_line_before_any_run(family_dirs, tmp_path):
    _, asked = family_dirs
    before = len(asked)
    code, _, err = run_cli(*ARGS, "--architectures", "qwen3_vl,llava", "--tune", "--out", tmp_path)
    assert_one_line_error(code, err, "--architectures and --tune")
    (tmp_path / "llava").mkdir()
    (tmp_path / "llava" / "tuned.yaml").write_text("methods: {}\n")  # quick mode's tuned file is per family folder
    code, _, err = run_cli(*ARGS, "--architectures", "qwen3_vl,llava", "--out", tmp_path)
    assert_one_line_error(code, err, str(tmp_path / "llava" / "tuned.yaml"), "--no-tuned")
    code, _, err = run_cli(*ARGS, "--architectures", "qwen3_vl,gemma3", "--out", tmp_path)
    assert_one_line_error(code, err, "architectures.1", "idefics3")  # the field and what it takes
    assert len(asked) == before  # no family started
