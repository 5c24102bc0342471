"""mlp-layer: one fully connected layer with ReLU, y = max(x W + b, 0)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def mlp_layer(x: np.ndarray, W: np.ndarray, b: np.ndarray, y: np.ndarray) -> None:
    for n in range(x.shape[0]):
        for o in range(W.shape[1]):
            y[n, o] = b[o]
            for k in range(x.shape[1]):
                y[n, o] += x[n, k] * W[k, o]
            y[n, o] = max(y[n, o], 0.0)


def init(N: int, DIN: int, DOUT: int) -> dict:
    rng = np.random.default_rng(11)
    return {
        "x": rng.standard_normal((N, DIN)),
        "W": rng.standard_normal((DIN, DOUT)) / np.sqrt(DIN),
        "b": 0.1 * rng.standard_normal(DOUT),
        "y": np.zeros((N, DOUT)),
    }


def reference(x: np.ndarray, W: np.ndarray, b: np.ndarray, y: np.ndarray) -> None:
    y[:] = np.maximum(x @ W + b, 0.0)


KERNEL = corpus_kernel(
    "mlp-layer",
    group="matrix-product",
    sizes={
        "MINI": {"N": 16, "DIN": 24, "DOUT": 20},
        "SMALL": {"N": 32, "DIN": 64, "DOUT": 48},
        "MEDIUM": {"N": 128, "DIN": 256, "DOUT": 192},
        "LARGE": {"N": 640, "DIN": 720, "DOUT": 500},
    },
    func=mlp_layer,
    init=init,
    reference=reference,
    # a multiply-add per (n, o, k), then the bias add's result goes through one max per output.
    flops=lambda N, DIN, DOUT: 2 * N * DIN * DOUT + N * DOUT,
    outputs=("y",),
)
