"""benchmarks/demo_time.py: the fresh and the cached demo are compared on their numbers, not their wall times."""

from conftest import benchmark_script  # tests/conftest.py


def _module():
    return benchmark_script("demo_time")


def _demo_json(folder: str, leakage: float, wall: float, pred: str = "I'm not able to share that information.") -> dict:
    """A demo.json's content, as asru demo writes it."""
    values = {"forget_leakage": leakage, "retain_other": 0.68, "wall_seconds": wall}
    examples = [{"caption": "forgotten (text)", "id": "q1", "answers": {"asru": {"pred": pred, "label": "refusal_rigid"}}}]
    return {"settings": {"complete": {"rows": {"asru": {"folder": folder, "values": values}}, "examples": examples}}}


def test_demo_numbers_ignore_wall_time_and_see_every_metric_and_answer():
    numbers = _module().demo_numbers
    first = numbers(_demo_json("a", 0.03, wall=91.0))
    assert first == numbers(_demo_json("b", 0.03, wall=120.0))  # other wall time and folder
    assert first != numbers(_demo_json("b", 0.00, wall=91.0))
    assert first != numbers(_demo_json("b", 0.03, wall=91.0, pred="Dunhallow"))
