"""cholesky: in-place Cholesky factorisation A = L L^T, L in the lower triangle (PolyBench/C 4.2.1, linear-algebra/solvers)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel
from transfertune.suites.polybench.lu import spd_matrix


def cholesky(A: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[j, k]
            A[i, j] /= A[j, j]
        for k2 in range(i):
            A[i, i] -= A[i, k2] * A[i, k2]
        A[i, i] = math.sqrt(A[i, i])


def init(N: int) -> dict:
    return {"A": spd_matrix(N)}


def reference(A: np.ndarray) -> None:
    L = np.linalg.cholesky(A)
    A[:] = np.tril(L) + np.triu(A, 1)


KERNEL = polybench_kernel(
    "cholesky",
    func=cholesky,
    init=init,
    reference=reference,
    # row i: sum_{j<i} (2j + 1) + 2i + 1 (sqrt) = (i + 1)^2
    flops=lambda N: N * (N + 1) * (2 * N + 1) // 6,
    outputs=("A",),
    numpy_peer=True,
)
