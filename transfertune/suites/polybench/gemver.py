"""gemver: vector multiplication and matrix addition (PolyBench/C 4.2.1, linear-algebra/blas)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def gemver(
    alpha: float,
    beta: float,
    A: np.ndarray,
    u1: np.ndarray,
    v1: np.ndarray,
    u2: np.ndarray,
    v2: np.ndarray,
    w: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
) -> None:
    for i in range(A.shape[0]):
        for j in range(A.shape[0]):
            A[i, j] = A[i, j] + u1[i] * v1[j] + u2[i] * v2[j]
    for i2 in range(A.shape[0]):
        for j2 in range(A.shape[0]):
            x[i2] = x[i2] + beta * A[j2, i2] * y[j2]
    for i3 in range(A.shape[0]):
        x[i3] = x[i3] + z[i3]
    for i4 in range(A.shape[0]):
        for j4 in range(A.shape[0]):
            w[i4] = w[i4] + alpha * A[i4, j4] * x[j4]


def init(N: int) -> dict:
    fn = float(N)
    i = np.arange(N)
    i1 = (i + 1) / fn
    A = (np.outer(i, i) % N) / N
    return {
        "alpha": 1.5,
        "beta": 1.2,
        "A": A.astype(np.float64),
        "u1": i.astype(np.float64),
        "v1": i1 / 4.0,
        "u2": i1 / 2.0,
        "v2": i1 / 6.0,
        "w": np.zeros(N),
        "x": np.zeros(N),
        "y": i1 / 8.0,
        "z": i1 / 9.0,
    }


def reference(
    alpha: float,
    beta: float,
    A: np.ndarray,
    u1: np.ndarray,
    v1: np.ndarray,
    u2: np.ndarray,
    v2: np.ndarray,
    w: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    z: np.ndarray,
) -> None:
    A += np.outer(u1, v1) + np.outer(u2, v2)
    x += beta * (A.T @ y)
    x += z
    w += alpha * (A @ x)


KERNEL = polybench_kernel(
    "gemver",
    func=gemver,
    init=init,
    reference=reference,
    # A update: 2 mul + 2 add; x and w updates: 2 mul + 1 add each; x += z: N adds.
    flops=lambda N: 4 * N * N + 3 * N * N + N + 3 * N * N,
    outputs=("w",),
    numpy_peer=True,
)
