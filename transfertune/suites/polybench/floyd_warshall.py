"""floyd-warshall: all-pairs shortest paths (PolyBench/C 4.2.1, medley)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def floyd_warshall(path: np.ndarray) -> None:
    """The minimum is `min()`, which docc emits as `fmin`, a select clang vectorises.
    PolyBench's conditional expression (`a if a < b else b`) is lowered by docc to two
    flag-setting branches that keep the previous flag for a NaN: clang cannot
    if-convert them, and the untouched build ran at 0.49x of PolyBench's C under clang
    -O3 (MEDIUM, AMD EPYC) against 0.87x written this way. Same values for every
    NaN-free input (PolyBench's are finite)."""
    for k in range(path.shape[0]):
        for i in range(path.shape[0]):
            for j in range(path.shape[1]):
                path[i, j] = min(path[i, j], path[i, k] + path[k, j])


def init(N: int) -> dict:
    i = np.arange(N, dtype=np.int64)[:, None]
    j = np.arange(N, dtype=np.int64)[None, :]
    s = i + j
    far = (s % 13 == 0) | (s % 7 == 0) | (s % 11 == 0)
    return {"path": np.where(far, 999, i * j % 7 + 1).astype(np.float64)}


def check_init(N: int) -> dict:
    """Random weights in [1, 100): PolyBench's graph has short paths everywhere (most
    edges weigh 1 to 7), and a wrong loop order (i-k-j, which the seed once held as a
    1.36x recipe) gives the right answer on it."""
    rng = np.random.default_rng(0)
    return {"path": rng.uniform(1.0, 100.0, (N, N))}


def reference(path: np.ndarray) -> None:
    for k in range(path.shape[0]):
        # row k and column k are unchanged in step k (path[k, k] > 0)
        np.minimum(path, path[:, k : k + 1] + path[k : k + 1, :], out=path)


KERNEL = polybench_kernel(
    "floyd-warshall",
    check_init=check_init,
    func=floyd_warshall,
    init=init,
    reference=reference,
    flops=lambda N: 2 * N * N * N,  # one add + one comparison per (k, i, j)
    outputs=("path",),
)
