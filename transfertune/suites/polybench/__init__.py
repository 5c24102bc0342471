"""The 30 PolyBench/C 4.2.1 kernels as Python loops (one module each)."""

from __future__ import annotations

import importlib

from transfertune.ir.kernel import Kernel

NAMES = (
    "correlation", "covariance",
    "gemm", "gemver", "gesummv", "symm", "syr2k", "syrk", "trmm",
    "2mm", "3mm", "atax", "bicg", "doitgen", "mvt",
    "cholesky", "durbin", "gramschmidt", "lu", "ludcmp", "trisolv",
    "deriche", "floyd-warshall", "nussinov",
    "adi", "fdtd-2d", "heat-3d", "jacobi-1d", "jacobi-2d", "seidel-2d",
)
"""Kernel names as PolyBench spells them, in the suite's order."""

FAMILIES = {
    **dict.fromkeys(("gemm", "2mm", "3mm", "syrk", "syr2k", "symm", "trmm", "covariance", "correlation"),
                    "matrix-product"),
    "doitgen": "tensor-contraction",
    **dict.fromkeys(("atax", "bicg", "mvt", "gemver", "gesummv"), "matrix-vector"),
    **dict.fromkeys(("cholesky", "durbin", "gramschmidt", "lu", "ludcmp", "trisolv"), "factorization"),
    **dict.fromkeys(("adi", "fdtd-2d", "heat-3d", "jacobi-1d", "jacobi-2d", "seidel-2d"), "stencil"),
    "deriche": "signal",
    "floyd-warshall": "all-pairs",
    "nussinov": "dynamic-programming",
}
"""The computation's family, in the corpus's vocabulary where one fits (covariance and
correlation are Gram products; deriche is a recursive filter), for checking at a glance
whether an embedding's neighbours make sense."""

NEST_COMPUTATIONS = {
    "atax": ("elementwise", "matrix-vector"),
    "bicg": ("elementwise", "matrix-vector"),
    "covariance": ("reduction", "elementwise", "matrix-product"),
    "correlation": ("reduction", "elementwise", "matrix-product"),
    "deriche": ("signal", "elementwise", "signal", "elementwise"),
    "gemver": ("matrix-vector", "matrix-vector", "elementwise", "matrix-vector"),
}
"""What each nest computes, by position as docc cuts the kernel, where its nests do not
all compute what the kernel does: covariance's first nest takes column means (a
reduction) and its second subtracts them (elementwise) before the Gram product; atax
and bicg zero a vector first. An embedding that puts row-sums next to covariance's mean
nest has found a reduction, and the sanity table must say so."""


def module_name(name: str) -> str:
    """Python module of kernel `name`: '-' -> '_', a leading digit gets a 'k' (2mm -> k2mm)."""
    mod = name.replace("-", "_")
    return f"k{mod}" if mod[0].isdigit() else mod


def get_kernel(name: str) -> Kernel:
    """The PolyBench kernel called `name`, with a clear error for unknown names."""
    if name not in NAMES:
        raise ValueError(f"unknown kernel {name!r}; PolyBench has: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{module_name(name)}").KERNEL


def all_kernels() -> list[Kernel]:
    """All 30 kernels in suite order."""
    return [get_kernel(n) for n in NAMES]
