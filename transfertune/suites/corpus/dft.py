"""dft: naive discrete Fourier transform of a real signal, X[k] = sum_n x[n] e^(-2 pi i k n / N)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def dft(x: np.ndarray, re: np.ndarray, im: np.ndarray) -> None:
    for k in range(x.shape[0]):
        re[k] = 0.0
        im[k] = 0.0
        for n in range(x.shape[0]):
            angle = 2.0 * math.pi * k * n / x.shape[0]
            re[k] += x[n] * math.cos(angle)
            im[k] -= x[n] * math.sin(angle)


def init(N: int) -> dict:
    rng = np.random.default_rng(131)
    t = np.arange(N, dtype=np.float64)
    x = np.sin(2.0 * np.pi * 3.0 * t / N) + 0.5 * np.cos(2.0 * np.pi * 7.0 * t / N) + rng.random(N)
    return {"x": x, "re": np.zeros(N), "im": np.zeros(N)}


def reference(x: np.ndarray, re: np.ndarray, im: np.ndarray) -> None:
    spectrum = np.fft.fft(x)
    re[:] = spectrum.real
    im[:] = spectrum.imag


KERNEL = corpus_kernel(
    "dft",
    group="signal",
    sizes={
        "MINI": {"N": 40},
        "SMALL": {"N": 128},
        "MEDIUM": {"N": 400},
        "LARGE": {"N": 3000},
    },
    func=dft,
    init=init,
    reference=reference,
    # per (k, n): angle (3 muls, 1 div), cos, sin, 2 muls, 2 adds/subs.
    flops=lambda N: 10 * N * N,
    outputs=("re", "im"),
)
