"""benchmarks/demo_time.py: the fresh and the cached demo are compared on their numbers, not their wall times."""

import json
from pathlib import Path

from conftest import benchmark_script  # tests/conftest.py


def _module():
    return benchmark_script("demo_time")


def _demo_json(path: Path, leakage: float, wall: float, pred: str = "I'm not able to share that information.") -> Path:
    values = {"forget_leakage": leakage, "retain_other": 0.68, "wall_seconds": wall}
    examples = [{"caption": "forgotten (text)", "id": "q1", "answers": {"asru": {"pred": pred, "label": "refusal_rigid"}}}]
    path.write_text(json.dumps({"settings": {"complete": {"rows": {"asru": {"folder": str(path.parent), "values": values}}, "examples": examples}}}))
    return path


def test_demo_numbers_ignore_wall_time_and_see_every_metric_and_answer(tmp_path):
    numbers = _module().demo_numbers
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = numbers(_demo_json(tmp_path / "a" / "demo.json", 0.03, wall=91.0))
    assert first == numbers(_demo_json(tmp_path / "b" / "demo.json", 0.03, wall=120.0))  # other wall time and folder
    assert first != numbers(_demo_json(tmp_path / "b" / "demo.json", 0.00, wall=91.0))
    assert first != numbers(_demo_json(tmp_path / "b" / "demo.json", 0.03, wall=91.0, pred="Dunhallow"))
