"""Loop functions standing in for a user's new kernels (docc reads their source)."""

import numpy as np


def matmul_acc(C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for k in range(A.shape[1]):
            for j in range(C.shape[1]):
                C[i, j] += A[i, k] * B[k, j]


def not_parseable(A: np.ndarray) -> None:
    with open("x") as f:  # docc's front end has no file I/O
        A[0] = len(f.read())


def matmul_sub(C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            for k in range(A.shape[1]):
                C[i, j] -= A[i, k] * B[k, j]


def floor_third(A: np.ndarray, B: np.ndarray) -> None:
    for i in range(A.shape[0]):
        B[i] = A[i] // 3  # Python floors negatives, C truncates


def reversed_copy(A: np.ndarray, B: np.ndarray) -> None:
    for i in range(B.shape[0]):
        B[i] = A[-1 - i]  # Python wraps negative indices, C reads before the array


def axpy_rows(alpha: float, A: np.ndarray, out: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            out[i, j] = out[i, j] + alpha * A[i, j]


def matmul_acc_ijk(C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            for k in range(A.shape[1]):
                C[i, j] += A[i, k] * B[k, j]


def matmul_acc_renamed(C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for k in range(A.shape[1]):
            for j in range(C.shape[1]):
                C[i, j] += A[i, k] * B[k, j]


def matmul_acc_scaled(C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for k in range(A.shape[1]):
            for j in range(C.shape[1]):
                C[i, j] += 2.0 * A[i, k] * B[k, j]


def copy_block(A: np.ndarray, B: np.ndarray) -> None:
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            A[i, j] = B[i, j]


def scale_mn(M: int, N: int, A: np.ndarray, B: np.ndarray) -> None:
    """Sizes as int arguments, named like SymPy built-ins (``N`` is `sympy.N`)."""
    for i in range(M):
        for j in range(N):
            B[i, j] = 2.0 * A[i, j] + A[i, 0]


def product_sympy_named(S: int, beta: int, gamma: int, Q: np.ndarray, R: np.ndarray, P: np.ndarray) -> None:
    """A matrix product whose sizes SymPy would read as its singleton registry (S) and
    special functions (beta, gamma)."""
    for i in range(S):
        for j in range(beta):
            for k in range(gamma):
                P[i, j] += Q[i, k] * R[k, j]


def rows_named_e(E: int, A: np.ndarray, B: np.ndarray) -> None:
    for i in range(E):  # docc reads E as Euler's number
        for j in range(A.shape[1]):
            B[i, j] = 3.0 * A[i, j]


def sum_pool_hw(H: int, W: int, A: np.ndarray, out: np.ndarray) -> None:
    """2 x 2 sum pooling with sizes as ints; docc cannot bound ``out[i // 2, ...]``, so
    the program is pinned to the call it was transferred at."""
    for i in range(0, H - 1, 2):
        for j in range(0, W - 1, 2):
            out[i // 2, j // 2] = A[i, j] + A[i + 1, j] + A[i, j + 1] + A[i + 1, j + 1]


def gather(idx: np.ndarray, A: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.shape[0]):
        out[i] = A[idx[i]]


def channel_sum(X: np.ndarray, out: np.ndarray) -> None:
    """Square images (H == W at the call): two inner extents of X parsed as one size."""
    for c in range(X.shape[0]):
        for h in range(X.shape[1]):
            for w in range(X.shape[2]):
                out[h, w] += X[c, h, w]


def upper_gram(C: np.ndarray, A: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for k in range(A.shape[0]):
            for j in range(i + 1):
                C[j, i] += A[k, i] * A[k, j]


def cross_gram(C: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    """A B' on the lower triangle: not symmetric, so no rank update."""
    for i in range(C.shape[0]):
        for k in range(A.shape[1]):
            for j in range(i + 1):
                C[i, j] += A[i, k] * B[j, k]


def gram_then_damp(C: np.ndarray, A: np.ndarray) -> None:
    """Row i of A is damped after its update, and later rows' updates read it: the update
    cannot leave the loop."""
    for i in range(C.shape[0]):
        for k in range(A.shape[1]):
            for j in range(i + 1):
                C[i, j] += A[i, k] * A[j, k]
        for k2 in range(A.shape[1]):
            A[i, k2] *= 0.5


def sum_reaching_itself(A: np.ndarray, y: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for k in range(A.shape[0]):
            y[i] -= A[i, k] * y[k]  # at k == i the sum reads its own element: no reordering
