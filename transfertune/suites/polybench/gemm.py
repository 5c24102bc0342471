"""gemm: C := alpha*A*B + beta*C (PolyBench/C 4.2.1, linear-algebra/blas)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def gemm(alpha: float, beta: float, C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            C[i, j] *= beta
        for k in range(A.shape[1]):
            for j2 in range(C.shape[1]):
                C[i, j2] += alpha * A[i, k] * B[k, j2]


def init(NI: int, NJ: int, NK: int) -> dict:
    i = np.arange(NI, dtype=np.float64)[:, None]
    j = np.arange(NJ, dtype=np.float64)[None, :]
    k_row = np.arange(NK, dtype=np.float64)[None, :]
    k_col = np.arange(NK, dtype=np.float64)[:, None]
    return {
        "alpha": 1.5,
        "beta": 1.2,
        "C": ((i * j + 1) % NI) / NI,
        "A": (i * (k_row + 1) % NK) / NK,
        "B": (k_col * (j + 2) % NJ) / NJ,
    }


def reference(alpha: float, beta: float, C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    C[:] = beta * C + alpha * (A @ B)


KERNEL = polybench_kernel(
    "gemm",
    func=gemm,
    init=init,
    reference=reference,
    flops=lambda NI, NJ, NK: NI * NJ + 3 * NI * NJ * NK,
    outputs=("C",),
    numpy_peer=True,
)
