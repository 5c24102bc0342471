"""layernorm: layer normalisation of every row, y = (x - mean) / sqrt(var + eps) * gamma + beta."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def layernorm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, y: np.ndarray, mean: np.ndarray, var: np.ndarray
) -> None:
    eps = 1e-5
    for i in range(x.shape[0]):
        mean[i] = 0.0
        for j1 in range(x.shape[1]):
            mean[i] += x[i, j1]
        mean[i] /= float(x.shape[1])
        var[i] = 0.0
        for j2 in range(x.shape[1]):
            var[i] += (x[i, j2] - mean[i]) * (x[i, j2] - mean[i])
        var[i] /= float(x.shape[1])
        for j3 in range(x.shape[1]):
            y[i, j3] = (x[i, j3] - mean[i]) / math.sqrt(var[i] + eps) * gamma[j3] + beta[j3]


def init(N: int, D: int) -> dict:
    rng = np.random.default_rng(89)
    rows = np.arange(N, dtype=np.float64)[:, None]
    return {
        "x": (1.0 + 0.1 * rows) * rng.standard_normal((N, D)) + 0.5 * rows,
        "gamma": 1.0 + 0.5 * rng.random(D),
        "beta": rng.random(D) - 0.5,
        "y": np.zeros((N, D)),
        "mean": np.zeros(N),
        "var": np.zeros(N),
    }


def reference(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, y: np.ndarray, mean: np.ndarray, var: np.ndarray
) -> None:
    mean[:] = x.mean(axis=1)
    centred = x - mean[:, None]
    var[:] = (centred * centred).mean(axis=1)
    y[:] = centred / np.sqrt(var + 1e-5)[:, None] * gamma + beta


KERNEL = corpus_kernel(
    "layernorm",
    group="row-wise",
    sizes={
        "MINI": {"N": 20, "D": 32},
        "SMALL": {"N": 64, "D": 100},
        "MEDIUM": {"N": 512, "D": 768},
        "LARGE": {"N": 8192, "D": 2048},
    },
    func=layernorm,
    init=init,
    reference=reference,
    # mean: 1 add per element; variance: sub, mul, add; output: sub, add, sqrt, div, mul, add.
    flops=lambda N, D: 10 * N * D + 2 * N,
    outputs=("y", "mean", "var"),
)
