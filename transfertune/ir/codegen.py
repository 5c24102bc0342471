"""The one shared code generator: SDFG (+ recipe) -> C++ -> shared library.

Every variant that is ever measured (untouched baseline, Polly, docc's own schedule,
any recipe) goes through `generate` and `build`, so differences in speed come from
the transformations, not from the tool chain.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import NamedTuple

from docc.sdfg import TargetOptions

from transfertune.ir.program import Program
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.target import Target, backend_called, backend_of
from transfertune.ir.transform import StepResult, apply_program_recipe
from transfertune.isolated import run_isolated_many


@dataclass(frozen=True)
class Source:
    """Generated C++ for one variant, with what the recipe did."""

    variant: str
    code: str
    steps: tuple[StepResult, ...] = ()
    entry: str = ""


@dataclass(frozen=True)
class Build:
    """A compiled variant, or why it could not be compiled (status compile-error / time-out)."""

    status: str
    library: str = ""
    log: str = ""
    seconds: float = 0.0
    cached: bool = False
    flags: tuple[str, ...] = field(default_factory=tuple)


def generate(program: Program, target: Target, variant: str = "baseline",
             recipe: Recipe | ProgramRecipe | None = None, timeout: float = 120.0) -> Source:
    """C++ for `variant` of `program`, produced in a forked child (docc may abort).

    Raises `RuntimeError` naming the variant when docc fails; the caller records it.
    """
    outcome = generate_many(program, target, [(variant, recipe)], timeout)[0]
    if isinstance(outcome, RuntimeError):
        raise outcome
    return outcome


def generate_many(program: Program, target: Target, variants: list[tuple[str, Recipe | ProgramRecipe | None]],
                  timeout: float = 120.0) -> list[Source | RuntimeError]:
    """`generate` for several (variant, recipe) pairs at once, each in its own forked
    child, on all cores: docc's passes are single-threaded, and a tuning batch generates
    a dozen variants before it builds any. A failure comes back as the `RuntimeError`
    `generate` would raise, in its variant's place."""
    for variant, recipe in variants:
        if (variant == "recipe") != (recipe is not None):
            raise ValueError("a recipe goes with variant 'recipe' and only with it")
    outcomes = run_isolated_many(_generate, [(program, target, v, r) for v, r in variants], timeout=timeout)
    out: list[Source | RuntimeError] = []
    for (variant, _), outcome in zip(variants, outcomes, strict=True):
        if outcome.ok:
            code, steps, entry = outcome.value
            out.append(Source(variant, code, tuple(steps), entry))
        else:
            out.append(RuntimeError(f"code generation of {program.kernel.name}/{variant} failed "
                                    f"({outcome.status}): {outcome.message.strip()}"))
    return out


def _generate(program: Program, target: Target, variant: str,
              recipe: Recipe | ProgramRecipe | None) -> tuple[str, list[StepResult], str]:
    backend = backend_of(target)
    sdfg = program.sdfg()
    steps: list[StepResult] = []
    if recipe is not None or variant == "baseline":
        sdfg, steps = apply_program_recipe(sdfg, recipe or ProgramRecipe({}), ops=backend.ops(target),
                                           default=backend.default_recipe(target))
    elif variant == "docc":
        options = TargetOptions()
        options.target = backend.schedule_target(target)
        sdfg.normalize()
        options.already_normalized = True
        sdfg.schedule(options, True)
    elif variant not in ("baseline", "polly"):
        raise ValueError(f"unknown variant {variant!r}")
    return backend.source(sdfg, target), steps, f"{sdfg.name}"


def compile_flags(target: Target, variant: str, code: str = "") -> tuple[str, ...]:
    """How `code` of `variant` is built for `target` (its backend's flags)."""
    return backend_of(target).compile_flags(target, variant, code)


@cache
def compiler_version(compiler: str) -> str:
    """The compiler's whole version banner (part of every cache key): nvcc's first line
    names no version at all, its release and build are on the last lines."""
    try:
        out = subprocess.run([compiler, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise RuntimeError(f"compiler {compiler!r} not usable: {err}. Install clang-19 "
                           "(see README) or set TRANSFERTUNE_CXX.") from None
    return "\n".join(line.strip() for line in out.stdout.splitlines() if line.strip())


def cache_dir() -> Path:
    """Where built libraries live: $TRANSFERTUNE_CACHE or ~/.cache/transfertune."""
    root = os.environ.get("TRANSFERTUNE_CACHE") or Path.home() / ".cache" / "transfertune"
    return Path(root) / "builds"


class BuildJob(NamedTuple):
    """What `build` takes: code, flags, and the backend whose compiler builds it."""

    code: str
    flags: tuple[str, ...]
    backend: str = "cpu"


def build(code: str, flags: tuple[str, ...], timeout: float = 300.0, *, backend: str = "cpu") -> Build:
    """Compile `code` into a shared library with `backend`'s compiler, reusing a cached
    one with the same content.

    The cache key hashes source, flags and compiler version, so a hit is exactly the
    library this call would have produced. Libraries are written to a temporary name
    and renamed, so concurrent builders and interrupted builds never leave a torn file.
    """
    builder = backend_called(backend)
    compiler = builder.compiler()
    key = hashlib.sha256("\0".join((compiler_version(compiler), " ".join(flags), code)).encode()).hexdigest()
    library = cache_dir() / key[:2] / f"{key}.so"
    if library.exists():
        return Build("ok", str(library), cached=True, flags=flags)
    library.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tt-build-") as tmp:
        sources = [str(p) for p in builder.write_sources(code, Path(tmp))]
        out = Path(tmp) / "variant.so"
        try:
            link = [f for f in flags if f.startswith(("-l", "-L", "-Wl,"))]  # after the source, for the linker
            compile_only = [f for f in flags if f not in link]
            proc = subprocess.run([compiler, *compile_only, *sources, "-o", str(out), *link],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return Build("time-out", log=f"compiler ran over {timeout:.0f} s", flags=flags,
                         seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            return Build("compile-error", log=proc.stderr[-4000:], seconds=seconds, flags=flags)
        shutil.move(str(out), library.with_suffix(".tmp"))
        os.replace(library.with_suffix(".tmp"), library)
    return Build("ok", str(library), log=proc.stderr[-2000:], seconds=seconds, flags=flags)


def job_for(source: Source, target: Target) -> BuildJob:
    """How a generated `source` is built for `target`: its backend's compiler and flags."""
    return BuildJob(source.code, compile_flags(target, source.variant, source.code), backend_of(target).name)


def build_source(source: Source, target: Target) -> Build:
    """Build a generated `source` for `target` (see `job_for`)."""
    job = job_for(source, target)
    return build(job.code, job.flags, backend=job.backend)


def build_many(jobs: list[BuildJob], workers: int | None = None) -> list[Build]:
    """Compile several jobs in parallel (the compiler runs as a process)."""
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(lambda job: build(job.code, job.flags, backend=job.backend), jobs))
