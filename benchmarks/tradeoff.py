"""Benchmark: every method × setting × seed side by side (the `asru bench` command, same code, same options).

Writes benchmarks/results/tradeoff.json, tradeoff.md and tradeoff_*.png, and one run folder per
(setting, method, seed) under benchmarks/results/runs/ (not committed). Resumable: run it again
after an interruption and finished runs are skipped, an interrupted one resumes from its checkpoint.

    .venv/bin/python benchmarks/tradeoff.py --tune              # the grids on the validation seeds -> configs/bench/tuned.yaml
    .venv/bin/python benchmarks/tradeoff.py                     # the full benchmark on the test seeds (hours on 2 CPU cores)
    .venv/bin/python benchmarks/tradeoff.py --quick             # CI-sized check (into benchmarks/results/quick/)
    .venv/bin/python benchmarks/tradeoff.py --methods asru,npo --settings selective --seeds 0
    .venv/bin/python benchmarks/tradeoff.py --report-only       # tables from the runs finished so far
"""

from __future__ import annotations

import sys
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    from asru.cli import main as asru_main

    args = sys.argv[1:]
    given = {a.split("=", 1)[0] for a in args}
    if not given & {"--help", "--out", "--config"}:  # a --config file may name its own out
        args += ["--out", str(RESULTS / "quick" if "--quick" in args else RESULTS)]
    sys.argv = ["asru", "bench", *args]
    asru_main()


if __name__ == "__main__":
    main()
