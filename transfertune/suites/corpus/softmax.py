"""softmax: row-wise softmax, max-subtracted for stability: y[i, :] = exp(x[i, :] - max) / sum."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def softmax(x: np.ndarray, y: np.ndarray, rmax: np.ndarray, rsum: np.ndarray) -> None:
    for i in range(x.shape[0]):
        rmax[i] = x[i, 0]
        for j1 in range(1, x.shape[1]):
            rmax[i] = max(rmax[i], x[i, j1])
        rsum[i] = 0.0
        for j2 in range(x.shape[1]):
            y[i, j2] = math.exp(x[i, j2] - rmax[i])
            rsum[i] += y[i, j2]
        for j3 in range(x.shape[1]):
            y[i, j3] /= rsum[i]


def init(N: int, M: int) -> dict:
    rng = np.random.default_rng(61)
    return {
        "x": 4.0 * rng.standard_normal((N, M)) + np.arange(N, dtype=np.float64)[:, None],
        "y": np.zeros((N, M)),
        "rmax": np.zeros(N),
        "rsum": np.zeros(N),
    }


def reference(x: np.ndarray, y: np.ndarray, rmax: np.ndarray, rsum: np.ndarray) -> None:
    rmax[:] = x.max(axis=1)
    e = np.exp(x - rmax[:, None])
    rsum[:] = e.sum(axis=1)
    y[:] = e / rsum[:, None]


KERNEL = corpus_kernel(
    "softmax",
    group="row-wise",
    sizes={
        "MINI": {"N": 20, "M": 30},
        "SMALL": {"N": 60, "M": 100},
        "MEDIUM": {"N": 256, "M": 1000},
        "LARGE": {"N": 4000, "M": 4096},
    },
    func=softmax,
    init=init,
    reference=reference,
    # per element: one max, one subtraction, one exp, one add, one division.
    flops=lambda N, M: 5 * N * M,
    outputs=("y", "rmax", "rsum"),
)
