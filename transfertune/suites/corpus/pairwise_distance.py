"""pairwise-distance: Euclidean distances between every point of X and every point of Y."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def pairwise_distance(X: np.ndarray, Y: np.ndarray, dist: np.ndarray) -> None:
    for i in range(X.shape[0]):
        for j in range(Y.shape[0]):
            dist[i, j] = 0.0
            for d in range(X.shape[1]):
                dist[i, j] += (X[i, d] - Y[j, d]) * (X[i, d] - Y[j, d])
            dist[i, j] = math.sqrt(dist[i, j])


def init(N: int, M: int, D: int) -> dict:
    rng = np.random.default_rng(107)
    return {"X": rng.random((N, D)), "Y": rng.random((M, D)) + 0.2, "dist": np.zeros((N, M))}


def reference(X: np.ndarray, Y: np.ndarray, dist: np.ndarray) -> None:
    sq = np.einsum("id,id->i", X, X)[:, None] + np.einsum("jd,jd->j", Y, Y)[None, :] - 2.0 * (X @ Y.T)
    dist[:] = np.sqrt(np.maximum(sq, 0.0))


KERNEL = corpus_kernel(
    "pairwise-distance",
    group="all-pairs",
    sizes={
        "MINI": {"N": 20, "M": 24, "D": 8},
        "SMALL": {"N": 60, "M": 64, "D": 16},
        "MEDIUM": {"N": 500, "M": 520, "D": 16},
        "LARGE": {"N": 2400, "M": 2200, "D": 32},
    },
    func=pairwise_distance,
    init=init,
    reference=reference,
    flops=lambda N, M, D: 3 * N * M * D + N * M,
    outputs=("dist",),
)
