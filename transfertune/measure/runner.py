"""Parent side of measuring: start children, read their event streams, and turn a
crash or hang into the status of exactly the variant that caused it."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from transfertune.ir.program import Program
from transfertune.ir.target import Target, backend_of
from transfertune.isolated import die_with_parent


@dataclass
class ChildReport:
    """Results by variant, and the variant that killed the child (if one did)."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: str | None = None
    failure: str = ""
    message: str = ""


def child_env(target: Target) -> dict[str, str]:
    """Environment of a measuring child: this process's, plus what the target's backend
    sets (thread counts, device selection)."""
    return {**os.environ, **backend_of(target).environment(target)}


def run_child(job: dict[str, Any], target: Target, timeout: float,
              on_event: Callable[[dict[str, Any]], None] | None = None, call_timeout: float | None = None
              ) -> ChildReport:
    """Run one child on `job`; never raises for anything the child does.

    The child is killed when it runs past `timeout` in all, or when one call (the time
    from one event to the next) runs past `call_timeout`: a variant that hangs, or takes
    minutes where its peers take milliseconds, then costs `call_timeout` and its status
    instead of the whole run's budget. Events are read as they come (`on_event` sees
    them live)."""
    proc = subprocess.Popen([sys.executable, "-m", "transfertune.measure.child"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=child_env(target), preexec_fn=partial(die_with_parent, os.getpid()))
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    drain.start()
    try:
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
    except BrokenPipeError:  # the child died before reading its job: its exit code says why
        pass
    report = ChildReport()
    in_flight, done, killed = None, False, ""
    for line in _lines(proc, timeout, call_timeout):
        if isinstance(line, _Stopped):
            proc.kill()
            killed = line.why
            break
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if on_event:
            on_event(event)
        if "start" in event:
            in_flight = event["start"]
        elif "status" in event:
            report.results[event["variant"]] = event
            in_flight = None
        elif event.get("done"):
            done = True
    proc.wait()
    drain.join(timeout=10)
    err = b"".join(errors).decode(errors="replace")
    if done and proc.returncode == 0:
        return report
    report.failed = in_flight
    report.message = err.strip()[-1500:]
    if killed:
        report.failure = "time-out"
        report.message = killed
    elif proc.returncode and proc.returncode < 0:
        report.failure = "crash"
        report.message = f"signal {-proc.returncode}" + (f": {report.message}" if report.message else "")
    else:
        report.failure = "crash" if in_flight else "error"
        report.message = f"exit code {proc.returncode}: {report.message}"
    return report


@dataclass(frozen=True)
class _Stopped:
    """Why `_lines` stopped reading before the child closed its output."""

    why: str


def _lines(proc: subprocess.Popen, timeout: float, quiet: float | None) -> Iterator[str | _Stopped]:
    """The child's stdout line by line until it closes; a `_Stopped` (and the end) after
    `timeout` seconds in all, or when `quiet` seconds pass without a complete line."""
    fd = proc.stdout.fileno()
    pending = b""
    last = time.monotonic()
    deadline = last + timeout
    while True:
        quiet_end = last + quiet if quiet is not None else deadline
        if not select.select([fd], [], [], max(0.0, min(deadline, quiet_end) - time.monotonic()))[0]:
            yield _Stopped(f"one call ran over {quiet:.0f} s" if quiet_end < deadline else f"killed after {timeout:.0f} s")
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            if pending:
                yield pending.decode(errors="replace")
            return
        *complete, pending = (pending + chunk).split(b"\n")
        if complete:
            last = time.monotonic()
        for line in complete:
            yield line.decode(errors="replace")


def run_resilient(job: dict[str, Any], target: Target, timeout: float,
                  on_event: Callable[[dict[str, Any]], None] | None = None,
                  call_timeout: float | None = None) -> dict[str, dict[str, Any]]:
    """Run `job` over all its variants; when a variant kills the child (or one of its
    calls runs past `call_timeout`), record its failure and carry on with the rest in a
    fresh child. Nothing else is lost."""
    remaining = dict(job["libraries"])
    results: dict[str, dict[str, Any]] = {}
    while remaining:
        report = run_child({**job, "libraries": remaining}, target, timeout, on_event, call_timeout)
        results.update(report.results)
        for variant in report.results:
            remaining.pop(variant, None)
        if report.failed is None:
            if report.failure:  # the child failed outside any variant: all remaining fail alike
                for variant in remaining:
                    results[variant] = {"variant": variant, "status": "error", "message": report.message}
            break
        results[report.failed] = {"variant": report.failed, "status": report.failure,
                                  "message": report.message}
        remaining.pop(report.failed, None)
        if job["mode"] == "benchmark":  # a crash mid-round leaves partial samples: redo the rest
            for variant in remaining:
                results.pop(variant, None)
    return results


def base_job(program: Program, mode: str, libraries: dict[str, str], entry: str) -> dict[str, Any]:
    """The JSON job a child reads (see transfertune.measure.child), less the fields that
    say where inputs come from (a `Workload`'s)."""
    return {"mode": mode, "libraries": libraries, "entry": entry, "arguments": list(program.arguments),
            "symbols": {k: list(v) for k, v in program.symbols.items()}}
