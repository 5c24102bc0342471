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
    chunks, deadline = [], time.monotonic() + timeout
    with os.fdopen(read_fd, "rb") as pipe:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return Outcome("timeout", message=f"no result after {timeout:.0f} s")
            chunk = os.read(pipe.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    if not chunks:
        code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        return Outcome("crash", message=f"child died with exit code {code}")
    kind, value = pickle.loads(b"".join(chunks))
    return Outcome("ok", value=value) if kind == "ok" else Outcome("error", message=value)
