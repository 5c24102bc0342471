"""gram-matrix: inner products of all pairs of rows, G = A A^T."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def gram_matrix(A: np.ndarray, G: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(A.shape[0]):
            G[i, j] = 0.0
            for k in range(A.shape[1]):
                G[i, j] += A[i, k] * A[j, k]


def init(N: int, M: int) -> dict:
    rng = np.random.default_rng(13)
    return {"A": rng.random((N, M)) - 0.3, "G": np.zeros((N, N))}


def reference(A: np.ndarray, G: np.ndarray) -> None:
    G[:] = A @ A.T


KERNEL = corpus_kernel(
    "gram-matrix",
    group="matrix-product",
    sizes={
        "MINI": {"N": 24, "M": 30},
        "SMALL": {"N": 60, "M": 80},
        "MEDIUM": {"N": 200, "M": 240},
        "LARGE": {"N": 800, "M": 1000},
    },
    func=gram_matrix,
    init=init,
    reference=reference,
    flops=lambda N, M: 2 * N * N * M,
    outputs=("G",),
)
