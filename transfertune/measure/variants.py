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
from transfertune.ir.target import Target, backend_of
from transfertune.measure import peers, placement
from transfertune.measure.child import CUPY_REFERENCE, NUMPY_REFERENCE
from transfertune.measure.measurement import Measurement
from transfertune.measure.runner import base_job, run_resilient
from transfertune.suites.polybench.c_source import CSourceError, c_reference


@dataclass(frozen=True)
class Variant:
    """A named way to build a kernel: a peer (`transfertune.measure.peers`) or a recipe."""

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
    min_seconds: float = 0.2
    """Short calls are repeated beyond `repetitions` until each variant has been timed for
    about this long (`transfertune.measure.child.rounds_for`)."""
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
    c_source: str | None = None
    """The program's PolyBench/C benchmark file, where the user pointed at a checkout
    (the C peers are built from it)."""


SETTLE = 0.25
"""Seconds a multi-threaded target's child pauses before each timed call: longer than
libomp's default spin after a parallel region (KMP_BLOCKTIME, 200 ms) and OpenBLAS's."""


def suite_workload(kernel: Kernel, size: str, check_size: str, polybench_c: str | None = None) -> Workload:
    """A suite kernel's workload; with `polybench_c` (a PolyBench/C checkout) its C peers can be built."""
    return Workload(build_program(kernel), {"kernel": kernel.name, "params": kernel.params(check_size)},
                    {"kernel": kernel.name, "params": kernel.params(size)},
                    c_source=peers.c_source(kernel, polybench_c))




@dataclass(frozen=True)
class _Plan:
    """How one variant is built: for verification and for timing (the same library,
    except for C peers, whose array extents are compile-time constants); no builds for
    the NumPy peer."""

    check: codegen.BuildJob | None
    bench: codegen.BuildJob | None
    entry: str = ""
    steps: str = ""
    array_library: str = ""
    """The NumPy and CuPy peers: which of the child's array formulations runs (no build)."""


class _Unchanged(Exception):
    """A recipe whose steps all left the program as it was."""


def _plan(workload: Workload, target: Target, variant: Variant, benchmark: bool,
          generated: codegen.Source | RuntimeError | None, untouched: str) -> _Plan:
    """How `variant` is built from its `generated` code (None for the peers that build
    none of ours); `untouched` is the untouched build's code, which a recipe variant is
    compared with (`_Unchanged` when equal)."""
    program = workload.program
    if variant.kind in peers.ARRAY_PEERS:
        if "kernel" not in workload.check or not program.kernel.numpy_peer:
            raise RuntimeError(f"{program.kernel.name} has no NumPy formulation (peer {variant.kind})")
        return _Plan(None, None, array_library=CUPY_REFERENCE if variant.kind == peers.CUPY else NUMPY_REFERENCE)
    if variant.kind in peers.C_PEERS:
        if workload.c_source is None or "kernel" not in workload.check:
            raise RuntimeError(f"{variant.kind}: no PolyBench/C source for {program.kernel.name} "
                               "(set reference.polybench_c)")
        flags = peers.c_flags(target, variant.kind)
        check = c_reference(program, workload.c_source, workload.check["params"],
                            program.kernel.check_arguments(workload.check["params"]))
        bench = c_reference(program, workload.c_source, workload.bench["params"]) if benchmark else check
        entry = check.entry
        return _Plan(codegen.BuildJob(check.code, flags + check.flags), codegen.BuildJob(bench.code, flags + bench.flags),
                     entry)
    if isinstance(generated, RuntimeError):
        raise generated
    source = generated
    if source.steps and source.code == untouched:
        raise _Unchanged(f"no step changed the program: {_describe_steps(source)}")
    build = codegen.job_for(source, target)
    return _Plan(build, build, source.entry, _describe_steps(source))


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
    plans: dict[str, _Plan] = {}
    ours = [v for v in variants if v.kind not in peers.ARRAY_PEERS + peers.C_PEERS]
    begin = time.perf_counter()
    asked = [(v.kind, v.recipe) for v in ours]
    if ("baseline", None) not in asked:  # recipes are compared with the untouched code
        asked.append(("baseline", None))
    sources = codegen.generate_many(program, target, asked)
    generated = dict(zip([v.name for v in ours], sources, strict=False))  # the untouched extra, if any, is last
    share = (time.perf_counter() - begin) / max(1, len(ours))
    base = sources[asked.index(("baseline", None))]
    untouched = base.code if isinstance(base, codegen.Source) else ""
    for variant in variants:
        begin = time.perf_counter()
        try:
            plans[variant.name] = _plan(workload, target, variant, benchmark, generated.get(variant.name), untouched)
        except (RuntimeError, CSourceError) as err:
            failed[variant.name] = Measurement(variant.name, "error", message=str(err))
        except _Unchanged as same:
            failed[variant.name] = Measurement(variant.name, "unchanged", message=str(same))
        phases[variant.name]["generate"] = time.perf_counter() - begin + (share if variant in ours else 0.0)
    jobs = list(dict.fromkeys(job for p in plans.values() for job in (p.check, p.bench) if job is not None))
    built = dict(zip(jobs, codegen.build_many(jobs), strict=True))
    libraries: dict[str, str] = {}
    bench_libraries: dict[str, str] = {}
    for name, plan in plans.items():
        if plan.check is None or plan.bench is None:
            libraries[name] = bench_libraries[name] = plan.array_library
            continue
        results = [built[plan.check]] + ([built[plan.bench]] if plan.bench != plan.check else [])
        phases[name]["compile"] = sum(r.seconds for r in results)
        broken = next((r for r in results if r.status != "ok"), None)
        if broken is not None:
            failed[name] = Measurement(name, broken.status, message=broken.log)
        else:
            libraries[name], bench_libraries[name] = results[0].library, results[-1].library
    steps = {name: plan.steps for name, plan in plans.items()}
    entry = next((plans[n].entry for n in libraries if plans[n].entry), "")
    check = dict(workload.check)
    if workload.reference_build:
        reference = codegen.build_source(codegen.generate(program, target), target)
        if reference.status != "ok":
            raise RuntimeError(f"the untouched program does not compile: {reference.log[-500:]}")
        check["reference_library"] = reference.library
    begin = time.perf_counter()
    tolerance = max(settings.tolerance, workload.tolerance)
    checked = run_resilient(base_job(program, "verify", libraries, entry) | check
                            | {"tolerance": tolerance}, target, settings.timeout * max(1, len(libraries)), on_event,
                            call_timeout=settings.timeout)
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
        job = base_job(program, "benchmark", {n: bench_libraries[n] for n in correct}, entry) | workload.bench
        spin = {n: ms for n in correct if plans[n].bench
                and (ms := backend_of(target).spin_ms(target, plans[n].bench.code)) is not None}
        threaded = target.threads > 1
        timed = run_resilient(job | {"repetitions": settings.repetitions, "min_seconds": settings.min_seconds,
                                     "early_stop": settings.early_stop, "settle": SETTLE if threaded else 0.0,
                                     "placement_probe": _placement_probe(target) if threaded else None,
                                     "spin_ms": spin},
                              target, budget, on_event, call_timeout=settings.timeout)
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
            message = event.get("message", steps.get(name, ""))
            if event.get("apart"):
                message = "; ".join(filter(None, (message, f"{event['apart']} timed calls ran with the cores "
                                                           f"apart (no shared cache; {placement.__name__})")))
            out[name] = Measurement(name, event["status"], tuple(event.get("samples", ())), message,
                                    errors[name], phases[name], tuple(event.get("device_samples", ())))
    return out


def _placement_probe(target: Target) -> dict[str, str]:
    """What a child timing a multi-threaded `target` needs to check where its threads run."""
    library = placement.probe_library()
    return {"library": library, "best": placement.best_file(library, target.key)}


def _describe_steps(source: codegen.Source) -> str:
    """One line saying which recipe steps applied and which were skipped, and why."""
    if not source.steps:
        return ""
    parts = []
    for result in source.steps:
        mark = "applied" if result.applied else f"skipped ({result.reason})"
        parts.append(f"nest {result.nest} {result.step.op} {list(result.step.loop)}: {mark}")
    return "; ".join(parts)
