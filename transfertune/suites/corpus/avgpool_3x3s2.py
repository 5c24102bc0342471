"""avgpool-3x3s2: 3x3 average pooling with stride 2 over NCHW feature maps (no padding)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from transfertune.suites.corpus._suite import corpus_kernel


def avgpool_3x3s2(x: np.ndarray, y: np.ndarray) -> None:
    for n in range(y.shape[0]):
        for c in range(y.shape[1]):
            for i in range(y.shape[2]):
                for j in range(y.shape[3]):
                    y[n, c, i, j] = 0.0
                    for a in range(3):
                        for b in range(3):
                            y[n, c, i, j] += x[n, c, 2 * i + a, 2 * j + b]
                    y[n, c, i, j] /= 9.0


def init(N: int, C: int, H: int, W: int) -> dict:
    rng = np.random.default_rng(103)
    return {"x": rng.random((N, C, H, W)) - 0.3, "y": np.zeros((N, C, (H - 3) // 2 + 1, (W - 3) // 2 + 1))}


def reference(x: np.ndarray, y: np.ndarray) -> None:
    windows = sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    y[:] = windows.sum(axis=(4, 5)) / 9.0


KERNEL = corpus_kernel(
    "avgpool-3x3s2",
    group="pooling",
    sizes={
        "MINI": {"N": 2, "C": 3, "H": 15, "W": 17},
        "SMALL": {"N": 2, "C": 8, "H": 33, "W": 35},
        "MEDIUM": {"N": 4, "C": 32, "H": 113, "W": 113},
        "LARGE": {"N": 24, "C": 64, "H": 227, "W": 227},
    },
    func=avgpool_3x3s2,
    init=init,
    reference=reference,
    flops=lambda N, C, H, W: 10 * N * C * ((H - 3) // 2 + 1) * ((W - 3) // 2 + 1),
    outputs=("y",),
)
