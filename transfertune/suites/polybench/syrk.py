"""syrk: C := alpha*A*A^T + beta*C, lower triangle (PolyBench/C 4.2.1, linear-algebra/blas)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def syrk(alpha: float, beta: float, C: np.ndarray, A: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for j in range(i + 1):
            C[i, j] *= beta
        for k in range(A.shape[1]):
            for j2 in range(i + 1):
                C[i, j2] += alpha * A[i, k] * A[j2, k]


def init(N: int, M: int) -> dict:
    i = np.arange(N)[:, None]
    j = np.arange(M)[None, :]
    jc = np.arange(N)[None, :]
    return {
        "alpha": 1.5,
        "beta": 1.2,
        "C": ((i * jc + 2) % M) / M,
        "A": ((i * j + 1) % N) / N,
    }


def reference(alpha: float, beta: float, C: np.ndarray, A: np.ndarray) -> None:
    lower = np.tril(np.ones(C.shape, dtype=bool))
    full = beta * C + alpha * (A @ A.T)
    C[lower] = full[lower]


KERNEL = polybench_kernel(
    "syrk",
    func=syrk,
    init=init,
    reference=reference,
    # N*(N+1)/2 lower entries: 1 mul for beta, then per k 2 mul + 1 add.
    flops=lambda N, M: (N * (N + 1) // 2) * (1 + 3 * M),
    outputs=("C",),
    numpy_peer=True,
)
