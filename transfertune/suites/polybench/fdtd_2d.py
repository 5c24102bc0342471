"""fdtd-2d: 2-D finite-difference time-domain kernel (PolyBench/C 4.2.1, stencils)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def fdtd_2d(tmax: int, ex: np.ndarray, ey: np.ndarray, hz: np.ndarray, _fict_: np.ndarray) -> None:
    for t in range(tmax):
        for j in range(ex.shape[1]):
            ey[0, j] = _fict_[t]
        for i1 in range(1, ex.shape[0]):
            for j1 in range(ex.shape[1]):
                ey[i1, j1] = ey[i1, j1] - 0.5 * (hz[i1, j1] - hz[i1 - 1, j1])
        for i2 in range(ex.shape[0]):
            for j2 in range(1, ex.shape[1]):
                ex[i2, j2] = ex[i2, j2] - 0.5 * (hz[i2, j2] - hz[i2, j2 - 1])
        for i3 in range(ex.shape[0] - 1):
            for j3 in range(ex.shape[1] - 1):
                hz[i3, j3] = hz[i3, j3] - 0.7 * (
                    ex[i3, j3 + 1] - ex[i3, j3] + ey[i3 + 1, j3] - ey[i3, j3]
                )


def init(TMAX: int, NX: int, NY: int) -> dict:
    i = np.arange(NX, dtype=np.float64)[:, None]
    j = np.arange(NY, dtype=np.float64)[None, :]
    return {
        "tmax": TMAX,
        "ex": (i * (j + 1)) / NX,
        "ey": (i * (j + 2)) / NY,
        "hz": (i * (j + 3)) / NX,
        "_fict_": np.arange(TMAX, dtype=np.float64),
    }


def reference(
    tmax: int, ex: np.ndarray, ey: np.ndarray, hz: np.ndarray, _fict_: np.ndarray
) -> None:
    for t in range(tmax):
        ey[0, :] = _fict_[t]
        ey[1:, :] = ey[1:, :] - 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] = ex[:, 1:] - 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] = hz[:-1, :-1] - 0.7 * (
            ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1]
        )


KERNEL = polybench_kernel(
    "fdtd-2d",
    func=fdtd_2d,
    init=init,
    reference=reference,
    flops=lambda TMAX, NX, NY: TMAX
    * (3 * (NX - 1) * NY + 3 * NX * (NY - 1) + 5 * (NX - 1) * (NY - 1)),
    outputs=("ex", "ey", "hz"),
)
