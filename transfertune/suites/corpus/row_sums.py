"""row-sums: the sum of every row of a matrix."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def row_sums(A: np.ndarray, s: np.ndarray) -> None:
    for i in range(A.shape[0]):
        s[i] = 0.0
        for j in range(A.shape[1]):
            s[i] += A[i, j]


def init(N: int, M: int) -> dict:
    rng = np.random.default_rng(67)
    return {"A": rng.random((N, M)) - 0.25, "s": np.zeros(N)}


def reference(A: np.ndarray, s: np.ndarray) -> None:
    s[:] = A.sum(axis=1)


KERNEL = corpus_kernel(
    "row-sums",
    group="reduction",
    sizes={
        "MINI": {"N": 30, "M": 40},
        "SMALL": {"N": 100, "M": 120},
        "MEDIUM": {"N": 1000, "M": 2000},
        "LARGE": {"N": 5000, "M": 9000},
    },
    func=row_sums,
    init=init,
    reference=reference,
    flops=lambda N, M: N * M,
    outputs=("s",),
)
