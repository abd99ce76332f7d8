"""benchmarks/asru_bars.py: each acceptance bar is read from the run folders and judged against its goal."""

import json
from pathlib import Path

from conftest import benchmark_script  # tests/conftest.py


def _module():
    return benchmark_script("asru_bars")


def _write(out: Path, setting: str, row: str, metrics: dict, seconds: float | None = None) -> None:
    folder = out / "runs" / setting / row / "seed0"
    folder.mkdir(parents=True)
    (folder / "results.json").write_text(json.dumps({"metrics": metrics}))
    if seconds is not None:
        (folder / "bench_time.json").write_text(json.dumps({"attempts": [seconds / 2, seconds / 2]}))


def _forget(leak: float, refusal: float) -> dict:
    part = {"leakage": leak, "refusal_rate": refusal}
    return {key: part for key in ("all", "image", "text", "qa", "image_qa", "text_qa")} | {"judge": {"naturalness": 4.2}}


def test_bars_pass_and_fail_on_the_measured_values(tmp_path):
    bars = _module().bars
    keep = lambda em: {key: {"exact_match": em} for key in ("all", "qa")}  # noqa: E731
    _write(tmp_path, "complete", "target", {"forget": _forget(1.0, 0.0), "retain_other": keep(1.0)})
    _write(tmp_path, "complete", "asru", {"forget": _forget(0.0, 0.95), "retain_other": keep(0.9)}, seconds=400)
    _write(tmp_path, "selective", "target", {"retain_same_subject": keep(0.8)})
    _write(tmp_path, "selective", "asru", {"retain_same_subject": keep(0.76)})
    measured = {(b["bar"], b["forms"]): b for b in bars(tmp_path)}
    assert measured[("complete: forget leakage (image)", "qa")]["pass"] is True
    assert measured[("complete: forget refusal (text)", "all")]["pass"] is True
    retain = measured[("complete: retain other / target", "qa")]
    assert abs(retain["value"] - 0.9) < 1e-9 and retain["pass"] is False  # 90 % of the target's < 95 %
    selective = measured[("selective: same person's other facts / target", "all")]
    assert abs(selective["value"] - 0.95) < 1e-9 and selective["pass"] is True
    assert measured[("complete: naturalness of forget answers", "all")]["value"] == 4.2
    assert measured[("complete: whole ASRU run (train + eval), seconds", "-")]["value"] == 400


def test_missing_runs_are_unmeasured_not_passed(tmp_path):
    assert all(b["value"] is None and b["pass"] is None for b in _module().bars(tmp_path))
