"""Run a Python function in a forked child so that a crash, hang or abort in native
code (docc's C++ core, generated kernels) becomes a status instead of killing us."""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_FORK = mp.get_context("fork")


@dataclass(frozen=True)
class Outcome:
    """Result of an isolated call: ``status`` is ok, error, crash or timeout."""

    status: str
    value: Any = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def run_isolated(fn: Callable[..., Any], *args: Any, timeout: float = 120.0) -> Outcome:
    """Call ``fn(*args)`` in a forked child; its return value must be picklable."""
    receiver, sender = _FORK.Pipe(duplex=False)
    child = _FORK.Process(target=_child, args=(sender, fn, args), daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(timeout):
            child.kill()
            child.join()
            return Outcome("timeout", message=f"no result after {timeout:.0f} s")
        try:
            status, payload = receiver.recv()
        except EOFError:
            child.join()
            return Outcome("crash", message=f"child died with exit code {child.exitcode}")
    finally:
        receiver.close()
    child.join()
    if status == "ok":
        return Outcome("ok", value=payload)
    return Outcome("error", message=payload)


def _child(sender: Any, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        result = ("ok", fn(*args))
    except BaseException as err:  # noqa: BLE001 - everything becomes a status
        result = ("error", f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}")
    sender.send(result)
    sender.close()
