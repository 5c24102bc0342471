"""adi: alternating direction implicit 2-D heat solver (PolyBench/C 4.2.1, stencils)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def adi(tsteps: int, u: np.ndarray, v: np.ndarray, p: np.ndarray, q: np.ndarray) -> None:
    DX = 1.0 / u.shape[0]
    DY = 1.0 / u.shape[0]
    DT = 1.0 / tsteps
    B1 = 2.0
    B2 = 1.0
    mul1 = B1 * DT / (DX * DX)
    mul2 = B2 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    for t in range(1, tsteps + 1):
        # column sweep
        for i1 in range(1, u.shape[0] - 1):
            v[0, i1] = 1.0
            p[i1, 0] = 0.0
            q[i1, 0] = v[0, i1]
            for j1 in range(1, u.shape[0] - 1):
                p[i1, j1] = -c / (a * p[i1, j1 - 1] + b)
                q[i1, j1] = (
                    -d * u[j1, i1 - 1]
                    + (1.0 + 2.0 * d) * u[j1, i1]
                    - f * u[j1, i1 + 1]
                    - a * q[i1, j1 - 1]
                ) / (a * p[i1, j1 - 1] + b)
            v[u.shape[0] - 1, i1] = 1.0
            for j2 in range(u.shape[0] - 2, 0, -1):
                v[j2, i1] = p[i1, j2] * v[j2 + 1, i1] + q[i1, j2]
        # row sweep
        for i2 in range(1, u.shape[0] - 1):
            u[i2, 0] = 1.0
            p[i2, 0] = 0.0
            q[i2, 0] = u[i2, 0]
            for j3 in range(1, u.shape[0] - 1):
                p[i2, j3] = -f / (d * p[i2, j3 - 1] + e)
                q[i2, j3] = (
                    -a * v[i2 - 1, j3]
                    + (1.0 + 2.0 * a) * v[i2, j3]
                    - c * v[i2 + 1, j3]
                    - d * q[i2, j3 - 1]
                ) / (d * p[i2, j3 - 1] + e)
            u[i2, u.shape[0] - 1] = 1.0
            for j4 in range(u.shape[0] - 2, 0, -1):
                u[i2, j4] = p[i2, j4] * u[i2, j4 + 1] + q[i2, j4]


def init(TSTEPS: int, N: int) -> dict:
    i = np.arange(N, dtype=np.float64)[:, None]
    j = np.arange(N, dtype=np.float64)[None, :]
    return {
        "tsteps": TSTEPS,
        "u": (i + N - j) / N,
        "v": np.zeros((N, N), dtype=np.float64),
        "p": np.zeros((N, N), dtype=np.float64),
        "q": np.zeros((N, N), dtype=np.float64),
    }


def reference(tsteps: int, u: np.ndarray, v: np.ndarray, p: np.ndarray, q: np.ndarray) -> None:
    n = u.shape[0]
    DX = 1.0 / n
    DY = 1.0 / n
    DT = 1.0 / tsteps
    mul1 = 2.0 * DT / (DX * DX)
    mul2 = 1.0 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    r = slice(1, n - 1)  # the interior rows/columns, independent tridiagonal systems
    for _ in range(tsteps):
        # column sweep: system i1 solves along column i1 of u, result in column i1 of v
        v[0, r] = 1.0
        p[r, 0] = 0.0
        q[r, 0] = v[0, r]
        for j in range(1, n - 1):
            den = a * p[r, j - 1] + b
            p[r, j] = -c / den
            q[r, j] = (
                -d * u[j, 0 : n - 2] + (1.0 + 2.0 * d) * u[j, r] - f * u[j, 2:n] - a * q[r, j - 1]
            ) / den
        v[n - 1, r] = 1.0
        for j in range(n - 2, 0, -1):
            v[j, r] = p[r, j] * v[j + 1, r] + q[r, j]
        # row sweep
        u[r, 0] = 1.0
        p[r, 0] = 0.0
        q[r, 0] = u[r, 0]
        for j in range(1, n - 1):
            den = d * p[r, j - 1] + e
            p[r, j] = -f / den
            q[r, j] = (
                -a * v[0 : n - 2, j] + (1.0 + 2.0 * a) * v[r, j] - c * v[2:n, j] - d * q[r, j - 1]
            ) / den
        u[r, n - 1] = 1.0
        for j in range(n - 2, 0, -1):
            u[r, j] = p[r, j] * u[r, j + 1] + q[r, j]


KERNEL = polybench_kernel(
    "adi",
    func=adi,
    init=init,
    reference=reference,
    # per time step and sweep: (N-2)^2 x (3 for p + 12 for q + 2 for the back substitution);
    # 13 ops for the coefficients (unary minus not counted)
    flops=lambda TSTEPS, N: TSTEPS * 34 * (N - 2) * (N - 2) + 13,
    outputs=("u",),
)
