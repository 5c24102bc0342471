"""batched-dot: one dot product per batch entry, d[b] = sum_n X[b, n] Y[b, n]."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def batched_dot(X: np.ndarray, Y: np.ndarray, d: np.ndarray) -> None:
    for b in range(X.shape[0]):
        d[b] = 0.0
        for n in range(X.shape[1]):
            d[b] += X[b, n] * Y[b, n]


def init(B: int, N: int) -> dict:
    rng = np.random.default_rng(83)
    return {"X": rng.random((B, N)) - 0.5, "Y": rng.random((B, N)) + 0.5, "d": np.zeros(B)}


def reference(X: np.ndarray, Y: np.ndarray, d: np.ndarray) -> None:
    d[:] = np.einsum("bn,bn->b", X, Y)


KERNEL = corpus_kernel(
    "batched-dot",
    group="reduction",
    sizes={
        "MINI": {"B": 20, "N": 50},
        "SMALL": {"B": 64, "N": 160},
        "MEDIUM": {"B": 1024, "N": 2048},
        "LARGE": {"B": 4096, "N": 14000},
    },
    func=batched_dot,
    init=init,
    reference=reference,
    flops=lambda B, N: 2 * B * N,
    outputs=("d",),
)
