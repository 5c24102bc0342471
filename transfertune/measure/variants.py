"""Measure variants of one kernel: generate, compile, verify, then time the correct ones.

This is the only path by which a number enters transfertune, so it carries the
guarantees: every variant is built by the shared code generator, checked against the
NumPy reference before it is timed, timed interleaved with its peers in one child, and
every failure is a status on its own `Measurement`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transfertune.ir import codegen
from transfertune.ir.kernel import Kernel
from transfertune.ir.program import Program, build_program
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.target import Target
from transfertune.measure.measurement import Measurement
from transfertune.measure.runner import base_job, run_resilient


@dataclass(frozen=True)
class Variant:
    """A named way to build a kernel: a peer (baseline, polly, docc) or a recipe."""

    name: str
    recipe: Recipe | ProgramRecipe | None = None

    @property
    def kind(self) -> str:
        return "recipe" if self.recipe is not None else self.name


@dataclass(frozen=True)
class Settings:
    """How carefully to measure."""

    repetitions: int = 5
    check_size: str = "SMALL"
    tolerance: float = 1e-6
    timeout: float = 300.0
    """Seconds one run of one variant may take before it counts as hung."""
    early_stop: float | None = None
    """Skip the repetitions of a variant whose warm-up is this many times slower than
    the fastest warm-up in the same run (tuning only: peers are always fully timed)."""


@dataclass(frozen=True)
class Workload:
    """A program and where a child gets its inputs and correct outputs (job fields for
    verification and for timing; see `transfertune.measure.child`)."""

    program: Program
    check: dict[str, Any]
    bench: dict[str, Any]
    reference_build: bool = False
    """Verify against the untouched build's outputs (user programs have no NumPy reference)."""
    tolerance: float = 0.0
    """The least tolerance the program's element type allows (float32 rounds ~1e-7 per
    operation, so reordered float32 sums differ by far more than float64 ones)."""


def suite_workload(kernel: Kernel, size: str, check_size: str) -> Workload:
    return Workload(build_program(kernel), {"kernel": kernel.name, "params": kernel.params(check_size)},
                    {"kernel": kernel.name, "params": kernel.params(size)})


def measure_variants(kernel: Kernel | Workload, target: Target, size: str, variants: list[Variant],
                     settings: Settings = Settings(), benchmark: bool = True,
                     on_event: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Measurement]:
    """Measure `variants` of a PolyBench `kernel` at dataset `size` (or of a prepared
    `Workload`) on `target`, by name.

    With ``benchmark=False`` only verification runs (for a kernel: at `size`): the 'ok'
    measurements then carry no samples.
    """
    if isinstance(kernel, Workload):
        workload = kernel
    else:
        workload = suite_workload(kernel, size, size if not benchmark else settings.check_size)
    program = workload.program
    phases: dict[str, dict[str, float]] = {v.name: {} for v in variants}
    failed: dict[str, Measurement] = {}
    sources: dict[str, codegen.Source] = {}
    steps: dict[str, str] = {}
    for variant in variants:
        begin = time.perf_counter()
        try:
            sources[variant.name] = codegen.generate(program, target, variant.kind, variant.recipe)
        except RuntimeError as err:
            failed[variant.name] = Measurement(variant.name, "error", message=str(err))
        phases[variant.name]["generate"] = time.perf_counter() - begin
        if variant.name in sources:
            steps[variant.name] = _describe_steps(sources[variant.name])
    names = list(sources)
    builds = codegen.build_many([(sources[n].code, codegen.compile_flags(target, sources[n].variant))
                                 for n in names])
    libraries = {}
    for name, result in zip(names, builds, strict=True):
        phases[name]["compile"] = result.seconds
        if result.status == "ok":
            libraries[name] = result.library
        else:
            failed[name] = Measurement(name, result.status, message=result.log)
    entry = next((sources[n].entry for n in libraries), "")
    check = dict(workload.check)
    if workload.reference_build:
        reference = codegen.build(codegen.generate(program, target).code, codegen.compile_flags(target, "baseline"))
        if reference.status != "ok":
            raise RuntimeError(f"the untouched program does not compile: {reference.log[-500:]}")
        check["reference_library"] = reference.library
    begin = time.perf_counter()
    tolerance = max(settings.tolerance, workload.tolerance)
    checked = run_resilient(base_job(program, "verify", libraries, entry) | check
                            | {"tolerance": tolerance}, target, settings.timeout, on_event)
    verify_seconds = time.perf_counter() - begin
    errors = {}
    correct = {}
    for name in libraries:
        phases[name]["verify"] = verify_seconds / max(1, len(libraries))
        event = checked.get(name, {"status": "error", "message": "no result"})
        errors[name] = event.get("max_error")
        if event["status"] == "ok":
            correct[name] = libraries[name]
        else:
            message = event.get("message") or (f"max error {event.get('max_error'):.3g} > {tolerance:g} "
                                               f"in {event.get('output', '?')}")
            failed[name] = Measurement(name, event["status"], message=message, max_error=errors[name],
                                       phases=phases[name])
    timed: dict[str, dict[str, Any]] = {}
    if benchmark and correct:
        begin = time.perf_counter()
        budget = settings.timeout * (settings.repetitions + 1) * len(correct)
        job = base_job(program, "benchmark", correct, entry) | workload.bench
        timed = run_resilient(job | {"repetitions": settings.repetitions, "early_stop": settings.early_stop},
                              target, budget, on_event)
        for name in correct:
            phases[name]["benchmark"] = (time.perf_counter() - begin) / len(correct)
    out = {}
    for variant in variants:
        name = variant.name
        if name in failed:
            out[name] = failed[name]
        elif not benchmark:
            out[name] = Measurement(name, "ok", max_error=errors[name], phases=phases[name],
                                    message=steps.get(name, ""))
        else:
            event = timed.get(name, {"status": "error", "message": "not timed"})
            out[name] = Measurement(name, event["status"], tuple(event.get("samples", ())),
                                    event.get("message", steps.get(name, "")), errors[name], phases[name])
    return out


def _describe_steps(source: codegen.Source) -> str:
    """One line saying which recipe steps applied and which were skipped, and why."""
    if not source.steps:
        return ""
    parts = []
    for result in source.steps:
        mark = "applied" if result.applied else f"skipped ({result.reason})"
        parts.append(f"nest {result.nest} {result.step.op} {list(result.step.loop)}: {mark}")
    return "; ".join(parts)
