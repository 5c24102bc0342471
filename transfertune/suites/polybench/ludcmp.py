"""ludcmp: LU decomposition followed by forward and backward substitution, A x = b (PolyBench/C 4.2.1, linear-algebra/solvers)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel
from transfertune.suites.polybench.lu import lu_inplace, spd_matrix


def ludcmp(A: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(i):
            w = A[i, j]
            for k in range(j):
                w -= A[i, k] * A[k, j]
            A[i, j] = w / A[j, j]
        for j2 in range(i, A.shape[0]):
            w2 = A[i, j2]
            for k2 in range(i):
                w2 -= A[i, k2] * A[k2, j2]
            A[i, j2] = w2
    for i3 in range(A.shape[0]):
        w3 = b[i3]
        for j3 in range(i3):
            w3 -= A[i3, j3] * y[j3]
        y[i3] = w3
    for i4 in range(A.shape[0] - 1, -1, -1):
        w4 = y[i4]
        for j4 in range(i4 + 1, A.shape[0]):
            w4 -= A[i4, j4] * x[j4]
        x[i4] = w4 / A[i4, i4]


def init(N: int) -> dict:
    fn = float(N)
    return {
        "A": spd_matrix(N),
        "b": (np.arange(N, dtype=np.float64) + 1.0) / fn / 2.0 + 4.0,
        "x": np.zeros(N, dtype=np.float64),
        "y": np.zeros(N, dtype=np.float64),
    }


def reference(A: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
    lu_inplace(A)
    n = A.shape[0]
    for i in range(n):
        y[i] = b[i] - A[i, :i] @ y[:i]
    for i in range(n - 1, -1, -1):
        x[i] = (y[i] - A[i, i + 1 :] @ x[i + 1 :]) / A[i, i]


def _flops(N: int) -> int:
    lu_part = N * N * (N - 1) - (N - 1) * N * (2 * N - 1) // 6
    # forward: 2i per row; backward: 2(N-1-i) + 1 per row
    return lu_part + 2 * N * (N - 1) + N


KERNEL = polybench_kernel(
    "ludcmp",
    func=ludcmp,
    init=init,
    reference=reference,
    flops=_flops,
    outputs=("x",),
)
