"""nussinov: RNA secondary-structure dynamic programming (PolyBench/C 4.2.1, medley)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def nussinov(seq: np.ndarray, table: np.ndarray) -> None:
    for i in range(table.shape[0] - 1, -1, -1):
        for j in range(i + 1, table.shape[0]):
            if j - 1 >= 0:
                table[i, j] = max(table[i, j], table[i, j - 1])
            if i + 1 < table.shape[0]:
                table[i, j] = max(table[i, j], table[i + 1, j])
            if j - 1 >= 0 and i + 1 < table.shape[0]:
                if i < j - 1:
                    table[i, j] = max(
                        table[i, j],
                        table[i + 1, j - 1] + (1.0 if seq[i] + seq[j] == 3.0 else 0.0),
                    )
                else:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])


def init(N: int) -> dict:
    return {
        "seq": ((np.arange(N, dtype=np.int64) + 1) % 4).astype(np.float64),
        "table": np.zeros((N, N), dtype=np.float64),
    }


def reference(seq: np.ndarray, table: np.ndarray) -> None:
    n = table.shape[0]
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            best = max(table[i, j], table[i, j - 1], table[i + 1, j])
            if i < j - 1:
                pair = table[i + 1, j - 1] + (1.0 if seq[i] + seq[j] == 3.0 else 0.0)
                split = np.max(table[i, i + 1 : j] + table[i + 2 : j + 1, j])
                best = max(best, pair, split)
            else:
                best = max(best, table[i + 1, j - 1])
            table[i, j] = best


KERNEL = polybench_kernel(
    "nussinov",
    func=nussinov,
    init=init,
    reference=reference,
    # per (i, j) pair: 3 max comparisons, +1 add when i < j-1; per k: 1 add + 1 comparison
    flops=lambda N: 3 * N * (N - 1) // 2 + (N - 1) * (N - 2) // 2 + N * (N - 1) * (N - 2) // 3,
    outputs=("table",),
)
