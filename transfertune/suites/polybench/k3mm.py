"""3mm: G := (A*B)*(C*D) (PolyBench/C 4.2.1, linear-algebra/kernels)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def k3mm(
    E: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    F: np.ndarray,
    C: np.ndarray,
    D: np.ndarray,
    G: np.ndarray,
) -> None:
    for i in range(E.shape[0]):
        for j in range(E.shape[1]):
            E[i, j] = 0.0
            for k in range(A.shape[1]):
                E[i, j] += A[i, k] * B[k, j]
    for i2 in range(F.shape[0]):
        for j2 in range(F.shape[1]):
            F[i2, j2] = 0.0
            for k2 in range(C.shape[1]):
                F[i2, j2] += C[i2, k2] * D[k2, j2]
    for i3 in range(G.shape[0]):
        for j3 in range(G.shape[1]):
            G[i3, j3] = 0.0
            for k3 in range(E.shape[1]):
                G[i3, j3] += E[i3, k3] * F[k3, j3]


def init(NI: int, NJ: int, NK: int, NL: int, NM: int) -> dict:
    i_ni = np.arange(NI)[:, None]
    i_nk = np.arange(NK)[:, None]
    i_nj = np.arange(NJ)[:, None]
    i_nm = np.arange(NM)[:, None]
    j_nk = np.arange(NK)[None, :]
    j_nj = np.arange(NJ)[None, :]
    j_nm = np.arange(NM)[None, :]
    j_nl = np.arange(NL)[None, :]
    return {
        "E": np.zeros((NI, NJ)),
        "A": ((i_ni * j_nk + 1) % NI) / (5 * NI),
        "B": ((i_nk * (j_nj + 1) + 2) % NJ) / (5 * NJ),
        "F": np.zeros((NJ, NL)),
        "C": (i_nj * (j_nm + 3) % NL) / (5 * NL),
        "D": ((i_nm * (j_nl + 2) + 2) % NK) / (5 * NK),
        "G": np.zeros((NI, NL)),
    }


def reference(
    E: np.ndarray,
    A: np.ndarray,
    B: np.ndarray,
    F: np.ndarray,
    C: np.ndarray,
    D: np.ndarray,
    G: np.ndarray,
) -> None:
    E[:] = A @ B
    F[:] = C @ D
    G[:] = E @ F


KERNEL = polybench_kernel(
    "3mm",
    func=k3mm,
    init=init,
    reference=reference,
    # three matrix products, 1 mul + 1 add per innermost iteration.
    flops=lambda NI, NJ, NK, NL, NM: 2 * NI * NJ * NK + 2 * NJ * NL * NM + 2 * NI * NL * NJ,
    outputs=("G",),
    numpy_peer=True,
)
