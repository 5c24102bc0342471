"""A corpus of loop kernels beyond PolyBench (one module each), grouped by family.

Image filters and convolutions, ML layers, tensor contractions, reductions, stencils,
dense all-pairs interactions and signal processing, each written from its mathematical
definition as plain Python loops with a vectorised NumPy reference.
"""

from __future__ import annotations

import importlib

from transfertune.ir.kernel import Kernel

NAMES = (
    # matrix-product
    "mlp-layer", "attention-scores", "gram-matrix",
    # tensor-contraction
    "batched-matmul", "tensor-times-matrix", "tensor-contract-4d",
    # convolution
    "box-blur", "conv2d", "sobel", "conv2d-nchw", "depthwise-conv",
    # stencil
    "diffusion-1d", "laplacian-2d", "poisson-3d",
    # reduction
    "row-sums", "col-means", "row-l2-norm", "batched-dot",
    # row-wise
    "softmax", "layernorm", "rmsnorm",
    # pooling
    "maxpool-2x2", "avgpool-3x3s2",
    # all-pairs
    "pairwise-distance", "nbody-accel", "rbf-kernel",
    # signal
    "fir-filter", "dft", "autocorrelation",
)
"""Kernel names, grouped by family."""


def module_name(name: str) -> str:
    """Python module of kernel `name`: '-' -> '_' (conv2d-nchw -> conv2d_nchw)."""
    return name.replace("-", "_")


def get_kernel(name: str) -> Kernel:
    """The corpus kernel called `name`, with a clear error for unknown names."""
    if name not in NAMES:
        raise ValueError(f"unknown kernel {name!r}; the corpus has: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{module_name(name)}").KERNEL


def all_kernels() -> list[Kernel]:
    """All corpus kernels in `NAMES` order."""
    return [get_kernel(n) for n in NAMES]
