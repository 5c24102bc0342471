"""floyd-warshall: all-pairs shortest paths (PolyBench/C 4.2.1, medley)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def floyd_warshall(path: np.ndarray) -> None:
    for k in range(path.shape[0]):
        for i in range(path.shape[0]):
            for j in range(path.shape[1]):
                path[i, j] = (
                    path[i, j]
                    if path[i, j] < path[i, k] + path[k, j]
                    else path[i, k] + path[k, j]
                )


def init(N: int) -> dict:
    i = np.arange(N, dtype=np.int64)[:, None]
    j = np.arange(N, dtype=np.int64)[None, :]
    s = i + j
    far = (s % 13 == 0) | (s % 7 == 0) | (s % 11 == 0)
    return {"path": np.where(far, 999, i * j % 7 + 1).astype(np.float64)}


def reference(path: np.ndarray) -> None:
    for k in range(path.shape[0]):
        # row k and column k are unchanged in step k (path[k, k] > 0)
        np.minimum(path, path[:, k : k + 1] + path[k : k + 1, :], out=path)


KERNEL = polybench_kernel(
    "floyd-warshall",
    func=floyd_warshall,
    init=init,
    reference=reference,
    flops=lambda N: 2 * N * N * N,  # one add + one comparison per (k, i, j)
    outputs=("path",),
)
