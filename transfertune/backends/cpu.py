"""CPU targets: clang-19 at -O3 for the machine's ISA, one thread (``cpu-seq``) or
OpenMP on all cores (``cpu-omp``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import docc.sdfg

from transfertune.backends.backend import COMMON_OPS, Backend
from transfertune.ir.target import Target, local_fingerprint

COMPILER = os.environ.get("TRANSFERTUNE_CXX", "clang++-19")
POLLY_FLAGS = ("-mllvm", "-polly", "-mllvm", "-polly-vectorizer=stripmine")
POLLY_PARALLEL = ("-mllvm", "-polly-parallel")
BLAS_LIBRARY = "-lopenblas"
"""The BLAS that library-call steps link: OpenBLAS (Debian's libopenblas-dev), by name:
``-lblas`` would be whatever the system's alternatives point at, the slow reference BLAS
included."""
DOCC_ROOT = Path(docc.sdfg.__file__).parents[1]
_RUNTIME_INCLUDE = "#include <daisy_rtl/daisy_rtl.h>"
_DISABLE_VECTORIZE = re.compile(r"^\s*#pragma clang loop vectorize\(disable\) interleave\(disable\)\s*\n",
                                re.MULTILINE)
"""docc marks every sequential map 'do not vectorise'. Left in, the untouched build would
be deliberately scalar and every recipe would look good against a strawman."""


class CpuBackend(Backend):
    name = "cpu"
    targets = ("cpu-seq", "cpu-omp")

    def local_target(self, name: str) -> Target:
        fp = local_fingerprint()
        if name == "cpu-seq":
            return Target(name, threads=1, openmp=False, march="native", fingerprint=fp)
        if name == "cpu-omp":
            return Target(name, threads=fp.cores, openmp=True, march="native", fingerprint=fp)
        raise ValueError(f"unknown CPU target {name!r}; known: {', '.join(self.targets)}")

    def schedule_target(self, target: Target) -> str:
        return "openmp" if target.openmp else "sequential"

    def source(self, sdfg: Any, target: Target) -> str:
        return with_blas_header(strip_vectorize_disable(sdfg.to_cpp()))

    def compiler(self) -> str:
        return COMPILER

    def compile_flags(self, target: Target, variant: str, code: str = "") -> tuple[str, ...]:
        """-O3 for the target's ISA, OpenMP on parallel targets, Polly's own for the Polly
        peer, OpenBLAS for code that calls BLAS.

        ``-ffp-contract=fast``: docc writes every operation as a statement of its own, and
        clang's default (``on``) fuses a multiply and an add into an FMA only inside one
        expression, so docc's code lost the FMAs that the same loops written in C get (adi on
        cpu-seq at LARGE: 1.12x slower than PolyBench's C under clang -O3). Across statements
        the fusion rounds once where the C expression would too; verification still holds
        every variant to the NumPy reference."""
        flags = ["-O3", f"-march={target.march}", "-ffp-contract=fast", "-std=c++17", "-fPIC", "-shared",
                 "-Wno-pass-failed", f"-I{DOCC_ROOT / 'include'}"]
        if target.openmp:
            flags.append("-fopenmp")
        if variant == "polly":
            flags += POLLY_FLAGS
            if target.openmp:
                flags += POLLY_PARALLEL
        flags += [f"-L{DOCC_ROOT / 'lib'}", f"-Wl,-rpath,{DOCC_ROOT / 'lib'}", "-ldaisy_rtl"]
        if calls_blas(code):
            flags.append(BLAS_LIBRARY)
        return tuple(flags)

    def ops(self, target: Target) -> frozenset[str]:
        ops = COMMON_OPS | {"vectorize", "local_storage", "blas"}
        return ops | {"parallelize"} if target.openmp else ops

    def environment(self, target: Target) -> dict[str, str]:
        """The target's thread count for OpenMP and for BLAS (the NumPy peer and library
        calls run on as many cores as the kernel). Threads are not bound to cores: binding
        pins the child's main thread to one core once an OpenMP variant has run, and the
        thread pool OpenBLAS starts when a library-call variant is loaded after that
        inherits the one core (gemm's `blas` on cpu-omp measured 0.035 s beside a parallel
        variant, 0.019 s unbound, as alone)."""
        threads = str(target.threads)
        return {"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                "OMP_PROC_BIND": "false"}

    def spin_ms(self, target: Target, code: str) -> int | None:
        """1 ms for OpenMP code that calls a BLAS, else libomp's default (None).

        After a parallel loop libomp's workers spin for 200 ms before they sleep; a
        library call after the loop then shares the cores with them (syr2k's
        ``[parallelize, blas]`` at LARGE timed beside the NumPy peer: 0.040 s with the
        default, 0.023 s with 1 ms). Everywhere else the spin pays: with 1 ms every
        parallel loop of a small kernel wakes sleeping workers (row-sums' parallel probes
        at MEDIUM: 1.14x to 1.25x with 1 ms, 1.32x to 1.78x with the default)."""
        return LIBRARY_CALL_SPIN_MS if target.openmp and calls_blas(code) else None


LIBRARY_CALL_SPIN_MS = 1


def strip_vectorize_disable(code: str) -> str:
    """Remove docc's vectorise-disable pragmas (see `_DISABLE_VECTORIZE`)."""
    return _DISABLE_VECTORIZE.sub("", code)


def calls_blas(code: str) -> bool:
    return "cblas_" in code


_CBLAS_CALLED = re.compile(r"\b(cblas_\w+)\s*\(")
_CBLAS_DECLARED = re.compile(r'^extern "C" \w+ (cblas_\w+)\(', re.MULTILINE)


def with_blas_header(code: str) -> str:
    """docc's to_cpp() emits cblas calls for its BLAS library nodes (a NumPy ``A @ B`` its
    front end parsed) but not the header declaring them (its own compile step adds it).
    The library-call step's calls go through docc's call node and come with docc's own
    ``extern "C"`` declaration, which the header would contradict, so the header goes in
    only for calls nothing declares."""
    if not set(_CBLAS_CALLED.findall(code)) - set(_CBLAS_DECLARED.findall(code)):
        return code
    return code.replace(_RUNTIME_INCLUDE, f"{_RUNTIME_INCLUDE}\n#include <cblas.h>", 1)
