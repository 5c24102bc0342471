"""rmsnorm: root-mean-square normalisation of every row, y = x / sqrt(mean(x^2) + eps) * g."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def rmsnorm(x: np.ndarray, g: np.ndarray, y: np.ndarray, rms: np.ndarray) -> None:
    for i in range(x.shape[0]):
        rms[i] = 0.0
        for j1 in range(x.shape[1]):
            rms[i] += x[i, j1] * x[i, j1]
        rms[i] = math.sqrt(rms[i] / float(x.shape[1]) + 1e-6)
        for j2 in range(x.shape[1]):
            y[i, j2] = x[i, j2] / rms[i] * g[j2]


def init(N: int, D: int) -> dict:
    rng = np.random.default_rng(97)
    rows = np.arange(N, dtype=np.float64)[:, None]
    return {
        "x": (0.5 + 0.1 * rows) * rng.standard_normal((N, D)),
        "g": 0.5 + rng.random(D),
        "y": np.zeros((N, D)),
        "rms": np.zeros(N),
    }


def reference(x: np.ndarray, g: np.ndarray, y: np.ndarray, rms: np.ndarray) -> None:
    rms[:] = np.sqrt(np.einsum("ij,ij->i", x, x) / float(x.shape[1]) + 1e-6)
    y[:] = x / rms[:, None] * g


KERNEL = corpus_kernel(
    "rmsnorm",
    group="row-wise",
    sizes={
        "MINI": {"N": 20, "D": 32},
        "SMALL": {"N": 64, "D": 100},
        "MEDIUM": {"N": 1024, "D": 1024},
        "LARGE": {"N": 16384, "D": 2048},
    },
    func=rmsnorm,
    init=init,
    reference=reference,
    # squares: mul + add; rms: div, add, sqrt per row; output: div + mul.
    flops=lambda N, D: 4 * N * D + 3 * N,
    outputs=("y", "rms"),
)
