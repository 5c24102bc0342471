"""jacobi-1d: 1-D Jacobi stencil (PolyBench/C 4.2.1, stencils)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def jacobi_1d(tsteps: int, A: np.ndarray, B: np.ndarray) -> None:
    for t in range(tsteps):
        for i1 in range(1, A.shape[0] - 1):
            B[i1] = 0.33333 * (A[i1 - 1] + A[i1] + A[i1 + 1])
        for i2 in range(1, A.shape[0] - 1):
            A[i2] = 0.33333 * (B[i2 - 1] + B[i2] + B[i2 + 1])


def init(TSTEPS: int, N: int) -> dict:
    i = np.arange(N, dtype=np.float64)
    return {"tsteps": TSTEPS, "A": (i + 2) / N, "B": (i + 3) / N}


def reference(tsteps: int, A: np.ndarray, B: np.ndarray) -> None:
    for _ in range(tsteps):
        B[1:-1] = 0.33333 * (A[:-2] + A[1:-1] + A[2:])
        A[1:-1] = 0.33333 * (B[:-2] + B[1:-1] + B[2:])


KERNEL = polybench_kernel(
    "jacobi-1d",
    func=jacobi_1d,
    init=init,
    reference=reference,
    flops=lambda TSTEPS, N: TSTEPS * 2 * 3 * (N - 2),
    outputs=("A",),
)
