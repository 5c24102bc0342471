"""symm: C := alpha*A*B + beta*C, A symmetric (lower half stored) (PolyBench/C 4.2.1, linear-algebra/blas)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def symm(alpha: float, beta: float, C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    # Accumulators start at `0.0 * alpha`, not `0.0`: docc 0.8.1's simplify() forwards a
    # constant initial value into the loop-carried update (t += x becomes t = 0.0 + x),
    # a wrong result; a non-constant initialiser is left alone. Same value for finite alpha.
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            temp2 = 0.0 * alpha
            for k in range(i):
                C[k, j] += alpha * B[i, j] * A[i, k]
                temp2 += B[k, j] * A[i, k]
            C[i, j] = beta * C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2


def init(M: int, N: int) -> dict:
    i = np.arange(M)[:, None]
    j = np.arange(N)[None, :]
    ja = np.arange(M)[None, :]
    A = ((i + ja) % 100) / M
    A = np.where(ja <= i, A, -999.0)  # upper half: never read by the kernel
    return {
        "alpha": 1.5,
        "beta": 1.2,
        "C": ((i + j) % 100) / M,
        "A": A.astype(np.float64),
        "B": ((N + i - j) % 100) / M,
    }


def reference(alpha: float, beta: float, C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    lower = np.tril(A)
    sym = lower + np.tril(A, -1).T
    C[:] = beta * C + alpha * (sym @ B)


KERNEL = polybench_kernel(
    "symm",
    func=symm,
    init=init,
    reference=reference,
    # inner (k < i): 3 ops for the C update + 2 for temp2; per (i, j): 4 mul + 2 add.
    flops=lambda M, N: 5 * N * (M * (M - 1) // 2) + 6 * M * N,
    outputs=("C",),
    numpy_peer=True,
)
