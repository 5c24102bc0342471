"""deriche: Deriche recursive edge-detection filter (PolyBench/C 4.2.1, medley)."""

from __future__ import annotations

import math

import numpy as np

from transfertune.suites.polybench._suite import polybench_kernel


def deriche(
    alpha: float, imgIn: np.ndarray, imgOut: np.ndarray, y1: np.ndarray, y2: np.ndarray
) -> None:
    k = (
        (1.0 - math.exp(-alpha))
        * (1.0 - math.exp(-alpha))
        / (1.0 + 2.0 * alpha * math.exp(-alpha) - math.exp(2.0 * alpha))
    )
    a1 = k
    a5 = k
    a2 = k * math.exp(-alpha) * (alpha - 1.0)
    a6 = a2
    a3 = k * math.exp(-alpha) * (alpha + 1.0)
    a7 = a3
    a4 = -k * math.exp(-2.0 * alpha)
    a8 = a4
    b1 = math.pow(2.0, -alpha)
    b2 = -math.exp(-2.0 * alpha)
    c1 = 1.0
    c2 = 1.0
    # Accumulators start at `0.0 * alpha`, not `0.0`: docc 0.8.1's simplify() forwards a
    # constant initial value into the loop-carried update (t += x becomes t = 0.0 + x),
    # a wrong result; a non-constant initialiser is left alone. Same value for finite alpha.
    for i1 in range(imgIn.shape[0]):
        ym1 = 0.0 * alpha
        ym2 = 0.0 * alpha
        xm1 = 0.0 * alpha
        for j1 in range(imgIn.shape[1]):
            y1[i1, j1] = a1 * imgIn[i1, j1] + a2 * xm1 + b1 * ym1 + b2 * ym2
            xm1 = imgIn[i1, j1]
            ym2 = ym1
            ym1 = y1[i1, j1]
    for i2 in range(imgIn.shape[0]):
        yp1 = 0.0 * alpha
        yp2 = 0.0 * alpha
        xp1 = 0.0 * alpha
        xp2 = 0.0 * alpha
        for j2 in range(imgIn.shape[1] - 1, -1, -1):
            y2[i2, j2] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2
            xp2 = xp1
            xp1 = imgIn[i2, j2]
            yp2 = yp1
            yp1 = y2[i2, j2]
    for i3 in range(imgIn.shape[0]):
        for j3 in range(imgIn.shape[1]):
            imgOut[i3, j3] = c1 * (y1[i3, j3] + y2[i3, j3])
    for j4 in range(imgIn.shape[1]):
        tm1 = 0.0 * alpha
        ym1b = 0.0 * alpha
        ym2b = 0.0 * alpha
        for i4 in range(imgIn.shape[0]):
            y1[i4, j4] = a5 * imgOut[i4, j4] + a6 * tm1 + b1 * ym1b + b2 * ym2b
            tm1 = imgOut[i4, j4]
            ym2b = ym1b
            ym1b = y1[i4, j4]
    for j5 in range(imgIn.shape[1]):
        tp1 = 0.0 * alpha
        tp2 = 0.0 * alpha
        yp1b = 0.0 * alpha
        yp2b = 0.0 * alpha
        for i5 in range(imgIn.shape[0] - 1, -1, -1):
            y2[i5, j5] = a7 * tp1 + a8 * tp2 + b1 * yp1b + b2 * yp2b
            tp2 = tp1
            tp1 = imgOut[i5, j5]
            yp2b = yp1b
            yp1b = y2[i5, j5]
    for i6 in range(imgIn.shape[0]):
        for j6 in range(imgIn.shape[1]):
            imgOut[i6, j6] = c2 * (y1[i6, j6] + y2[i6, j6])


def init(W: int, H: int) -> dict:
    i = np.arange(W, dtype=np.int64)[:, None]
    j = np.arange(H, dtype=np.int64)[None, :]
    return {
        "alpha": 0.25,
        "imgIn": ((313 * i + 991 * j) % 65536).astype(np.float64) / 65535.0,
        "imgOut": np.zeros((W, H), dtype=np.float64),
        "y1": np.zeros((W, H), dtype=np.float64),
        "y2": np.zeros((W, H), dtype=np.float64),
    }


def _coefficients(alpha: float) -> tuple[float, ...]:
    ea = math.exp(-alpha)
    k = (1.0 - ea) * (1.0 - ea) / (1.0 + 2.0 * alpha * ea - math.exp(2.0 * alpha))
    a1 = k
    a2 = k * ea * (alpha - 1.0)
    a3 = k * ea * (alpha + 1.0)
    a4 = -k * math.exp(-2.0 * alpha)
    b1 = math.pow(2.0, -alpha)
    b2 = -math.exp(-2.0 * alpha)
    return a1, a2, a3, a4, b1, b2


def _causal(x: np.ndarray, out: np.ndarray, a1: float, a2: float, b1: float, b2: float) -> None:
    """out[:, j] = a1*x[:, j] + a2*x[:, j-1] + b1*out[:, j-1] + b2*out[:, j-2] along axis 1."""
    xm1 = np.zeros(x.shape[0])
    ym1 = np.zeros(x.shape[0])
    ym2 = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        out[:, j] = a1 * x[:, j] + a2 * xm1 + b1 * ym1 + b2 * ym2
        xm1 = x[:, j]
        ym2 = ym1
        ym1 = out[:, j]


def _anticausal(x: np.ndarray, out: np.ndarray, a3: float, a4: float, b1: float, b2: float) -> None:
    """Backward recursion along axis 1."""
    xp1 = np.zeros(x.shape[0])
    xp2 = np.zeros(x.shape[0])
    yp1 = np.zeros(x.shape[0])
    yp2 = np.zeros(x.shape[0])
    for j in range(x.shape[1] - 1, -1, -1):
        out[:, j] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2
        xp2 = xp1
        xp1 = x[:, j]
        yp2 = yp1
        yp1 = out[:, j]


def reference(
    alpha: float, imgIn: np.ndarray, imgOut: np.ndarray, y1: np.ndarray, y2: np.ndarray
) -> None:
    a1, a2, a3, a4, b1, b2 = _coefficients(alpha)
    _causal(imgIn, y1, a1, a2, b1, b2)
    _anticausal(imgIn, y2, a3, a4, b1, b2)
    imgOut[:] = y1 + y2
    # vertical passes: the same recursions along axis 0 (transposed views write through)
    _causal(imgOut.T, y1.T, a1, a2, b1, b2)
    _anticausal(imgOut.T, y2.T, a3, a4, b1, b2)
    imgOut[:] = y1 + y2


KERNEL = polybench_kernel(
    "deriche",
    func=deriche,
    init=init,
    reference=reference,
    # 4 passes x 7 ops + 2 passes x 2 ops per pixel, plus 27 ops for the coefficients
    flops=lambda W, H: 32 * W * H + 27,
    outputs=("imgOut",),
)
