"""depthwise-conv: depthwise 2-D convolution, one K x K filter per channel,
y[c, i, j] = sum_{a, b} w[c, a, b] x[c, i + a, j + b]."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from transfertune.suites.corpus._suite import corpus_kernel


def depthwise_conv(x: np.ndarray, w: np.ndarray, y: np.ndarray) -> None:
    for c in range(x.shape[0]):
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                y[c, i, j] = 0.0
                for a in range(w.shape[1]):
                    for b in range(w.shape[2]):
                        y[c, i, j] += w[c, a, b] * x[c, i + a, j + b]


def init(K: int, H: int, W: int, C: int) -> dict:
    rng = np.random.default_rng(43)
    return {
        "x": rng.random((C, H, W)),
        "w": rng.standard_normal((C, K, K)),
        "y": np.zeros((C, max(0, H - K + 1), max(0, W - K + 1))),
    }


def reference(x: np.ndarray, w: np.ndarray, y: np.ndarray) -> None:
    windows = sliding_window_view(x, w.shape[1:], axis=(1, 2))
    y[:] = np.einsum("cijab,cab->cij", windows, w)


KERNEL = corpus_kernel(
    "depthwise-conv",
    group="convolution",
    sizes={
        "MINI": {"K": 3, "H": 12, "W": 14, "C": 4},
        "SMALL": {"K": 3, "H": 30, "W": 32, "C": 8},
        "MEDIUM": {"K": 3, "H": 112, "W": 112, "C": 32},
        "LARGE": {"K": 5, "H": 224, "W": 224, "C": 128},
    },
    func=depthwise_conv,
    init=init,
    reference=reference,
    flops=lambda K, H, W, C: 2 * C * max(0, H - K + 1) * max(0, W - K + 1) * K * K,
    outputs=("y",),
)
