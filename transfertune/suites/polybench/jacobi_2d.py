"""jacobi-2d: 2-D Jacobi 5-point stencil (PolyBench/C 4.2.1, stencils)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def jacobi_2d(tsteps: int, A: np.ndarray, B: np.ndarray) -> None:
    for t in range(tsteps):
        for i1 in range(1, A.shape[0] - 1):
            for j1 in range(1, A.shape[1] - 1):
                B[i1, j1] = 0.2 * (
                    A[i1, j1] + A[i1, j1 - 1] + A[i1, 1 + j1] + A[1 + i1, j1] + A[i1 - 1, j1]
                )
        for i2 in range(1, A.shape[0] - 1):
            for j2 in range(1, A.shape[1] - 1):
                A[i2, j2] = 0.2 * (
                    B[i2, j2] + B[i2, j2 - 1] + B[i2, 1 + j2] + B[1 + i2, j2] + B[i2 - 1, j2]
                )


def init(TSTEPS: int, N: int) -> dict:
    i = np.arange(N, dtype=np.float64)[:, None]
    j = np.arange(N, dtype=np.float64)[None, :]
    return {"tsteps": TSTEPS, "A": (i * (j + 2) + 2) / N, "B": (i * (j + 3) + 3) / N}


def reference(tsteps: int, A: np.ndarray, B: np.ndarray) -> None:
    for _ in range(tsteps):
        B[1:-1, 1:-1] = 0.2 * (
            A[1:-1, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] + A[2:, 1:-1] + A[:-2, 1:-1]
        )
        A[1:-1, 1:-1] = 0.2 * (
            B[1:-1, 1:-1] + B[1:-1, :-2] + B[1:-1, 2:] + B[2:, 1:-1] + B[:-2, 1:-1]
        )


KERNEL = polybench_kernel(
    "jacobi-2d",
    func=jacobi_2d,
    init=init,
    reference=reference,
    flops=lambda TSTEPS, N: TSTEPS * 2 * 5 * (N - 2) * (N - 2),
    outputs=("A",),
)
