import os
import time
from pathlib import Path

from transfertune.isolated import run_isolated, run_isolated_many


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


def _slow_or_fast(x):
    if x == "hang":
        time.sleep(30)
    if x == "abort":
        os.abort()
    return x * 2


def test_many_calls_run_side_by_side_and_answer_in_order():
    """A hanging and a crashing call cost their own status only; the others' values come
    back in the order asked, however they finish."""
    calls = [(3,), ("hang",), ("abort",), ("ab",), (5,)]
    outcomes = run_isolated_many(_slow_or_fast, calls, timeout=1.0, jobs=2)
    assert [o.status for o in outcomes] == ["ok", "timeout", "crash", "ok", "ok"]
    assert [o.value for o in outcomes if o.ok] == [6, "abab", 10]
    assert run_isolated_many(_value, []) == []


def test_children_die_with_their_parent():
    """A killed parent (a tuning run stopped by hand) leaves no child measuring on."""
    import signal
    import subprocess
    import sys

    script = ("import os, subprocess, sys, time\n"
              "from functools import partial\n"
              "from transfertune.isolated import die_with_parent\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],\n"
              "                         preexec_fn=partial(die_with_parent, os.getpid()))\n"
              "print(child.pid, flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert _running(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(child)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan may wait a while for its reaper)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
