"""gesummv: y := alpha*A*x + beta*B*x (PolyBench/C 4.2.1, linear-algebra/blas)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def gesummv(
    alpha: float,
    beta: float,
    A: np.ndarray,
    B: np.ndarray,
    tmp: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> None:
    for i in range(A.shape[0]):
        tmp[i] = 0.0
        y[i] = 0.0
        for j in range(A.shape[1]):
            tmp[i] = A[i, j] * x[j] + tmp[i]
            y[i] = B[i, j] * x[j] + y[i]
        y[i] = alpha * tmp[i] + beta * y[i]


def init(N: int) -> dict:
    i = np.arange(N)[:, None]
    j = np.arange(N)[None, :]
    return {
        "alpha": 1.5,
        "beta": 1.2,
        "A": ((i * j + 1) % N) / N,
        "B": ((i * j + 2) % N) / N,
        "tmp": np.zeros(N),
        "x": (np.arange(N) % N) / N,
        "y": np.zeros(N),
    }


def reference(
    alpha: float,
    beta: float,
    A: np.ndarray,
    B: np.ndarray,
    tmp: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> None:
    tmp[:] = A @ x
    y[:] = alpha * tmp + beta * (B @ x)


KERNEL = polybench_kernel(
    "gesummv",
    func=gesummv,
    init=init,
    reference=reference,
    # inner: 2 mul + 2 add per (i, j); final: 2 mul + 1 add per i.
    flops=lambda N: 4 * N * N + 3 * N,
    outputs=("y",),
    numpy_peer=True,
)
