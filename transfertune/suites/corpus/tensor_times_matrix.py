"""tensor-times-matrix: mode-1 product of a 3-index tensor, Y[a, j, k] = sum_i U[a, i] X[i, j, k]."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def tensor_times_matrix(X: np.ndarray, U: np.ndarray, Y: np.ndarray) -> None:
    for a in range(U.shape[0]):
        for j in range(X.shape[1]):
            for k in range(X.shape[2]):
                Y[a, j, k] = 0.0
                for i in range(X.shape[0]):
                    Y[a, j, k] += U[a, i] * X[i, j, k]


def init(NI: int, NJ: int, NK: int, NA: int) -> dict:
    rng = np.random.default_rng(19)
    return {
        "X": rng.random((NI, NJ, NK)) - 0.4,
        "U": rng.standard_normal((NA, NI)),
        "Y": np.zeros((NA, NJ, NK)),
    }


def reference(X: np.ndarray, U: np.ndarray, Y: np.ndarray) -> None:
    Y[:] = np.tensordot(U, X, axes=(1, 0))


KERNEL = corpus_kernel(
    "tensor-times-matrix",
    group="tensor-contraction",
    sizes={
        "MINI": {"NI": 12, "NJ": 10, "NK": 14, "NA": 8},
        "SMALL": {"NI": 24, "NJ": 20, "NK": 30, "NA": 16},
        "MEDIUM": {"NI": 64, "NJ": 60, "NK": 70, "NA": 48},
        "LARGE": {"NI": 160, "NJ": 150, "NK": 160, "NA": 96},
    },
    func=tensor_times_matrix,
    init=init,
    reference=reference,
    flops=lambda NI, NJ, NK, NA: 2 * NA * NI * NJ * NK,
    outputs=("Y",),
)
