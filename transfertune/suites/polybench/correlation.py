"""correlation: Pearson correlation matrix of the columns of data (PolyBench/C 4.2.1, datamining)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def correlation(
    float_n: float, data: np.ndarray, corr: np.ndarray, mean: np.ndarray, stddev: np.ndarray
) -> None:
    eps = 0.1
    for j in range(data.shape[1]):
        mean[j] = 0.0
        for i in range(data.shape[0]):
            mean[j] += data[i, j]
        mean[j] /= float_n
    for j2 in range(data.shape[1]):
        stddev[j2] = 0.0
        for i2 in range(data.shape[0]):
            stddev[j2] += (data[i2, j2] - mean[j2]) * (data[i2, j2] - mean[j2])
        stddev[j2] /= float_n
        stddev[j2] = math.sqrt(stddev[j2])
        if stddev[j2] <= eps:
            stddev[j2] = 1.0
    for i3 in range(data.shape[0]):
        for j3 in range(data.shape[1]):
            data[i3, j3] -= mean[j3]
            data[i3, j3] /= math.sqrt(float_n) * stddev[j3]
    for i4 in range(data.shape[1] - 1):
        corr[i4, i4] = 1.0
        for j4 in range(i4 + 1, data.shape[1]):
            corr[i4, j4] = 0.0
            for k4 in range(data.shape[0]):
                corr[i4, j4] += data[k4, i4] * data[k4, j4]
            corr[j4, i4] = corr[i4, j4]
    corr[data.shape[1] - 1, data.shape[1] - 1] = 1.0


def init(M: int, N: int) -> dict:
    i = np.arange(N, dtype=np.float64)[:, None]
    j = np.arange(M, dtype=np.float64)[None, :]
    return {
        "float_n": float(N),
        "data": (i * j) / M + i,
        "corr": np.zeros((M, M)),
        "mean": np.zeros(M),
        "stddev": np.zeros(M),
    }


def reference(
    float_n: float, data: np.ndarray, corr: np.ndarray, mean: np.ndarray, stddev: np.ndarray
) -> None:
    mean[:] = data.sum(axis=0) / float_n
    stddev[:] = np.sqrt(((data - mean) ** 2).sum(axis=0) / float_n)
    stddev[stddev <= 0.1] = 1.0
    data -= mean
    data /= math.sqrt(float_n) * stddev
    corr[:] = data.T @ data
    np.fill_diagonal(corr, 1.0)


KERNEL = polybench_kernel(
    "correlation",
    func=correlation,
    init=init,
    reference=reference,
    # mean: N*M adds + M divs; stddev: 4 per (i, j) + div + sqrt per column;
    # centring: sub, sqrt, mul, div per element; corr: 2 per (pair, k) over M*(M-1)/2 pairs.
    flops=lambda M, N: (N * M + M) + (4 * N * M + 2 * M) + 4 * N * M + N * M * (M - 1),
    outputs=("corr",),
    numpy_peer=True,
)
