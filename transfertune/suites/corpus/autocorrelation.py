"""autocorrelation: raw autocorrelation of a signal at lags 0 .. L-1, r[l] = sum_n x[n] x[n + l]."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def autocorrelation(x: np.ndarray, r: np.ndarray) -> None:
    for lag in range(r.shape[0]):
        r[lag] = 0.0
        for n in range(x.shape[0] - lag):
            r[lag] += x[n] * x[n + lag]


def init(L: int, N: int) -> dict:
    rng = np.random.default_rng(137)
    t = np.arange(N, dtype=np.float64)
    return {"x": np.cos(0.2 * t) + rng.random(N) - 0.5, "r": np.zeros(L)}


def reference(x: np.ndarray, r: np.ndarray) -> None:
    n, lags = x.shape[0], r.shape[0]
    size = 1 << (n + lags).bit_length()
    spectrum = np.fft.rfft(x, size)
    r[:] = np.fft.irfft(spectrum * spectrum.conj(), size)[:lags]


KERNEL = corpus_kernel(
    "autocorrelation",
    group="signal",
    sizes={
        "MINI": {"L": 8, "N": 64},
        "SMALL": {"L": 16, "N": 400},
        "MEDIUM": {"L": 64, "N": 40000},
        "LARGE": {"L": 256, "N": 500000},
    },
    func=autocorrelation,
    init=init,
    reference=reference,
    flops=lambda L, N: sum(2 * max(0, N - lag) for lag in range(L)),
    outputs=("r",),
)
