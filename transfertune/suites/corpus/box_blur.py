"""box-blur: separable 3x3 box blur, a horizontal 3-point mean then a vertical one."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def box_blur(img: np.ndarray, tmp: np.ndarray, out: np.ndarray) -> None:
    for i1 in range(img.shape[0]):
        for j1 in range(1, img.shape[1] - 1):
            tmp[i1, j1] = (img[i1, j1 - 1] + img[i1, j1] + img[i1, j1 + 1]) / 3.0
    for i2 in range(1, img.shape[0] - 1):
        for j2 in range(1, img.shape[1] - 1):
            out[i2, j2] = (tmp[i2 - 1, j2] + tmp[i2, j2] + tmp[i2 + 1, j2]) / 3.0


def init(H: int, W: int) -> dict:
    rng = np.random.default_rng(29)
    i = np.arange(H, dtype=np.float64)[:, None]
    j = np.arange(W, dtype=np.float64)[None, :]
    return {
        "img": ((i * 7 + j * 3) % 11) / 11 + rng.random((H, W)),
        "tmp": np.zeros((H, W)),
        "out": np.zeros((H, W)),
    }


def reference(img: np.ndarray, tmp: np.ndarray, out: np.ndarray) -> None:
    tmp[:, 1:-1] = (img[:, :-2] + img[:, 1:-1] + img[:, 2:]) / 3.0
    out[1:-1, 1:-1] = (tmp[:-2, 1:-1] + tmp[1:-1, 1:-1] + tmp[2:, 1:-1]) / 3.0


KERNEL = corpus_kernel(
    "box-blur",
    group="convolution",
    sizes={
        "MINI": {"H": 30, "W": 40},
        "SMALL": {"H": 100, "W": 120},
        "MEDIUM": {"H": 1000, "W": 1200},
        "LARGE": {"H": 4000, "W": 5000},
    },
    func=box_blur,
    init=init,
    reference=reference,
    flops=lambda H, W: 3 * H * (W - 2) + 3 * (H - 2) * (W - 2),
    outputs=("tmp", "out"),
)
