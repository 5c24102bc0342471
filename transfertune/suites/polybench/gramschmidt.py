"""gramschmidt: QR decomposition by modified Gram-Schmidt, A = Q R (PolyBench/C 4.2.1, linear-algebra/solvers).

Caution: every PolyBench dataset has N > M, and PolyBench's A has rank < M (15 of 30 columns at MINI,
41 of 80 at SMALL), so from the first linearly dependent column on, R and Q are amplified rounding noise
(or NaN after 0/0 at MINI), in PolyBench's C as well. Outputs agree only up to that column.
"""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.polybench._suite import perturbed, polybench_kernel


def gramschmidt(A: np.ndarray, R: np.ndarray, Q: np.ndarray) -> None:
    for k in range(A.shape[1]):
        nrm = 0.0
        for i in range(A.shape[0]):
            nrm += A[i, k] * A[i, k]
        R[k, k] = math.sqrt(nrm)
        for i2 in range(A.shape[0]):
            Q[i2, k] = A[i2, k] / R[k, k]
        for j in range(k + 1, A.shape[1]):
            R[k, j] = 0.0
            for i3 in range(A.shape[0]):
                R[k, j] += Q[i3, k] * A[i3, j]
            for i4 in range(A.shape[0]):
                A[i4, j] = A[i4, j] - Q[i4, k] * R[k, j]


def init(M: int, N: int) -> dict:
    i = np.arange(M)[:, None]
    j = np.arange(N)[None, :]
    return {
        "A": (((i * j) % M).astype(np.float64) / M) * 100.0 + 10.0,
        "R": np.zeros((N, N), dtype=np.float64),
        "Q": np.zeros((M, N), dtype=np.float64),
    }


def reference(A: np.ndarray, R: np.ndarray, Q: np.ndarray, block: int = 32) -> None:
    """Blocked modified Gram-Schmidt.

    Within a panel of `block` columns it is plain MGS. The projections of the later columns on
    the panel use the MGS recurrence r_k = q_k . (a - sum_{l<k} r_l q_l) in matrix form,
    (I + strict_lower(Qp^T Qp)) R12 = Qp^T A2, so it is algebraically the same as column-wise MGS.
    """
    n = A.shape[1]
    for k0 in range(0, n, block):
        k1 = min(k0 + block, n)
        for k in range(k0, k1):
            R[k, k] = np.sqrt(np.dot(A[:, k], A[:, k]))
            Q[:, k] = A[:, k] / R[k, k]
            R[k, k + 1 : k1] = Q[:, k] @ A[:, k + 1 : k1]
            A[:, k + 1 : k1] -= np.outer(Q[:, k], R[k, k + 1 : k1])
        if k1 < n:
            Qp = Q[:, k0:k1]
            T = np.tril(Qp.T @ Qp, -1) + np.eye(k1 - k0)
            R[k0:k1, k1:] = np.linalg.solve(T, Qp.T @ A[:, k1:])
            A[:, k1:] -= Qp @ R[k0:k1, k1:]


def check_init(M: int, N: int) -> dict:
    """Full-rank verification data: more rows than columns, perturbed.

    With PolyBench's own data (N > M, rank-deficient A) every result past the first
    dependent column is rounding noise, so any reordering of the sums would look wrong.
    """
    return perturbed(init, "A")(M=max(M, N) + 2, N=N)


KERNEL = polybench_kernel(
    "gramschmidt",
    check_init=check_init,
    func=gramschmidt,
    init=init,
    reference=reference,
    # column k: 2M (norm) + 1 (sqrt) + M (divisions) + 4M per later column j
    flops=lambda M, N: N * (3 * M + 1) + 2 * M * N * (N - 1),
    outputs=("R", "Q"),
)
