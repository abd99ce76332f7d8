"""asru.ui: the time-left estimate that the bench's log lines carry."""

from asru.ui import time_left


def test_time_left_is_the_pace_so_far_times_the_runs_left():
    assert time_left(600, 2, 10) == "about 40 min left"  # 5 min a run, 8 left
    assert time_left(3600, 1, 4) == "about 3 h 00 min left"
    assert time_left(3900, 12, 20) == "about 43 min left"  # 325 s a run x 8
    assert time_left(10, 5, 6) == "under a minute left"
    assert time_left(100, 0, 5) == "" and time_left(100, 5, 5) == ""  # nothing to go on / nothing left
