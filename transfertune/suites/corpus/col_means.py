"""col-means: the mean of every column of a matrix (written column by column)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def col_means(A: np.ndarray, m: np.ndarray) -> None:
    for j in range(A.shape[1]):
        m[j] = 0.0
        for i in range(A.shape[0]):
            m[j] += A[i, j]
        m[j] /= float(A.shape[0])


def init(N: int, M: int) -> dict:
    rng = np.random.default_rng(73)
    j = np.arange(M, dtype=np.float64)[None, :]
    return {"A": rng.random((N, M)) + 0.01 * j, "m": np.zeros(M)}


def reference(A: np.ndarray, m: np.ndarray) -> None:
    m[:] = A.sum(axis=0) / float(A.shape[0])


KERNEL = corpus_kernel(
    "col-means",
    group="reduction",
    sizes={
        "MINI": {"N": 30, "M": 40},
        "SMALL": {"N": 100, "M": 120},
        "MEDIUM": {"N": 1000, "M": 1000},
        "LARGE": {"N": 4000, "M": 4000},
    },
    func=col_means,
    init=init,
    reference=reference,
    flops=lambda N, M: N * M + M,
    outputs=("m",),
)
