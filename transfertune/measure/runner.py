"""Parent side of measuring: start children, read their event streams, and turn a
crash or hang into the status of exactly the variant that caused it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
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
              on_event: Callable[[dict[str, Any]], None] | None = None) -> ChildReport:
    """Run one child on `job`; never raises for anything the child does."""
    proc = subprocess.Popen([sys.executable, "-m", "transfertune.measure.child"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=child_env(target), preexec_fn=partial(die_with_parent, os.getpid()))
    try:
        out, err = proc.communicate(json.dumps(job), timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        timed_out = True
    report = ChildReport()
    in_flight = None
    done = False
    for line in (out or "").splitlines():
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
    if done and proc.returncode == 0:
        return report
    report.failed = in_flight
    report.message = (err or "").strip()[-1500:]
    if timed_out:
        report.failure = "time-out"
        report.message = f"killed after {timeout:.0f} s"
    elif proc.returncode and proc.returncode < 0:
        report.failure = "crash"
        report.message = f"signal {-proc.returncode}" + (f": {report.message}" if report.message else "")
    else:
        report.failure = "crash" if in_flight else "error"
        report.message = f"exit code {proc.returncode}: {report.message}"
    return report


def run_resilient(job: dict[str, Any], target: Target, timeout: float,
                  on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, dict[str, Any]]:
    """Run `job` over all its variants; when a variant kills the child, record its
    failure and carry on with the rest in a fresh child. Nothing else is lost."""
    remaining = dict(job["libraries"])
    results: dict[str, dict[str, Any]] = {}
    while remaining:
        report = run_child({**job, "libraries": remaining}, target, timeout, on_event)
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
