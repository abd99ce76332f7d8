"""In-process CLI runs through the real entry point, for tests that patch the process or need speed."""

from __future__ import annotations

import signal
import sys

import pytest
import torch


@pytest.fixture
def cli(capsys):
    """``cli(*args) -> (exit code, stdout, stderr)`` of ``asru ARGS`` run by ``asru.cli.main``."""
    from asru.cli import main

    def run(*args) -> tuple[int, str, str]:
        argv, sigterm, threads = sys.argv, signal.getsignal(signal.SIGTERM), torch.get_num_threads()
        sys.argv = ["asru", *map(str, args)]
        torch.set_num_threads(1)  # 2 shared cores: one thread avoids OpenMP spin-waiting
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
        finally:
            sys.argv = argv
            signal.signal(signal.SIGTERM, sigterm)  # main() installs its own SIGTERM handler
            torch.set_num_threads(threads)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def assert_one_line_error(code: int, err: str, *fragments: str) -> None:
    """Exit code 2, one line on stderr naming what is wrong, no traceback."""
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
