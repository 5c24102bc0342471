"""laplacian-2d: 5-point discrete Laplacian of a 2-D grid function, one sweep over the interior."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def laplacian_2d(inv_h2: float, A: np.ndarray, L: np.ndarray) -> None:
    for i in range(1, A.shape[0] - 1):
        for j in range(1, A.shape[1] - 1):
            L[i, j] = inv_h2 * (A[i - 1, j] + A[i + 1, j] + A[i, j - 1] + A[i, j + 1] - 4.0 * A[i, j])


def init(N: int, M: int) -> dict:
    rng = np.random.default_rng(53)
    i = np.arange(N, dtype=np.float64)[:, None]
    j = np.arange(M, dtype=np.float64)[None, :]
    A = np.cos(0.1 * i) * np.sin(0.07 * j) + 0.1 * rng.random((N, M))
    return {"inv_h2": 0.25, "A": A, "L": np.zeros((N, M))}


def reference(inv_h2: float, A: np.ndarray, L: np.ndarray) -> None:
    L[1:-1, 1:-1] = inv_h2 * (A[:-2, 1:-1] + A[2:, 1:-1] + A[1:-1, :-2] + A[1:-1, 2:] - 4.0 * A[1:-1, 1:-1])


KERNEL = corpus_kernel(
    "laplacian-2d",
    group="stencil",
    sizes={
        "MINI": {"N": 30, "M": 36},
        "SMALL": {"N": 100, "M": 110},
        "MEDIUM": {"N": 1200, "M": 1300},
        "LARGE": {"N": 6000, "M": 7500},
    },
    func=laplacian_2d,
    init=init,
    reference=reference,
    flops=lambda N, M: 6 * (N - 2) * (M - 2),
    outputs=("L",),
)
