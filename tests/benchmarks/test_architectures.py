"""benchmarks/architectures.py: one column per family, times as ratios to Qwen3-VL's, unknown families refused."""

import json
import sys

import pytest

from conftest import benchmark_script  # tests/conftest.py


def _record(seconds: float, accuracy: float) -> dict:
    return {
        "target": "t", "fine_tuned_now": True, "parameters": 1, "learning_rate": 5e-4, "steps": 100, "finetune_wall_seconds": seconds,
        "seconds_per_step": seconds / 100, "fine_tune_threads": 1, "final_loss": 0.1, "eval_seconds": 1.0,
        "accuracy": {"text_qa": {"n": 8, "accuracy": accuracy}}, "below": [],
    }


def test_the_table_has_a_column_per_family_and_time_ratios(tmp_path, monkeypatch):
    module = benchmark_script("architectures")
    records = {"qwen3_vl": _record(100.0, 1.0), "llava": _record(130.0, 0.875), "idefics3": _record(160.0, 0.5)}
    monkeypatch.setattr(module, "cached_world", lambda seed, subjects: tmp_path)
    monkeypatch.setattr(module, "measure", lambda family, world_dir, seed, console, epochs: dict(records[family]))
    monkeypatch.setattr(sys, "argv", ["architectures.py", "--out", str(tmp_path)])
    module.main()
    result = json.loads((tmp_path / "architectures.json").read_text())
    assert {f: r["time_vs_qwen3_vl"] for f, r in result["families"].items()} == {"qwen3_vl": 1.0, "llava": 1.3, "idefics3": 1.6}
    table = (tmp_path / "architectures.md").read_text()
    assert "| text_qa | text question, trained wording | 100.0% | 87.5% | 50.0% | ≥ 95% |" in table
    assert "| time vs Qwen3-VL |  | 1.0x | 1.3x | 1.6x | ≤ 1.5x |" in table


def test_an_unknown_family_is_refused(monkeypatch, capsys):
    module = benchmark_script("architectures")
    monkeypatch.setattr(sys, "argv", ["architectures.py", "--families", "qwen3_vl,gemma3"])
    with pytest.raises(SystemExit):
        module.main()
    assert "unknown families gemma3 (known: qwen3_vl, llava, idefics3)" in capsys.readouterr().err
