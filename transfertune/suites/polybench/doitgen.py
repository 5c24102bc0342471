"""doitgen: A[r, q, :] := A[r, q, :] . C4 (multiresolution analysis kernel; PolyBench/C 4.2.1, linear-algebra/kernels)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def doitgen(A: np.ndarray, C4: np.ndarray, sum: np.ndarray) -> None:
    for r in range(A.shape[0]):
        for q in range(A.shape[1]):
            for p in range(A.shape[2]):
                sum[p] = 0.0
                for s in range(A.shape[2]):
                    sum[p] += A[r, q, s] * C4[s, p]
            for p2 in range(A.shape[2]):
                A[r, q, p2] = sum[p2]


def init(NQ: int, NR: int, NP: int) -> dict:
    i = np.arange(NR)[:, None, None]
    j = np.arange(NQ)[None, :, None]
    k = np.arange(NP)[None, None, :]
    ci = np.arange(NP)[:, None]
    cj = np.arange(NP)[None, :]
    return {
        "A": ((i * j + k) % NP).astype(np.float64) / NP,
        "C4": ((ci * cj) % NP).astype(np.float64) / NP,
        "sum": np.zeros(NP, dtype=np.float64),
    }


def reference(A: np.ndarray, C4: np.ndarray, sum: np.ndarray) -> None:
    A[:] = A @ C4
    sum[:] = A[-1, -1, :]


KERNEL = polybench_kernel(
    "doitgen",
    func=doitgen,
    init=init,
    reference=reference,
    flops=lambda NQ, NR, NP: 2 * NR * NQ * NP * NP,
    outputs=("A",),
    numpy_peer=True,
)
