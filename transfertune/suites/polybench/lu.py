"""lu: in-place LU decomposition without pivoting, A = L U with unit-diagonal L (PolyBench/C 4.2.1, linear-algebra/solvers)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def lu(A: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[k, j]
            A[i, j] /= A[j, j]
        for j2 in range(i, A.shape[0]):
            for k2 in range(i):
                A[i, j2] -= A[i, k2] * A[k2, j2]


def spd_matrix(N: int) -> np.ndarray:
    """PolyBench's positive (semi-)definite input shared by lu and ludcmp: B = L0 L0^T."""
    j = np.arange(N)
    # C: (DATA_TYPE)(-j % n) / n + 1 with truncating %, so -j % n == -j for 0 <= j < n.
    row = (-j).astype(np.float64) / N + 1.0
    L0 = np.tril(np.broadcast_to(row, (N, N)))
    np.fill_diagonal(L0, 1.0)
    return L0 @ L0.T


def lu_inplace(A: np.ndarray, block: int = 64) -> None:
    """Blocked right-looking Doolittle LU without pivoting (same factors as the PolyBench loop)."""
    n = A.shape[0]
    for k0 in range(0, n, block):
        k1 = min(k0 + block, n)
        for k in range(k0, k1):  # unblocked factorisation of the panel A[k0:, k0:k1]
            A[k + 1 :, k] /= A[k, k]
            A[k + 1 :, k + 1 : k1] -= np.outer(A[k + 1 :, k], A[k, k + 1 : k1])
        if k1 < n:
            L11 = np.tril(A[k0:k1, k0:k1], -1) + np.eye(k1 - k0)
            A[k0:k1, k1:] = np.linalg.solve(L11, A[k0:k1, k1:])
            A[k1:, k1:] -= A[k1:, k0:k1] @ A[k0:k1, k1:]


def init(N: int) -> dict:
    return {"A": spd_matrix(N)}


def reference(A: np.ndarray) -> None:
    lu_inplace(A)


def _flops(N: int) -> int:
    # row i: sum_{j<i} (2j + 1) + (N - i) * 2i  ==  2iN - i^2
    return N * N * (N - 1) - (N - 1) * N * (2 * N - 1) // 6


KERNEL = polybench_kernel(
    "lu",
    func=lu,
    init=init,
    reference=reference,
    flops=_flops,
    outputs=("A",),
)
