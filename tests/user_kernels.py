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
