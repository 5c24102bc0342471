"""trmm: B := alpha*A^T*B, A unit lower triangular (PolyBench/C 4.2.1, linear-algebra/blas)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def trmm(alpha: float, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            for k in range(i + 1, B.shape[0]):
                B[i, j] += A[k, i] * B[k, j]
            B[i, j] = alpha * B[i, j]


def init(M: int, N: int) -> dict:
    i = np.arange(M)[:, None]
    ja = np.arange(M)[None, :]
    j = np.arange(N)[None, :]
    A = np.where(ja < i, ((i + ja) % M) / M, 0.0)  # upper half is left uninitialised in C; never read
    A[np.arange(M), np.arange(M)] = 1.0
    return {
        "alpha": 1.5,
        "A": A.astype(np.float64),
        "B": ((N + (i - j)) % N) / N,
    }


def reference(alpha: float, A: np.ndarray, B: np.ndarray) -> None:
    # (U + I) B written as U B + B: an identity made here would be a host array, which
    # the CuPy peer (this function on device arrays) cannot add to its own.
    B[:] = alpha * (np.triu(A.T, 1) @ B + B)


KERNEL = polybench_kernel(
    "trmm",
    func=trmm,
    init=init,
    reference=reference,
    # per (i, j): 2 ops for each k > i (M*(M-1)/2 in total per column), then 1 mul.
    flops=lambda M, N: N * M * (M - 1) + M * N,
    outputs=("B",),
    numpy_peer=True,
)
