"""asru.errors: a stop in a pool worker travels back as data and is raised again in the parent."""

import pickle
import signal

import pytest

from asru.errors import Interrupted, WorkerOutcome, call_in_worker


def _stopped(step: int) -> None:
    raise Interrupted(f"interrupted by SIGTERM after step {step}", signal.SIGTERM)


def _finished(sink: list) -> None:
    sink.append("ran")


def test_a_stop_in_the_worker_comes_back_pickled_and_is_raised_again():
    outcome = call_in_worker(_stopped, 7)
    back = pickle.loads(pickle.dumps(outcome))  # what a process pool sends to the parent
    assert back.interrupted and back.signum == signal.SIGTERM and back.wall_seconds >= 0
    with pytest.raises(Interrupted) as stop:
        back.raise_if_interrupted("oracle s000: ")
    assert str(stop.value) == "oracle s000: interrupted by SIGTERM after step 7" and stop.value.signum == signal.SIGTERM


def test_a_finished_call_raises_nothing_and_an_error_is_not_swallowed():
    sink: list = []
    outcome = call_in_worker(_finished, sink)
    assert sink == ["ran"] and outcome == WorkerOutcome(False, None, None, outcome.wall_seconds, outcome.cpu_seconds)
    outcome.raise_if_interrupted()  # nothing to raise
    with pytest.raises(ZeroDivisionError):  # only a stop becomes data: a bug still surfaces as itself
        call_in_worker(lambda: 1 / 0)


def test_inside_sigterm_unwinds_a_sigterm_raises_interrupted_and_the_old_handler_comes_back():
    """Python's default SIGTERM ends the process without unwinding (no finally, no stop_pool); inside, it unwinds."""
    import os

    from asru.errors import sigterm_unwinds

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Interrupted, match="terminated by SIGTERM") as stop:
        with sigterm_unwinds():
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("SIGTERM did not unwind")  # the handler runs as soon as os.kill returns
    assert stop.value.signum == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before
