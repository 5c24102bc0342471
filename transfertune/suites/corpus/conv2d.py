"""conv2d: 2-D convolution of an image with a K x K filter ('valid' region, filter flipped)."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from transfertune.suites.corpus._suite import corpus_kernel


def conv2d(img: np.ndarray, filt: np.ndarray, out: np.ndarray) -> None:
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = 0.0
            for a in range(filt.shape[0]):
                for b in range(filt.shape[1]):
                    out[i, j] += filt[a, b] * img[i + filt.shape[0] - 1 - a, j + filt.shape[1] - 1 - b]


def init(K: int, H: int, W: int) -> dict:
    rng = np.random.default_rng(37)
    return {
        "img": rng.random((H, W)),
        "filt": rng.standard_normal((K, K)),
        "out": np.zeros((max(0, H - K + 1), max(0, W - K + 1))),
    }


def reference(img: np.ndarray, filt: np.ndarray, out: np.ndarray) -> None:
    windows = sliding_window_view(img, filt.shape)
    out[:] = np.einsum("ijab,ab->ij", windows, filt[::-1, ::-1])


KERNEL = corpus_kernel(
    "conv2d",
    group="convolution",
    sizes={
        "MINI": {"K": 3, "H": 30, "W": 34},
        "SMALL": {"K": 3, "H": 100, "W": 110},
        "MEDIUM": {"K": 5, "H": 400, "W": 420},
        "LARGE": {"K": 7, "H": 2000, "W": 2200},
    },
    func=conv2d,
    init=init,
    reference=reference,
    flops=lambda K, H, W: 2 * max(0, H - K + 1) * max(0, W - K + 1) * K * K,
    outputs=("out",),
)
