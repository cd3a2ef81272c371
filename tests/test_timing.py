"""drlim.timing: the fastest of several calls, and the CPU they ran on."""

import time

import pytest

from drlim.timing import timed_call


def test_timed_call_reports_the_quickest_call_and_the_last_value():
    sleeps = iter([0.06, 0.01, 0.04])
    calls = []

    def work():
        seconds = next(sleeps)
        time.sleep(seconds)
        calls.append(seconds)
        return len(calls)

    value, seconds = timed_call(work, repeats=3)
    assert value == 3 and len(calls) == 3
    assert 0.01 <= seconds < 0.04


@pytest.mark.parametrize("repeats", [0, -1, 1.5, True])
def test_timed_call_rejects_bad_repeats(repeats):
    with pytest.raises(ValueError, match=r"^repeats must be (an int )?>= 1, got"):
        timed_call(lambda: None, repeats=repeats)
