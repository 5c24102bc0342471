"""poisson-3d: Jacobi iterations for the 3-D Poisson equation -lap(u) = f (7-point stencil),
alternating between two grids; boundary values stay fixed."""

from __future__ import annotations

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def poisson_3d(tsteps: int, h2: float, f: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    for t in range(tsteps):
        for i1 in range(1, u.shape[0] - 1):
            for j1 in range(1, u.shape[1] - 1):
                for k1 in range(1, u.shape[2] - 1):
                    v[i1, j1, k1] = (
                        u[i1 - 1, j1, k1] + u[i1 + 1, j1, k1]
                        + u[i1, j1 - 1, k1] + u[i1, j1 + 1, k1]
                        + u[i1, j1, k1 - 1] + u[i1, j1, k1 + 1]
                        + h2 * f[i1, j1, k1]
                    ) / 6.0
        for i2 in range(1, u.shape[0] - 1):
            for j2 in range(1, u.shape[1] - 1):
                for k2 in range(1, u.shape[2] - 1):
                    u[i2, j2, k2] = (
                        v[i2 - 1, j2, k2] + v[i2 + 1, j2, k2]
                        + v[i2, j2 - 1, k2] + v[i2, j2 + 1, k2]
                        + v[i2, j2, k2 - 1] + v[i2, j2, k2 + 1]
                        + h2 * f[i2, j2, k2]
                    ) / 6.0


def init(TSTEPS: int, NX: int, NY: int, NZ: int) -> dict:
    rng = np.random.default_rng(59)
    i = np.arange(NX, dtype=np.float64)[:, None, None]
    j = np.arange(NY, dtype=np.float64)[None, :, None]
    k = np.arange(NZ, dtype=np.float64)[None, None, :]
    f = np.sin(0.3 * i) * np.cos(0.2 * j) + 0.1 * k
    u = rng.random((NX, NY, NZ))
    return {"tsteps": TSTEPS, "h2": 0.01, "f": f, "u": u, "v": u.copy()}


def _sweep(h2: float, f: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
    dst[1:-1, 1:-1, 1:-1] = (
        src[:-2, 1:-1, 1:-1] + src[2:, 1:-1, 1:-1]
        + src[1:-1, :-2, 1:-1] + src[1:-1, 2:, 1:-1]
        + src[1:-1, 1:-1, :-2] + src[1:-1, 1:-1, 2:]
        + h2 * f[1:-1, 1:-1, 1:-1]
    ) / 6.0


def reference(tsteps: int, h2: float, f: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
    for _ in range(tsteps):
        _sweep(h2, f, u, v)
        _sweep(h2, f, v, u)


KERNEL = corpus_kernel(
    "poisson-3d",
    group="stencil",
    sizes={
        "MINI": {"TSTEPS": 10, "NX": 10, "NY": 12, "NZ": 14},
        "SMALL": {"TSTEPS": 20, "NX": 20, "NY": 22, "NZ": 24},
        "MEDIUM": {"TSTEPS": 20, "NX": 40, "NY": 44, "NZ": 48},
        "LARGE": {"TSTEPS": 40, "NX": 120, "NY": 128, "NZ": 136},
    },
    func=poisson_3d,
    init=init,
    reference=reference,
    # per point and sweep: 6 adds, 1 mul, 1 add, 1 div; two sweeps per step.
    flops=lambda TSTEPS, NX, NY, NZ: 2 * 9 * TSTEPS * (NX - 2) * (NY - 2) * (NZ - 2),
    outputs=("u", "v"),
)
