"""conv2d-nchw: multi-channel 2-D convolution layer (cross-correlation, stride 1, no padding),
y[n, f, i, j] = sum_{c, a, b} w[f, c, a, b] x[n, c, i + a, j + b], NCHW input, OIHW weights."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from transfertune.suites.corpus._suite import corpus_kernel


def conv2d_nchw(x: np.ndarray, w: np.ndarray, y: np.ndarray) -> None:
    for n in range(y.shape[0]):
        for f in range(y.shape[1]):
            for i in range(y.shape[2]):
                for j in range(y.shape[3]):
                    y[n, f, i, j] = 0.0
                    for c in range(x.shape[1]):
                        for a in range(w.shape[2]):
                            for b in range(w.shape[3]):
                                y[n, f, i, j] += w[f, c, a, b] * x[n, c, i + a, j + b]


def init(K: int, H: int, W: int, N: int, C: int, F: int) -> dict:
    rng = np.random.default_rng(41)
    return {
        "x": rng.random((N, C, H, W)) - 0.2,
        "w": rng.standard_normal((F, C, K, K)) / (C * K),
        "y": np.zeros((N, F, max(0, H - K + 1), max(0, W - K + 1))),
    }


def reference(x: np.ndarray, w: np.ndarray, y: np.ndarray) -> None:
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))
    y[:] = np.einsum("ncijab,fcab->nfij", windows, w, optimize=True)


KERNEL = corpus_kernel(
    "conv2d-nchw",
    group="convolution",
    sizes={
        "MINI": {"K": 3, "H": 10, "W": 12, "N": 2, "C": 3, "F": 4},
        "SMALL": {"K": 3, "H": 18, "W": 20, "N": 2, "C": 8, "F": 8},
        "MEDIUM": {"K": 3, "H": 34, "W": 34, "N": 2, "C": 16, "F": 32},
        "LARGE": {"K": 3, "H": 58, "W": 58, "N": 4, "C": 32, "F": 64},
    },
    func=conv2d_nchw,
    init=init,
    reference=reference,
    flops=lambda K, H, W, N, C, F: 2 * N * F * max(0, H - K + 1) * max(0, W - K + 1) * C * K * K,
    outputs=("y",),
)
