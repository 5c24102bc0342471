"""nbody-accel: gravitational accelerations of N bodies with Plummer softening,
a_i = sum_j m_j (r_j - r_i) / (|r_j - r_i|^2 + eps^2)^(3/2)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.corpus._suite import corpus_kernel


def nbody_accel(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, mass: np.ndarray,
    ax: np.ndarray, ay: np.ndarray, az: np.ndarray,
) -> None:
    for i in range(px.shape[0]):
        ax[i] = 0.0
        ay[i] = 0.0
        az[i] = 0.0
        for j in range(px.shape[0]):
            dx = px[j] - px[i]
            dy = py[j] - py[i]
            dz = pz[j] - pz[i]
            r2 = dx * dx + dy * dy + dz * dz + 0.01
            s = mass[j] / (r2 * math.sqrt(r2))
            ax[i] += dx * s
            ay[i] += dy * s
            az[i] += dz * s


def init(N: int) -> dict:
    rng = np.random.default_rng(109)
    return {
        "px": rng.standard_normal(N),
        "py": rng.standard_normal(N),
        "pz": 0.5 * rng.standard_normal(N),
        "mass": 0.5 + rng.random(N),
        "ax": np.zeros(N),
        "ay": np.zeros(N),
        "az": np.zeros(N),
    }


def reference(
    px: np.ndarray, py: np.ndarray, pz: np.ndarray, mass: np.ndarray,
    ax: np.ndarray, ay: np.ndarray, az: np.ndarray,
) -> None:
    dx = px[None, :] - px[:, None]
    dy = py[None, :] - py[:, None]
    dz = pz[None, :] - pz[:, None]
    r2 = dx * dx
    r2 += dy * dy
    r2 += dz * dz
    r2 += 0.01
    s = np.sqrt(r2)
    s *= r2
    np.divide(mass[None, :], s, out=s)
    ax[:] = np.einsum("ij,ij->i", dx, s)
    ay[:] = np.einsum("ij,ij->i", dy, s)
    az[:] = np.einsum("ij,ij->i", dz, s)


KERNEL = corpus_kernel(
    "nbody-accel",
    group="all-pairs",
    sizes={
        "MINI": {"N": 40},
        "SMALL": {"N": 128},
        "MEDIUM": {"N": 1000},
        "LARGE": {"N": 4800},
    },
    func=nbody_accel,
    init=init,
    reference=reference,
    # per pair: 3 subs, 3 muls + 3 adds, sqrt, mul, div, 3 muls + 3 adds.
    flops=lambda N: 18 * N * N,
    outputs=("ax", "ay", "az"),
)
