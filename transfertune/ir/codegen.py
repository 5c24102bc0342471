"""The one shared code generator: SDFG (+ recipe) -> C++ -> shared library.

Every variant that is ever measured (untouched baseline, Polly, docc's own schedule,
any recipe) goes through `generate` and `build`, so differences in speed come from
the transformations, not from the tool chain.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import docc.sdfg
from docc.sdfg import TargetOptions

from transfertune.ir.program import Program
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.target import Target
from transfertune.ir.transform import StepResult, apply_program_recipe
from transfertune.isolated import run_isolated

COMPILER = os.environ.get("TRANSFERTUNE_CXX", "clang++-19")
PEERS = ("baseline", "polly", "docc")
"""Variants built from the untouched code without a recipe."""
POLLY_FLAGS = ("-mllvm", "-polly", "-mllvm", "-polly-vectorizer=stripmine")
POLLY_PARALLEL = ("-mllvm", "-polly-parallel")

_DISABLE_VECTORIZE = re.compile(r"^\s*#pragma clang loop vectorize\(disable\) interleave\(disable\)\s*\n",
                                re.MULTILINE)
"""docc marks every sequential map 'do not vectorise'. Left in, the untouched build would
be deliberately scalar and every recipe would look good against a strawman."""
_DOCC_ROOT = Path(docc.sdfg.__file__).parents[1]
_RUNTIME_INCLUDE = "#include <daisy_rtl/daisy_rtl.h>"
BLAS_LIBRARY = "-lopenblas"
"""The BLAS that library-call steps link: OpenBLAS (Debian's libopenblas-dev)."""


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
    if (variant == "recipe") != (recipe is not None):
        raise ValueError("a recipe goes with variant 'recipe' and only with it")
    outcome = run_isolated(_generate, program, target, variant, recipe, timeout=timeout)
    if not outcome.ok:
        raise RuntimeError(f"code generation of {program.kernel.name}/{variant} failed "
                           f"({outcome.status}): {outcome.message.strip()}")
    code, steps, entry = outcome.value
    return Source(variant, code, tuple(steps), entry)


def _generate(program: Program, target: Target, variant: str,
              recipe: Recipe | ProgramRecipe | None) -> tuple[str, list[StepResult], str]:
    sdfg = program.sdfg()
    steps: list[StepResult] = []
    if recipe is not None:
        sdfg, steps = apply_program_recipe(sdfg, recipe)
    elif variant == "docc":
        options = TargetOptions()
        options.target = "openmp" if target.openmp else "sequential"
        sdfg.normalize()
        options.already_normalized = True
        sdfg.schedule(options, True)
    elif variant not in ("baseline", "polly"):
        raise ValueError(f"unknown variant {variant!r}")
    return with_blas_header(strip_vectorize_disable(sdfg.to_cpp())), steps, f"{sdfg.name}"


def strip_vectorize_disable(code: str) -> str:
    """Remove docc's vectorise-disable pragmas (see `_DISABLE_VECTORIZE`)."""
    return _DISABLE_VECTORIZE.sub("", code)


def calls_blas(code: str) -> bool:
    return "cblas_" in code


def with_blas_header(code: str) -> str:
    """docc's to_cpp() emits cblas calls for library nodes but not the header declaring
    them (its own compile step adds it)."""
    if not calls_blas(code):
        return code
    return code.replace(_RUNTIME_INCLUDE, f"{_RUNTIME_INCLUDE}\n#include <cblas.h>", 1)


def compile_flags(target: Target, variant: str, code: str = "") -> tuple[str, ...]:
    """clang flags: -O3 for the target's ISA, OpenMP on parallel targets, Polly's own;
    OpenBLAS, named explicitly, for `code` that calls BLAS (``-lblas`` would be whatever
    the system's alternatives point at, the slow reference BLAS included)."""
    flags = ["-O3", f"-march={target.march}", "-std=c++17", "-fPIC", "-shared",
             "-Wno-pass-failed", f"-I{_DOCC_ROOT / 'include'}"]
    if target.openmp:
        flags.append("-fopenmp")
    if variant == "polly":
        flags += POLLY_FLAGS
        if target.openmp:
            flags += POLLY_PARALLEL
    flags += [f"-L{_DOCC_ROOT / 'lib'}", f"-Wl,-rpath,{_DOCC_ROOT / 'lib'}", "-ldaisy_rtl"]
    if calls_blas(code):
        flags.append(BLAS_LIBRARY)
    return tuple(flags)


@cache
def compiler_version() -> str:
    """First line of the compiler's version banner (part of every cache key)."""
    try:
        out = subprocess.run([COMPILER, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as err:
        raise RuntimeError(f"C++ compiler {COMPILER!r} not usable: {err}. Install clang-19 "
                           "(see README) or set TRANSFERTUNE_CXX.") from None
    return out.stdout.splitlines()[0]


def cache_dir() -> Path:
    """Where built libraries live: $TRANSFERTUNE_CACHE or ~/.cache/transfertune."""
    root = os.environ.get("TRANSFERTUNE_CACHE") or Path.home() / ".cache" / "transfertune"
    return Path(root) / "builds"


def build(code: str, flags: tuple[str, ...], timeout: float = 300.0) -> Build:
    """Compile `code` into a shared library, reusing a cached one with the same content.

    The cache key hashes source, flags and compiler version, so a hit is exactly the
    library this call would have produced. Libraries are written to a temporary name
    and renamed, so concurrent builders and interrupted builds never leave a torn file.
    """
    key = hashlib.sha256("\0".join((compiler_version(), " ".join(flags), code)).encode()).hexdigest()
    library = cache_dir() / key[:2] / f"{key}.so"
    if library.exists():
        return Build("ok", str(library), cached=True, flags=flags)
    library.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tt-build-") as tmp:
        src = Path(tmp) / "variant.cpp"
        src.write_text(code)
        out = Path(tmp) / "variant.so"
        try:
            link = [f for f in flags if f.startswith(("-l", "-L", "-Wl,"))]  # after the source, for the linker
            compile_only = [f for f in flags if f not in link]
            proc = subprocess.run([COMPILER, *compile_only, str(src), "-o", str(out), *link],
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


def build_many(jobs: list[tuple[str, tuple[str, ...]]], workers: int | None = None) -> list[Build]:
    """Compile several (code, flags) pairs in parallel (the compiler runs as a process)."""
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        return list(pool.map(lambda job: build(*job), jobs))
