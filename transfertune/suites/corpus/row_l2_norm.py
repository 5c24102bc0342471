"""row-l2-norm: the Euclidean norm of every row of a matrix, sqrt(sum_j A[i, j]^2)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def row_l2_norm(A: np.ndarray, nrm: np.ndarray) -> None:
    for i in range(A.shape[0]):
        nrm[i] = 0.0
        for j in range(A.shape[1]):
            nrm[i] += A[i, j] * A[i, j]
        nrm[i] = math.sqrt(nrm[i])


def init(N: int, M: int) -> dict:
    rng = np.random.default_rng(79)
    return {"A": rng.standard_normal((N, M)), "nrm": np.zeros(N)}


def reference(A: np.ndarray, nrm: np.ndarray) -> None:
    nrm[:] = np.sqrt(np.einsum("ij,ij->i", A, A))


KERNEL = corpus_kernel(
    "row-l2-norm",
    group="reduction",
    sizes={
        "MINI": {"N": 30, "M": 40},
        "SMALL": {"N": 100, "M": 120},
        "MEDIUM": {"N": 1000, "M": 2000},
        "LARGE": {"N": 5000, "M": 10000},
    },
    func=row_l2_norm,
    init=init,
    reference=reference,
    flops=lambda N, M: 2 * N * M + N,
    outputs=("nrm",),
)
