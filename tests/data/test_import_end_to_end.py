"""``asru data import`` then ``asru unlearn`` on a tiny model: every setting a release defines, through the CLI."""

from __future__ import annotations

import json
import re

import pytest

from conftest import assert_one_line_error, run_cli  # tests/conftest.py
from release_fixtures import PPU_COMPLETE, PPU_PERSONA, PPU_SELECTIVE, write_mllmu, write_ppu


def _imported(tmp_path, *args) -> dict[str, tuple[str, str]]:
    """Run the import; the printed ``--setting X --requests Y`` of each request set, by name."""
    code, out, err = run_cli("data", "import", *args, "--cache-dir", tmp_path / "cache")
    assert code == 0, err
    printed = re.findall(r"(\w+): --setting (\w+) --requests (\S+) \(\d+ subjects\)", out.replace("\n", ""))
    return {name: (setting, requests) for name, setting, requests in printed}


def _unlearn(tmp_path, model, world, name, setting, requests, method) -> dict:
    run = tmp_path / f"run_{name}"
    code, _, err = run_cli("unlearn", "--model", model, "--world", world, "--out", run, "--method", method, "--setting", setting, "--requests", requests, "--steps", "1")
    assert code == 0, err
    return json.loads((run / "results.json").read_text())


@pytest.fixture(scope="module")
def ppu_world(tmp_path_factory):
    """The PPU-Bench fixture release imported through the CLI, split files given with --splits (the code repository's data/split)."""
    tmp_path = tmp_path_factory.mktemp("ppu")
    release = write_ppu(tmp_path / "release")
    printed = _imported(tmp_path, "ppu-bench", release, "--out", tmp_path / "world", "--splits", release / "data" / "split", "--family", "qwen3")
    assert set(printed) == {"complete5", "complete10", "complete15", "complete30", "selective", "persona"}
    return tmp_path / "world", printed


# Selective names every person (as the real selective_split.json does), so it has no other people to
# retain: it runs with gradient ascent, which trains on the forget set alone.
@pytest.mark.parametrize(
    "name, method, forgotten",
    [
        ("complete5", "grad_diff", {sid: "all" for sid in PPU_COMPLETE["forget5"]}),
        ("selective", "ga", PPU_SELECTIVE),
        ("persona", "grad_diff", PPU_PERSONA["delete"]),
    ],
)
def test_ppu_bench_import_then_unlearn_in_each_setting(ppu_world, tiny_model_dir, tmp_path, name, method, forgotten):
    world, printed = ppu_world
    results = _unlearn(tmp_path, tiny_model_dir, world, name, *printed[name], method)
    requested = {r["subject_id"]: r["fact_ids"] for r in results["requests"]}
    assert set(requested) == set(forgotten)
    assert all(facts == "all" or requested[sid] == facts for sid, facts in forgotten.items())
    assert results["metrics"]["forget"]["all"]["n"] > 0


def test_mllmu_bench_import_then_unlearn(tiny_model_dir, tmp_path):
    printed = _imported(tmp_path, "mllmu-bench", write_mllmu(tmp_path / "release"), "--out", tmp_path / "mllmu")
    assert printed["forget_5"] == ("complete", str(tmp_path / "mllmu" / "requests" / "forget_5.yaml"))
    results = _unlearn(tmp_path, tiny_model_dir, tmp_path / "mllmu", "forget_5", *printed["forget_5"], "grad_diff")
    assert [r["subject_id"] for r in results["requests"]] == ["p01"]
    assert results["metrics"]["forget"]["all"]["n"] > 0 and results["metrics"]["retain_other"]["all"]["n"] > 0


def test_import_errors_are_one_line(tmp_path):
    release = write_ppu(tmp_path / "release")
    (release / "data" / "split" / "selective_split.json").write_text('[{"subject_id": "101", "id": "Ada_Quill_49"}]')
    code, _, err = run_cli("data", "import", "ppu-bench", release, "--out", tmp_path / "o", "--cache-dir", tmp_path / "cache")
    assert_one_line_error(code, err, "selective_split.json: entry 0: id 'Ada_Quill_49': no record has this sample_id")
    code, _, err = run_cli("data", "import", "mllmu-bench", release, "--out", tmp_path / "o", "--splits", release / "data" / "split")
    assert_one_line_error(code, err, "--splits is for ppu-bench")
