"""trisolv: forward substitution L x = b for lower-triangular L (PolyBench/C 4.2.1, linear-algebra/solvers)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def trisolv(L: np.ndarray, x: np.ndarray, b: np.ndarray) -> None:
    for i in range(L.shape[0]):
        x[i] = b[i]
        for j in range(i):
            x[i] -= L[i, j] * x[j]
        x[i] = x[i] / L[i, i]


def init(N: int) -> dict:
    i = np.arange(N)[:, None]
    j = np.arange(N)[None, :]
    # PolyBench sets only the lower triangle (j <= i); the rest is never read and is zero here.
    L = np.where(j <= i, (i + N - j + 1).astype(np.float64) * 2.0 / N, 0.0)
    return {
        "L": L,
        "x": np.full(N, -999.0),
        "b": np.arange(N, dtype=np.float64),
    }


def reference(L: np.ndarray, x: np.ndarray, b: np.ndarray) -> None:
    for i in range(L.shape[0]):
        x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]


KERNEL = polybench_kernel(
    "trisolv",
    func=trisolv,
    init=init,
    reference=reference,
    # row i: 2i (multiply-subtract) + 1 (division)
    flops=lambda N: N * N,
    outputs=("x",),
)
