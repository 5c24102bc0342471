"""2mm: D := alpha*A*B*C + beta*D (PolyBench/C 4.2.1, linear-algebra/kernels)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def k2mm(
    alpha: float,
    beta: float,
    tmp: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    C: np.ndarray,
    D: np.ndarray,
) -> None:
    for i in range(tmp.shape[0]):
        for j in range(tmp.shape[1]):
            tmp[i, j] = 0.0
            for k in range(A.shape[1]):
                tmp[i, j] += alpha * A[i, k] * B[k, j]
    for i2 in range(D.shape[0]):
        for j2 in range(D.shape[1]):
            D[i2, j2] *= beta
            for k2 in range(tmp.shape[1]):
                D[i2, j2] += tmp[i2, k2] * C[k2, j2]


def init(NI: int, NJ: int, NK: int, NL: int) -> dict:
    i_ni = np.arange(NI)[:, None]
    i_nk = np.arange(NK)[:, None]
    i_nj = np.arange(NJ)[:, None]
    j_nk = np.arange(NK)[None, :]
    j_nj = np.arange(NJ)[None, :]
    j_nl = np.arange(NL)[None, :]
    return {
        "alpha": 1.5,
        "beta": 1.2,
        "tmp": np.zeros((NI, NJ)),
        "A": ((i_ni * j_nk + 1) % NI) / NI,
        "B": (i_nk * (j_nj + 1) % NJ) / NJ,
        "C": ((i_nj * (j_nl + 3) + 1) % NL) / NL,
        "D": (i_ni * (j_nl + 2) % NK) / NK,
    }


def reference(
    alpha: float,
    beta: float,
    tmp: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    C: np.ndarray,
    D: np.ndarray,
) -> None:
    tmp[:] = alpha * (A @ B)
    D[:] = beta * D + tmp @ C


KERNEL = polybench_kernel(
    "2mm",
    func=k2mm,
    init=init,
    reference=reference,
    # tmp: 2 mul + 1 add per (i, j, k); D: 1 mul per (i, j) + 1 mul + 1 add per (i, j, k).
    flops=lambda NI, NJ, NK, NL: 3 * NI * NJ * NK + NI * NL + 2 * NI * NL * NJ,
    outputs=("D",),
    numpy_peer=True,
)
