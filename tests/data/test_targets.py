"""Fine-tuning-free targets: the model's own greedy answers become the golds; import -> targets -> unlearn."""

from __future__ import annotations

import json
import sys

import pytest

from asru.data.collate import Encoder
from asru.data.targets import record_targets
from asru.errors import DataError
from asru.eval.generate import generate_answers
from asru.models import load_vlm
from asru.world import load_world
from release_fixtures import write_ppu


def test_targets_are_the_models_own_greedy_answers(tiny_world, tiny_model_dir, tmp_path):
    model, processor = load_vlm(tiny_model_dir)
    summary = record_targets(model, processor, tiny_world, tmp_path / "targets", batch_size=16, max_new_tokens=6, model_name="tiny")
    targets = load_world(tmp_path / "targets", verify_hash=True)
    chosen = [s for s in tiny_world.samples if s.kind in ("fact", "identity") and s.form in ("qa", "cloze")]
    log = {row["id"]: row for row in map(json.loads, (tmp_path / "targets" / "targets.jsonl").read_text().splitlines())}
    assert list(log) == [s.id for s in chosen] and len(log) == summary["answered"] + summary["empty_kept_original"]
    by_id = {s.id: s for s in targets.samples}
    assert all(by_id[s.id].answer == (log[s.id]["generated"] or s.answer) and log[s.id]["original"] == s.answer for s in chosen)
    encoder = Encoder(processor, tiny_world.root)  # the log holds what greedy batched generation says
    some = chosen[::20]
    assert [log[s.id]["generated"] for s in some] == generate_answers(model, encoder, [encoder.encode_sample(s, with_answer=False) for s in some], max_new_tokens=6)
    untouched = [s for s in tiny_world.samples if s.form == "mcq" or s.kind in ("refusal", "utility")]
    assert all(by_id[s.id] == s for s in untouched)
    assert targets.manifest["targets"]["model"] == "tiny" and targets.manifest["seed"] == tiny_world.manifest["seed"]
    with pytest.raises(DataError, match="new folder"):
        record_targets(model, processor, tiny_world, tiny_world.root)


def _cli(monkeypatch, *args) -> int:
    """Run ``asru ARGS`` in-process through the real entry point; returns its exit code."""
    from asru import cli

    monkeypatch.setattr(sys, "argv", ["asru", *map(str, args)])
    try:
        cli.main()
    except SystemExit as exit_:
        return exit_.code or 0
    return 0


def test_import_then_targets_then_unlearn_through_the_cli(tiny_model_dir, tmp_path, monkeypatch, capsys):
    release = write_ppu(tmp_path / "release")
    assert _cli(monkeypatch, "data", "import", "ppu-bench", release, "--out", tmp_path / "ppu", "--cache-dir", tmp_path / "cache") == 0
    assert "--setting personalized --requests" in capsys.readouterr().out
    assert _cli(monkeypatch, "targets", "--model", tiny_model_dir, "--data", tmp_path / "ppu", "--out", tmp_path / "own", "--max-new-tokens", "4") == 0
    assert (tmp_path / "own" / "requests" / "persona.yaml").is_file()  # the adapter's requests travel with the targets
    code = _cli(
        monkeypatch, "unlearn", "--model", tiny_model_dir, "--world", tmp_path / "own", "--out", tmp_path / "run", "--method", "grad_diff",
        "--setting", "personalized", "--requests", tmp_path / "own" / "requests" / "persona.yaml", "--steps", "1",
    )
    assert code == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert [r["subject_id"] for r in results["requests"]] == ["101", "103"]
    assert results["metrics"]["forget"]["all"]["n"] > 0 and "retain_same_subject" in results["metrics"]


def test_cli_import_errors_are_one_line(tmp_path, monkeypatch, capsys):
    assert _cli(monkeypatch, "data", "import", "ppu-bench", tmp_path / "missing_release", "--out", tmp_path / "o") == 2
    assert _cli(monkeypatch, "data", "import", "tofu", tmp_path, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err
    assert "unknown release format 'tofu'" in err and "Traceback" not in err
