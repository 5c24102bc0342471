"""mvt: x1 += A y_1, x2 += A^T y_2 (PolyBench/C 4.2.1, linear-algebra/kernels)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def mvt(x1: np.ndarray, x2: np.ndarray, y_1: np.ndarray, y_2: np.ndarray, A: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            x1[i] = x1[i] + A[i, j] * y_1[j]
    for i2 in range(A.shape[0]):
        for j2 in range(A.shape[1]):
            x2[i2] = x2[i2] + A[j2, i2] * y_2[j2]


def init(N: int) -> dict:
    n = np.arange(N)
    i = n[:, None]
    j = n[None, :]
    return {
        "x1": (n % N).astype(np.float64) / N,
        "x2": ((n + 1) % N).astype(np.float64) / N,
        "y_1": ((n + 3) % N).astype(np.float64) / N,
        "y_2": ((n + 4) % N).astype(np.float64) / N,
        "A": ((i * j) % N).astype(np.float64) / N,
    }


def reference(x1: np.ndarray, x2: np.ndarray, y_1: np.ndarray, y_2: np.ndarray, A: np.ndarray) -> None:
    x1 += A @ y_1
    x2 += A.T @ y_2


KERNEL = polybench_kernel(
    "mvt",
    func=mvt,
    init=init,
    reference=reference,
    flops=lambda N: 4 * N * N,
    outputs=("x1", "x2"),
    numpy_peer=True,
)
