"""Run a Python function in a forked child so that a crash, hang or abort in native
code (docc's C++ core, generated kernels) becomes a status instead of killing us.

Plain ``os.fork`` rather than multiprocessing: it also works inside daemonic
processes (Dask and pool workers), which multiprocessing refuses to let have children.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import pickle
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Outcome:
    """Result of an isolated call: ``status`` is ok, error, crash or timeout."""

    status: str
    value: Any = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def die_with_parent(parent: int | None = None) -> None:
    """Have Linux end this process (SIGTERM) when its parent exits.

    Measuring runs two levels down (pool worker -> measuring child); without this, killing
    a tuning run leaves an orphaned worker that goes on timing candidates and disturbs
    whatever runs next. `parent`: the pid that must still be the parent (closes the
    window in which it died before the request was made). No-op off Linux.
    """
    if not sys.platform.startswith("linux"):
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def run_isolated(fn: Callable[..., Any], *args: Any, timeout: float = 120.0) -> Outcome:
    """Call ``fn(*args)`` in a forked child; its return value must be picklable."""
    return run_isolated_many(fn, [args], timeout=timeout, jobs=1)[0]


def run_isolated_many(fn: Callable[..., Any], calls: list[tuple[Any, ...]], timeout: float = 120.0,
                      jobs: int | None = None) -> list[Outcome]:
    """``fn(*args)`` for every `args` in `calls`, each in its own forked child, up to
    `jobs` (default: the cores) at a time; outcomes in the order of `calls`.

    One thread forks and reads them all (select over their pipes), so no child is
    forked while another thread of ours holds a lock. `timeout` is per call, from its
    child's start."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    outcomes: list[Outcome | None] = [None] * len(calls)
    running: dict[int, _Child] = {}
    waiting = list(enumerate(calls))
    while waiting or running:
        while waiting and len(running) < jobs:
            index, args = waiting.pop(0)
            child = _fork(fn, args, index, timeout)
            running[child.fd] = child
        now = time.monotonic()
        first = min(child.deadline for child in running.values())
        ready = select.select(list(running), [], [], max(0.0, first - now))[0]
        for fd in ready:
            child = running[fd]
            chunk = os.read(fd, 1 << 20)
            if chunk:
                child.chunks.append(chunk)
                continue
            del running[fd]
            os.close(fd)
            outcomes[child.index] = child.finish()
        for fd, child in list(running.items()):
            if fd not in ready and time.monotonic() >= child.deadline:
                del running[fd]
                os.close(fd)
                os.kill(child.pid, signal.SIGKILL)
                os.waitpid(child.pid, 0)
                outcomes[child.index] = Outcome("timeout", message=f"no result after {timeout:.0f} s")
    return [outcome for outcome in outcomes if outcome is not None]


@dataclass
class _Child:
    """A forked call in flight: its pid, the pipe it answers on, what it said so far."""

    pid: int
    fd: int
    index: int
    deadline: float
    chunks: list[bytes]

    def finish(self) -> Outcome:
        """The outcome once the child closed its pipe."""
        _, status = os.waitpid(self.pid, 0)
        if not self.chunks:
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            return Outcome("crash", message=f"child died with exit code {code}")
        kind, value = pickle.loads(b"".join(self.chunks))
        return Outcome("ok", value=value) if kind == "ok" else Outcome("error", message=value)


def _fork(fn: Callable[..., Any], args: tuple[Any, ...], index: int, timeout: float) -> _Child:
    read_fd, write_fd = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(read_fd)
        die_with_parent(parent)
        faulthandler.disable()  # a crash is reported by the parent as a status, not a dump
        try:
            payload = pickle.dumps(("ok", fn(*args)))
        except BaseException as err:  # noqa: BLE001 - everything becomes a status
            payload = pickle.dumps(("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"))
        with os.fdopen(write_fd, "wb") as out:
            out.write(payload)
        os._exit(0)
    os.close(write_fd)
    return _Child(pid, read_fd, index, time.monotonic() + timeout, [])
