"""tensor-contract-4d: double contraction of two 4-index tensors,
C[i, j, k, l] = sum_{m, n} A[i, m, j, n] B[m, k, n, l]."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def tensor_contract_4d(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(A.shape[2]):
            for k in range(B.shape[1]):
                for l in range(B.shape[3]):  # noqa: E741
                    C[i, j, k, l] = 0.0
                    for m in range(A.shape[1]):
                        for n in range(A.shape[3]):
                            C[i, j, k, l] += A[i, m, j, n] * B[m, k, n, l]


def init(NI: int, NM: int, NJ: int, NN: int, NK: int, NL: int) -> dict:
    rng = np.random.default_rng(23)
    return {
        "A": rng.random((NI, NM, NJ, NN)) - 0.5,
        "B": rng.random((NM, NK, NN, NL)) + 0.2,
        "C": np.zeros((NI, NJ, NK, NL)),
    }


def reference(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    C[:] = np.einsum("imjn,mknl->ijkl", A, B, optimize=True)


KERNEL = corpus_kernel(
    "tensor-contract-4d",
    group="tensor-contraction",
    sizes={
        "MINI": {"NI": 4, "NM": 5, "NJ": 6, "NN": 7, "NK": 3, "NL": 8},
        "SMALL": {"NI": 8, "NM": 8, "NJ": 9, "NN": 10, "NK": 6, "NL": 12},
        "MEDIUM": {"NI": 12, "NM": 14, "NJ": 16, "NN": 15, "NK": 10, "NL": 20},
        "LARGE": {"NI": 24, "NM": 26, "NJ": 28, "NN": 30, "NK": 20, "NL": 32},
    },
    func=tensor_contract_4d,
    init=init,
    reference=reference,
    flops=lambda NI, NM, NJ, NN, NK, NL: 2 * NI * NJ * NK * NL * NM * NN,
    outputs=("C",),
)
