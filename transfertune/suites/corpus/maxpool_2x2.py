"""maxpool-2x2: 2x2 max pooling with stride 2 of every channel (a trailing odd row/column is dropped)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def maxpool_2x2(x: np.ndarray, y: np.ndarray) -> None:
    for c in range(x.shape[0]):
        for i in range(y.shape[1]):
            for j in range(y.shape[2]):
                y[c, i, j] = max(
                    max(x[c, 2 * i, 2 * j], x[c, 2 * i, 2 * j + 1]),
                    max(x[c, 2 * i + 1, 2 * j], x[c, 2 * i + 1, 2 * j + 1]),
                )


def init(C: int, H: int, W: int) -> dict:
    rng = np.random.default_rng(101)
    return {"x": rng.random((C, H, W)) - 0.5, "y": np.zeros((C, H // 2, W // 2))}


def reference(x: np.ndarray, y: np.ndarray) -> None:
    OH, OW = y.shape[1], y.shape[2]
    top = np.maximum(x[:, 0 : 2 * OH : 2, 0 : 2 * OW : 2], x[:, 0 : 2 * OH : 2, 1 : 2 * OW : 2])
    bottom = np.maximum(x[:, 1 : 2 * OH : 2, 0 : 2 * OW : 2], x[:, 1 : 2 * OH : 2, 1 : 2 * OW : 2])
    np.maximum(top, bottom, out=y)


KERNEL = corpus_kernel(
    "maxpool-2x2",
    group="pooling",
    sizes={
        "MINI": {"C": 3, "H": 24, "W": 30},
        "SMALL": {"C": 8, "H": 64, "W": 70},
        "MEDIUM": {"C": 32, "H": 224, "W": 224},
        "LARGE": {"C": 96, "H": 1024, "W": 1024},
    },
    func=maxpool_2x2,
    init=init,
    reference=reference,
    flops=lambda C, H, W: 3 * C * (H // 2) * (W // 2),
    outputs=("y",),
)
