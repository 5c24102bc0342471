"""heat-3d: 3-D heat equation, Jacobi-style two-array stencil (PolyBench/C 4.2.1, stencils)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import perturbed, polybench_kernel


def heat_3d(tsteps: int, A: np.ndarray, B: np.ndarray) -> None:
    for t in range(1, tsteps + 1):
        for i1 in range(1, A.shape[0] - 1):
            for j1 in range(1, A.shape[1] - 1):
                for k1 in range(1, A.shape[2] - 1):
                    B[i1, j1, k1] = (
                        0.125 * (A[i1 + 1, j1, k1] - 2.0 * A[i1, j1, k1] + A[i1 - 1, j1, k1])
                        + 0.125 * (A[i1, j1 + 1, k1] - 2.0 * A[i1, j1, k1] + A[i1, j1 - 1, k1])
                        + 0.125 * (A[i1, j1, k1 + 1] - 2.0 * A[i1, j1, k1] + A[i1, j1, k1 - 1])
                        + A[i1, j1, k1]
                    )
        for i2 in range(1, A.shape[0] - 1):
            for j2 in range(1, A.shape[1] - 1):
                for k2 in range(1, A.shape[2] - 1):
                    A[i2, j2, k2] = (
                        0.125 * (B[i2 + 1, j2, k2] - 2.0 * B[i2, j2, k2] + B[i2 - 1, j2, k2])
                        + 0.125 * (B[i2, j2 + 1, k2] - 2.0 * B[i2, j2, k2] + B[i2, j2 - 1, k2])
                        + 0.125 * (B[i2, j2, k2 + 1] - 2.0 * B[i2, j2, k2] + B[i2, j2, k2 - 1])
                        + B[i2, j2, k2]
                    )


def init(TSTEPS: int, N: int) -> dict:
    i = np.arange(N, dtype=np.float64)[:, None, None]
    j = np.arange(N, dtype=np.float64)[None, :, None]
    k = np.arange(N, dtype=np.float64)[None, None, :]
    A = (i + j + (N - k)) * 10 / N
    return {"tsteps": TSTEPS, "A": A, "B": A.copy()}


def _step(src: np.ndarray, dst: np.ndarray) -> None:
    c = src[1:-1, 1:-1, 1:-1]
    dst[1:-1, 1:-1, 1:-1] = (
        0.125 * (src[2:, 1:-1, 1:-1] - 2.0 * c + src[:-2, 1:-1, 1:-1])
        + 0.125 * (src[1:-1, 2:, 1:-1] - 2.0 * c + src[1:-1, :-2, 1:-1])
        + 0.125 * (src[1:-1, 1:-1, 2:] - 2.0 * c + src[1:-1, 1:-1, :-2])
        + c
    )


def reference(tsteps: int, A: np.ndarray, B: np.ndarray) -> None:
    for _ in range(tsteps):
        _step(A, B)
        _step(B, A)


KERNEL = polybench_kernel(
    "heat-3d",
    # PolyBench's data is a fixed point of this stencil: verify on perturbed data.
    check_init=perturbed(init, 'A', 'B'),
    func=heat_3d,
    init=init,
    reference=reference,
    flops=lambda TSTEPS, N: TSTEPS * 2 * 15 * (N - 2) ** 3,
    outputs=("A",),
)
