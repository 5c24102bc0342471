"""seidel-2d: 2-D Gauss-Seidel 9-point stencil, in place (PolyBench/C 4.2.1, stencils)."""

from __future__ import annotations

import numpy as np

from transfertune.suites.polybench._suite import perturbed, polybench_kernel


def seidel_2d(tsteps: int, A: np.ndarray) -> None:
    for t in range(tsteps):
        for i in range(1, A.shape[0] - 1):
            for j in range(1, A.shape[1] - 1):
                A[i, j] = (
                    A[i - 1, j - 1]
                    + A[i - 1, j]
                    + A[i - 1, j + 1]
                    + A[i, j - 1]
                    + A[i, j]
                    + A[i, j + 1]
                    + A[i + 1, j - 1]
                    + A[i + 1, j]
                    + A[i + 1, j + 1]
                ) / 9.0


def init(TSTEPS: int, N: int) -> dict:
    i = np.arange(N, dtype=np.float64)[:, None]
    j = np.arange(N, dtype=np.float64)[None, :]
    return {"tsteps": TSTEPS, "A": (i * (j + 2) + 2) / N}


def reference(tsteps: int, A: np.ndarray) -> None:
    # Wavefront form of the same in-place sweep: interior point (i, j) only reads
    # already-updated points with a smaller w = 2*i + j and not-yet-updated points with a
    # larger w, so all points of one wavefront are updated together. In the flattened
    # array the points of wavefront w are the strided slice w + i*(n1-2), i = i_lo..i_hi.
    n0, n1 = A.shape
    flat = np.ascontiguousarray(A).reshape(-1)
    step = n1 - 2
    waves = []
    for w in range(3, 2 * (n0 - 2) + (n1 - 2) + 1):
        i_lo = max(1, -((step - w) // 2))  # ceil((w - (n1 - 2)) / 2)
        i_hi = min(n0 - 2, (w - 1) // 2)
        if i_lo <= i_hi:
            waves.append((i_lo * n1 + w - 2 * i_lo, i_hi * n1 + w - 2 * i_hi))
    for _ in range(tsteps):
        for lo, hi in waves:
            def at(off: int, lo: int = lo, hi: int = hi) -> np.ndarray:
                return flat[lo + off : hi + off + 1 : step]

            at(0)[:] = (
                at(-n1 - 1)
                + at(-n1)
                + at(-n1 + 1)
                + at(-1)
                + at(0)
                + at(1)
                + at(n1 - 1)
                + at(n1)
                + at(n1 + 1)
            ) / 9.0
    if not np.shares_memory(flat, A):  # A was not C-contiguous: write the result back
        A[:] = flat.reshape(n0, n1)


KERNEL = polybench_kernel(
    "seidel-2d",
    # PolyBench's data is a fixed point of this stencil: verify on perturbed data.
    check_init=perturbed(init, 'A'),
    func=seidel_2d,
    init=init,
    reference=reference,
    flops=lambda TSTEPS, N: TSTEPS * 9 * (N - 2) * (N - 2),
    outputs=("A",),
)
