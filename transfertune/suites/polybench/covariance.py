"""covariance: covariance matrix of the columns of data (PolyBench/C 4.2.1, datamining)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def covariance(float_n: float, data: np.ndarray, cov: np.ndarray, mean: np.ndarray) -> None:
    for j in range(data.shape[1]):
        mean[j] = 0.0
        for i in range(data.shape[0]):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for i2 in range(data.shape[0]):
        for j2 in range(data.shape[1]):
            data[i2, j2] -= mean[j2]
    for i3 in range(data.shape[1]):
        for j3 in range(i3, data.shape[1]):
            cov[i3, j3] = 0.0
            for k3 in range(data.shape[0]):
                cov[i3, j3] += data[k3, i3] * data[k3, j3]
            cov[i3, j3] /= float_n - 1.0
            cov[j3, i3] = cov[i3, j3]


def init(M: int, N: int) -> dict:
    i = np.arange(N, dtype=np.float64)[:, None]
    j = np.arange(M, dtype=np.float64)[None, :]
    return {
        "float_n": float(N),
        "data": (i * j) / M,
        "cov": np.zeros((M, M)),
        "mean": np.zeros(M),
    }


def reference(float_n: float, data: np.ndarray, cov: np.ndarray, mean: np.ndarray) -> None:
    mean[:] = data.sum(axis=0) / float_n
    data -= mean
    cov[:] = (data.T @ data) / (float_n - 1.0)


KERNEL = polybench_kernel(
    "covariance",
    func=covariance,
    init=init,
    reference=reference,
    # mean: N*M adds + M divs; centring: N*M subs;
    # cov: M*(M+1)/2 pairs of (2 per k, plus one sub and one div).
    flops=lambda M, N: (N * M + M) + N * M + (M * (M + 1) // 2) * (2 * N + 2),
    outputs=("cov",),
    numpy_peer=True,
)
