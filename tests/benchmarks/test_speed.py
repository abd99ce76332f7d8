"""benchmarks/speed.py --quick: every section is there, with positive numbers, and the Markdown is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_speed_quick_writes_every_section(tmp_path):
    # -P: the script's own folder is not put first on sys.path (a benchmarks/*.py must not shadow a package)
    completed = subprocess.run(
        [sys.executable, "-P", str(ROOT / "benchmarks" / "speed.py"), "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result = json.loads((tmp_path / "speed.json").read_text())
    assert result["quick"] is True
    assert result["versions"]["torch"] and result["versions"]["transformers"] and result["versions"]["trl"]
    assert result["machine"]["cpus"] >= 1 and result["machine"]["platform"]

    grpo = result["grpo"]
    assert grpo["same_prompt_tokens"] is True
    steps = grpo["settings"]["steps"]
    for name in ("ours", "trl"):
        assert len(grpo[name]["rewards"]) == steps
        assert all(0 <= r <= 1 for r in grpo[name]["rewards"])
        assert grpo[name]["steps_per_second"] > 0 and grpo[name]["steps_per_cpu_second"] > 0
        assert len(grpo[name]["step_wall_seconds"]) == steps - 1
    assert grpo["speedup_steps_per_second"] > 0 and grpo["speedup_cpu"] > 0
    phases = result["grpo_phases"]["phases"]
    assert set(phases) == {"sampling (generate)", "reference log-probs", "policy log-probs + backward"}
    assert all(p["plain"] > 0 and p["shared"] > 0 and p["speedup"] > 0 for p in phases.values())

    evaluation = result["eval"]
    assert evaluation["batched_answers_per_second"] > 0 and evaluation["loop_answers_per_second"] > 0 and evaluation["speedup"] > 0
    assert 0 <= evaluation["agreement"] <= 1 and evaluation["questions"] > 0

    steering = result["steering"]
    assert steering["plain_seconds"] > 0 and steering["steered_seconds"] > 0 and steering["overhead_ratio"] > 0

    memory = result["memory"]
    assert memory["full"]["trainable_parameters"] > memory["lora"]["trainable_parameters"] > 0
    for mode in ("full", "lora"):
        increase = memory[mode].get("cuda_step_peak_increase_mib", memory[mode]["rss_step_increase_mib"])
        assert increase > 0
    assert memory["full_over_lora"] > 0

    text = (tmp_path / "speed.md").read_text()
    for heading in ("GRPO: ours against TRL", "What made the difference", "Evaluation: batched", "Steering overhead", "Memory: LoRA"):
        assert heading in text
