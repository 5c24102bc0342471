"""The peers every result is compared with, and how each is built.

- ``baseline``: the untouched program, clang -O3 (every speedup is over it);
- ``polly``, ``docc``: the same generated code under Polly, and docc's own schedule;
- ``clang_c``, ``polly_c``: the benchmark's own C source from the user's PolyBench/C
  checkout (`transfertune.suites.polybench.c_source`), under clang -O3 and under Polly:
  what a user of PolyBench compares with. Present only where ``reference.polybench_c``
  names a checkout;
- ``numpy``: the kernel's NumPy formulation, for kernels where it is a few whole-array
  calls (`Kernel.numpy_peer`), run with the target's thread count;
- ``cupy`` (GPU targets): the same formulation on CuPy arrays, matrix products through
  cuBLAS, each call copying its arrays to the device and back (as the GPU builds do).

Peers are variants like any other: verified before they are timed, in the same rounds.
"""

from __future__ import annotations

from pathlib import Path

from transfertune.backends.cpu import POLLY_PARALLEL
from transfertune.ir.kernel import Kernel
from transfertune.ir.target import Target, backend_of
from transfertune.suites import get_kernel, suite_or_none

PROGRAM_PEERS = ("polly", "docc")
C_PEERS = ("clang_c", "polly_c")
NUMPY = "numpy"
CUPY = "cupy"
ARRAY_PEERS = (NUMPY, CUPY)
"""Peers that run the kernel's NumPy formulation instead of a build."""
ALL = ("baseline", *PROGRAM_PEERS, *C_PEERS, *ARRAY_PEERS)
COMPARED = ALL[1:]
"""The peers timed beside a tuned or transferred program in its final run."""
POLLY_C_FLAGS = ("-mllvm", "-polly", "-mllvm", "-polly-tiling", "-mllvm", "-polly-vectorizer=stripmine")
"""Polly as the issue that asked for this peer built PolyBench/C; with -polly-parallel
and -fopenmp on parallel targets."""


def peers_for(kernel: Kernel, names: tuple[str, ...] | list[str], polybench_c: str | None,
              target: Target | None = None) -> tuple[str, ...]:
    """The peers of `names` that `kernel` has on `target`: C peers only for PolyBench
    kernels with a checkout configured, ``numpy`` only where the kernel has a NumPy
    formulation, and only those the target's backend has (a GPU has no Polly, a CPU no CuPy)."""
    out = []
    for name in checked(names):
        if target is not None and name not in backend_of(target).peers:
            continue
        if name in C_PEERS and (not polybench_c or not _polybench(kernel)):
            continue
        if name in ARRAY_PEERS and not kernel.numpy_peer:
            continue
        out.append(name)
    return tuple(out)


def checked(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`names` as given, or a clear error naming the first unknown peer (before any work)."""
    for name in names:
        if name not in ALL:
            raise ValueError(f"unknown peer {name!r}; known: {', '.join(ALL)}")
    return tuple(names)


def c_source(kernel: Kernel, polybench_c: str | None) -> str | None:
    """The benchmark file of `kernel` in the checkout (None without one, or for a kernel
    that is not PolyBench's); a clear error when the checkout lacks it."""
    if not polybench_c or not _polybench(kernel):
        return None
    from transfertune.suites.polybench.c_source import benchmark_file

    return str(benchmark_file(Path(polybench_c), kernel))


def _polybench(kernel: Kernel) -> bool:
    """A PolyBench kernel of the suite (not a user's program that shares a name)."""
    return suite_or_none(kernel.name) == "polybench" and get_kernel(kernel.name) is kernel


def c_flags(target: Target, peer: str) -> tuple[str, ...]:
    """Optimisation flags of a C peer on `target` (source-specific flags come with the source)."""
    flags = ["-O3", f"-march={target.march}", "-fPIC", "-shared", "-Wno-pass-failed"]
    if peer == "polly_c":
        flags += POLLY_C_FLAGS
        if target.openmp:
            flags += [*POLLY_PARALLEL, "-fopenmp"]
    return tuple(flags)
