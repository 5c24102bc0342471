"""batched-matmul: an independent matrix product per batch entry, C[b] = A[b] B[b]."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def batched_matmul(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    for b in range(A.shape[0]):
        for i in range(A.shape[1]):
            for j in range(B.shape[2]):
                C[b, i, j] = 0.0
                for k in range(A.shape[2]):
                    C[b, i, j] += A[b, i, k] * B[b, k, j]


def init(NB: int, NI: int, NK: int, NJ: int) -> dict:
    rng = np.random.default_rng(17)
    return {
        "A": rng.random((NB, NI, NK)) - 0.5,
        "B": rng.random((NB, NK, NJ)) + 0.1,
        "C": np.zeros((NB, NI, NJ)),
    }


def reference(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    C[:] = np.matmul(A, B)


KERNEL = corpus_kernel(
    "batched-matmul",
    group="tensor-contraction",
    sizes={
        "MINI": {"NB": 4, "NI": 12, "NK": 16, "NJ": 10},
        "SMALL": {"NB": 8, "NI": 24, "NK": 32, "NJ": 20},
        "MEDIUM": {"NB": 16, "NI": 64, "NK": 80, "NJ": 72},
        "LARGE": {"NB": 32, "NI": 192, "NK": 256, "NJ": 160},
    },
    func=batched_matmul,
    init=init,
    reference=reference,
    flops=lambda NB, NI, NK, NJ: 2 * NB * NI * NK * NJ,
    outputs=("C",),
)
