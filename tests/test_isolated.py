import os
import time

from transfertune.isolated import run_isolated


def _value(x):
    return {"double": 2 * x}


def _abort():
    os.abort()


def _raise():
    raise KeyError("nope")


def test_outcomes():
    assert run_isolated(_value, 21).value == {"double": 42}
    crashed = run_isolated(_abort)
    assert crashed.status == "crash" and "-6" in crashed.message
    error = run_isolated(_raise)
    assert error.status == "error" and "KeyError" in error.message
    begin = time.monotonic()
    assert run_isolated(time.sleep, 30, timeout=0.5).status == "timeout"
    assert time.monotonic() - begin < 5
