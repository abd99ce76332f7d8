"""Benchmark: deletion requests applied one after another, a curve per method (`asru bench --sequential`, same code, same options).

For each training method of configs/bench/methods.yaml and each seed, K Personalized requests of
different people (default K = 5) are applied one after another on the cached 40-person world and
target model; after each step every earlier request's leakage, retain and utility are measured.
Writes benchmarks/results/sequential.json, sequential.md and sequential.png, and one run folder per
step under benchmarks/results/runs/sequential/ (not committed). Resumable: run it again after an
interruption and finished steps are skipped, an interrupted one resumes from its checkpoint.

    .venv/bin/python benchmarks/sequential.py                            # 5 requests, every training method, seeds 0-2
    .venv/bin/python benchmarks/sequential.py --quick                    # CI-sized check (into benchmarks/results/quick/)
    .venv/bin/python benchmarks/sequential.py --methods asru,npo_lr3e-4 --seeds 0 --workers 2
    .venv/bin/python benchmarks/sequential.py --report-only              # tables from the steps finished so far
"""

from __future__ import annotations

import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
STEPS = 5  # the goal: after 5 requests every one still at <= 5 % leakage


def main() -> None:
    from asru.cli import main as asru_main

    args = sys.argv[1:]
    given = {a.split("=", 1)[0] for a in args}
    if not given & {"--help", "--out", "--config"}:  # a --config file may name its own out
        args += ["--out", str(RESULTS / "quick" if "--quick" in args else RESULTS)]
    if "--sequential" not in given:
        args += ["--sequential", str(STEPS)]
    sys.argv = ["asru", "bench", *args]
    asru_main()


if __name__ == "__main__":
    main()
