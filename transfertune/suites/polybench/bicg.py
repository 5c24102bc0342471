"""bicg: s := A^T r, q := A p (BiCG sub-kernel; PolyBench/C 4.2.1, linear-algebra/kernels)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def bicg(A: np.ndarray, s: np.ndarray, q: np.ndarray, p: np.ndarray, r: np.ndarray) -> None:
    for i in range(A.shape[1]):
        s[i] = 0.0
    for i2 in range(A.shape[0]):
        q[i2] = 0.0
        for j in range(A.shape[1]):
            s[j] = s[j] + r[i2] * A[i2, j]
            q[i2] = q[i2] + A[i2, j] * p[j]


def init(M: int, N: int) -> dict:
    i = np.arange(N)[:, None]
    j = np.arange(M)[None, :]
    return {
        "A": ((i * (j + 1)) % N).astype(np.float64) / N,
        "s": np.zeros(M, dtype=np.float64),
        "q": np.zeros(N, dtype=np.float64),
        "p": (np.arange(M) % M).astype(np.float64) / M,
        "r": (np.arange(N) % N).astype(np.float64) / N,
    }


def reference(A: np.ndarray, s: np.ndarray, q: np.ndarray, p: np.ndarray, r: np.ndarray) -> None:
    s[:] = A.T @ r
    q[:] = A @ p


KERNEL = polybench_kernel(
    "bicg",
    func=bicg,
    init=init,
    reference=reference,
    flops=lambda M, N: 4 * M * N,
    outputs=("s", "q"),
    numpy_peer=True,
)
