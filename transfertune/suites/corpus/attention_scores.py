"""attention-scores: scaled dot-product attention logits S = Q K^T / sqrt(d)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def attention_scores(Q: np.ndarray, K: np.ndarray, S: np.ndarray) -> None:
    for i in range(Q.shape[0]):
        for j in range(K.shape[0]):
            S[i, j] = 0.0
            for d in range(Q.shape[1]):
                S[i, j] += Q[i, d] * K[j, d]
            S[i, j] = S[i, j] / math.sqrt(float(Q.shape[1]))


def init(N: int, M: int, D: int) -> dict:
    rng = np.random.default_rng(71)
    return {
        "Q": rng.standard_normal((N, D)),
        "K": rng.standard_normal((M, D)) + 0.25,
        "S": np.zeros((N, M)),
    }


def reference(Q: np.ndarray, K: np.ndarray, S: np.ndarray) -> None:
    S[:] = (Q @ K.T) / math.sqrt(Q.shape[1])


KERNEL = corpus_kernel(
    "attention-scores",
    group="matrix-product",
    sizes={
        "MINI": {"N": 20, "M": 24, "D": 16},
        "SMALL": {"N": 64, "M": 64, "D": 32},
        "MEDIUM": {"N": 256, "M": 256, "D": 64},
        "LARGE": {"N": 2048, "M": 3072, "D": 64},
    },
    func=attention_scores,
    init=init,
    reference=reference,
    flops=lambda N, M, D: 2 * N * M * D + 2 * N * M,
    outputs=("S",),
)
