"""fir-filter: finite impulse response filter over the 'valid' part of a signal,
y[n] = sum_k h[k] x[n + T - 1 - k]."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def fir_filter(x: np.ndarray, h: np.ndarray, y: np.ndarray) -> None:
    for n in range(y.shape[0]):
        y[n] = 0.0
        for k in range(h.shape[0]):
            y[n] += h[k] * x[n + h.shape[0] - 1 - k]


def init(T: int, N: int) -> dict:
    rng = np.random.default_rng(127)
    t = np.arange(N, dtype=np.float64)
    k = np.arange(T, dtype=np.float64)
    return {
        "x": np.sin(0.01 * t) + rng.standard_normal(N),
        "h": np.exp(-0.1 * k) * np.cos(0.5 * k),
        "y": np.zeros(max(0, N - T + 1)),
    }


def reference(x: np.ndarray, h: np.ndarray, y: np.ndarray) -> None:
    y[:] = np.convolve(x, h, mode="valid")


KERNEL = corpus_kernel(
    "fir-filter",
    group="signal",
    sizes={
        "MINI": {"T": 8, "N": 64},
        "SMALL": {"T": 16, "N": 400},
        "MEDIUM": {"T": 32, "N": 120000},
        "LARGE": {"T": 64, "N": 3000000},
    },
    func=fir_filter,
    init=init,
    reference=reference,
    flops=lambda T, N: 2 * max(0, N - T + 1) * T,
    outputs=("y",),
)
