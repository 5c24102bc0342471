"""rbf-kernel: Gaussian (RBF) kernel matrix of a point set, K[i, j] = exp(-gamma |x_i - x_j|^2)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def rbf_kernel(gamma: float, X: np.ndarray, K: np.ndarray) -> None:
    for i in range(X.shape[0]):
        for j in range(X.shape[0]):
            K[i, j] = 0.0
            for d in range(X.shape[1]):
                K[i, j] += (X[i, d] - X[j, d]) * (X[i, d] - X[j, d])
            K[i, j] = math.exp(-gamma * K[i, j])


def init(N: int, D: int) -> dict:
    rng = np.random.default_rng(113)
    return {"gamma": 0.5, "X": rng.random((N, D)), "K": np.zeros((N, N))}


def reference(gamma: float, X: np.ndarray, K: np.ndarray) -> None:
    norms = np.einsum("id,id->i", X, X)
    sq = norms[:, None] + norms[None, :] - 2.0 * (X @ X.T)
    K[:] = np.exp(-gamma * np.maximum(sq, 0.0))


KERNEL = corpus_kernel(
    "rbf-kernel",
    group="all-pairs",
    sizes={
        "MINI": {"N": 24, "D": 6},
        "SMALL": {"N": 64, "D": 16},
        "MEDIUM": {"N": 400, "D": 16},
        "LARGE": {"N": 2000, "D": 32},
    },
    func=rbf_kernel,
    init=init,
    reference=reference,
    flops=lambda N, D: 3 * N * N * D + 2 * N * N,
    outputs=("K",),
)
