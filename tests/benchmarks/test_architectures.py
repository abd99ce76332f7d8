"""benchmarks/architectures.py: one column per family, times as ratios to Qwen3-VL's, the unlearning rows per family, unknown families refused."""

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
    monkeypatch.setattr(module, "measure", lambda family, world_dir, console, epochs: dict(records[family]))
    asked = []
    monkeypatch.setattr(module, "run_architectures", lambda config, console: asked.append(config) or _unlearning(list(records), tmp_path))
    monkeypatch.setattr(sys, "argv", ["architectures.py", "--out", str(tmp_path)])
    module.main()
    (config,) = asked  # the unlearning part: the strongest methods, every family, test seeds 0-2, at their methods-file configs
    assert config.architectures == list(records) and config.methods == ["asru", "grad_diff_lr3e-4", "npo_lr3e-4", "idk"]
    assert config.seeds == [0, 1, 2] and config.subjects == 8 and not config.use_tuned and not config.oracle_row
    assert config.resolved_out() == tmp_path / "architectures"
    result = json.loads((tmp_path / "architectures.json").read_text())
    assert {f: r["time_vs_qwen3_vl"] for f, r in result["families"].items()} == {"qwen3_vl": 1.0, "llava": 1.3, "idefics3": 1.6}
    table = (tmp_path / "architectures.md").read_text()
    assert "| text_qa | text question, trained wording | 100.0% | 87.5% | 50.0% | ≥ 95% |" in table
    assert "| time vs Qwen3-VL |  | 1.0x | 1.3x | 1.6x | ≤ 1.5x |" in table
    # the unlearning rows of each family, in the JSON and under the target table
    assert result["unlearning"]["llava"]["complete"]["asru"]["score"]["mean"] == 0.5 and result["unlearning_best"] == {"complete": {f: "asru" for f in records}}
    assert "## Unlearning on each family" in table and "No oracle row" in table and "## llava" in table
    assert "| complete | asru | 1/1 | 0.50 |" in table
    assert "full table: [out/llava/tradeoff.md](out/llava/tradeoff.md)" in table  # relative to benchmarks/results


def _unlearning(families: list[str], out) -> dict:
    """What run_architectures returns, for one setting and method per family."""
    cell = {"seeds": [0], "score": {"mean": 0.5, "ci95": None, "n": 1}}
    return {
        "date": "d", "seeds": [0], "config": {"quick": False, "out": str(out / "out")}, "world": {"subjects": 8, "seed": 0},
        "best": {"complete": {f: "asru" for f in families}},
        "families": {f: {"out": str(out / "out" / f), "target_model": {"path": f"t/{f}", "finetune": {}}, "settings": {"complete": {"asru": cell}}} for f in families},
    }


def test_an_unknown_family_is_refused(monkeypatch, capsys):
    module = benchmark_script("architectures")
    monkeypatch.setattr(sys, "argv", ["architectures.py", "--families", "qwen3_vl,gemma3"])
    with pytest.raises(SystemExit):
        module.main()
    assert "unknown families gemma3 (known: qwen3_vl, llava, idefics3)" in capsys.readouterr().err
