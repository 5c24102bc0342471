"""durbin: Levinson-Durbin solution of a Toeplitz (Yule-Walker) system (PolyBench/C 4.2.1, linear-algebra/solvers).

PolyBench's kernel keeps `z` as a stack array of size N; here it is a scratch argument, like atax's `tmp`.
"""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def durbin(r: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, r.shape[0]):
        beta = (1.0 - alpha * alpha) * beta
        sum = 0.0
        for i in range(k):
            sum += r[k - i - 1] * y[i]
        alpha = -(r[k] + sum) / beta
        for i2 in range(k):
            z[i2] = y[i2] + alpha * y[k - i2 - 1]
        for i3 in range(k):
            y[i3] = z[i3]
        y[k] = alpha


def init(N: int) -> dict:
    return {
        "r": (N + 1 - np.arange(N)).astype(np.float64),
        "y": np.zeros(N, dtype=np.float64),
        "z": np.zeros(N, dtype=np.float64),
    }


def reference(r: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
    n = r.shape[0]
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, n):
        beta = (1.0 - alpha * alpha) * beta
        # np.cumsum adds strictly left to right, the order of the C loop (np.dot would not)
        s = np.cumsum(r[k - 1 :: -1] * y[:k])[-1]
        alpha = -(r[k] + s) / beta
        z[:k] = y[:k] + alpha * y[k - 1 :: -1]
        y[:k] = z[:k]
        y[k] = alpha


KERNEL = polybench_kernel(
    "durbin",
    func=durbin,
    init=init,
    reference=reference,
    # step k: 3 (beta) + 2k (sum) + 2 (alpha; negation not counted) + 2k (z)
    flops=lambda N: 2 * N * (N - 1) + 5 * (N - 1),
    outputs=("y",),
)
