"""sobel: Sobel gradient magnitude sqrt(gx^2 + gy^2) of an image's interior."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def sobel(img: np.ndarray, mag: np.ndarray) -> None:
    for i in range(1, img.shape[0] - 1):
        for j in range(1, img.shape[1] - 1):
            gx = (img[i - 1, j + 1] + 2.0 * img[i, j + 1] + img[i + 1, j + 1]) - (
                img[i - 1, j - 1] + 2.0 * img[i, j - 1] + img[i + 1, j - 1]
            )
            gy = (img[i + 1, j - 1] + 2.0 * img[i + 1, j] + img[i + 1, j + 1]) - (
                img[i - 1, j - 1] + 2.0 * img[i - 1, j] + img[i - 1, j + 1]
            )
            mag[i, j] = math.sqrt(gx * gx + gy * gy)


def init(H: int, W: int) -> dict:
    rng = np.random.default_rng(31)
    i = np.arange(H, dtype=np.float64)[:, None]
    j = np.arange(W, dtype=np.float64)[None, :]
    img = np.sin(0.3 * i) * np.cos(0.2 * j) + 0.5 * rng.random((H, W))
    return {"img": img, "mag": np.zeros((H, W))}


def reference(img: np.ndarray, mag: np.ndarray) -> None:
    # vertical [1, 2, 1] and horizontal [1, 0, -1] passes (and the transpose), in place where possible
    smooth = img[:-2] + img[2:]
    smooth += 2.0 * img[1:-1]
    gx = smooth[:, 2:] - smooth[:, :-2]
    smooth = img[:, :-2] + img[:, 2:]
    smooth += 2.0 * img[:, 1:-1]
    gy = smooth[2:] - smooth[:-2]
    gx *= gx
    gy *= gy
    gx += gy
    np.sqrt(gx, out=mag[1:-1, 1:-1])


KERNEL = corpus_kernel(
    "sobel",
    group="convolution",
    sizes={
        "MINI": {"H": 32, "W": 40},
        "SMALL": {"H": 100, "W": 130},
        "MEDIUM": {"H": 1000, "W": 1200},
        "LARGE": {"H": 6000, "W": 7200},
    },
    func=sobel,
    init=init,
    reference=reference,
    # gx, gy: 2 muls + 5 adds/subs each; magnitude: 2 muls, 1 add, 1 sqrt.
    flops=lambda H, W: 18 * (H - 2) * (W - 2),
    outputs=("mag",),
)
