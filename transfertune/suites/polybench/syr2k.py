"""syr2k: C := alpha*A*B^T + alpha*B*A^T + beta*C, lower triangle (PolyBench/C 4.2.1, linear-algebra/blas)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def syr2k(alpha: float, beta: float, C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for j in range(i + 1):
            C[i, j] *= beta
        for k in range(A.shape[1]):
            for j2 in range(i + 1):
                C[i, j2] += A[j2, k] * alpha * B[i, k] + B[j2, k] * alpha * A[i, k]


def init(N: int, M: int) -> dict:
    i = np.arange(N)[:, None]
    j = np.arange(M)[None, :]
    jc = np.arange(N)[None, :]
    return {
        "alpha": 1.5,
        "beta": 1.2,
        "C": ((i * jc + 3) % N) / M,
        "A": ((i * j + 1) % N) / N,
        "B": ((i * j + 2) % M) / M,
    }


def reference(alpha: float, beta: float, C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    lower = np.tril(np.ones(C.shape, dtype=bool))
    full = beta * C + alpha * (A @ B.T + B @ A.T)
    C[lower] = full[lower]


KERNEL = polybench_kernel(
    "syr2k",
    func=syr2k,
    init=init,
    reference=reference,
    # N*(N+1)/2 lower entries: 1 mul for beta, then per k 4 mul + 2 add.
    flops=lambda N, M: (N * (N + 1) // 2) * (1 + 6 * M),
    outputs=("C",),
    numpy_peer=True,
)
