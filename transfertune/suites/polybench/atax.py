"""atax: y := A^T (A x) (PolyBench/C 4.2.1, linear-algebra/kernels)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def atax(A: np.ndarray, x: np.ndarray, y: np.ndarray, tmp: np.ndarray) -> None:
    for i in range(A.shape[1]):
        y[i] = 0.0
    for i2 in range(A.shape[0]):
        tmp[i2] = 0.0
        for j in range(A.shape[1]):
            tmp[i2] = tmp[i2] + A[i2, j] * x[j]
        for j2 in range(A.shape[1]):
            y[j2] = y[j2] + A[i2, j2] * tmp[i2]


def init(M: int, N: int) -> dict:
    i = np.arange(M)[:, None]
    j = np.arange(N)[None, :]
    return {
        "A": ((i + j) % N).astype(np.float64) / (5 * M),
        "x": 1.0 + np.arange(N, dtype=np.float64) / float(N),
        "y": np.zeros(N, dtype=np.float64),
        "tmp": np.zeros(M, dtype=np.float64),
    }


def reference(A: np.ndarray, x: np.ndarray, y: np.ndarray, tmp: np.ndarray) -> None:
    tmp[:] = A @ x
    y[:] = A.T @ tmp


KERNEL = polybench_kernel(
    "atax",
    func=atax,
    init=init,
    reference=reference,
    flops=lambda M, N: 4 * M * N,
    outputs=("y",),
    numpy_peer=True,
)
