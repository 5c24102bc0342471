"""diffusion-1d: explicit time stepping of the 1-D heat equation with a 3-point stencil,
v = u + r (u[i-1] - 2 u[i] + u[i+1]), then copy back (fixed boundary values)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def diffusion_1d(tsteps: int, u: np.ndarray, v: np.ndarray) -> None:
    for t in range(tsteps):
        for i1 in range(1, u.shape[0] - 1):
            v[i1] = u[i1] + 0.3 * (u[i1 - 1] - 2.0 * u[i1] + u[i1 + 1])
        for i2 in range(1, u.shape[0] - 1):
            u[i2] = v[i2]


def init(TSTEPS: int, N: int) -> dict:
    rng = np.random.default_rng(47)
    x = np.arange(N, dtype=np.float64)
    u = np.sin(0.05 * x) + rng.random(N)
    return {"tsteps": TSTEPS, "u": u, "v": np.zeros(N)}


def reference(tsteps: int, u: np.ndarray, v: np.ndarray) -> None:
    for _ in range(tsteps):
        v[1:-1] = u[1:-1] + 0.3 * (u[:-2] - 2.0 * u[1:-1] + u[2:])
        u[1:-1] = v[1:-1]


KERNEL = corpus_kernel(
    "diffusion-1d",
    group="stencil",
    sizes={
        "MINI": {"TSTEPS": 20, "N": 60},
        "SMALL": {"TSTEPS": 40, "N": 300},
        "MEDIUM": {"TSTEPS": 100, "N": 40000},
        "LARGE": {"TSTEPS": 500, "N": 200000},
    },
    func=diffusion_1d,
    init=init,
    reference=reference,
    flops=lambda TSTEPS, N: 5 * TSTEPS * (N - 2),
    outputs=("u", "v"),
)
