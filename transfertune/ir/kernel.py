"""The `Kernel` value object: one benchmark program as plain Python loops.

A kernel carries everything needed to build, run and check it, so that the rest
of transfertune never has to know which suite a program came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Args = dict[str, Any]
"""Kernel arguments by parameter name, in the order of the loop function's signature."""


@dataclass(frozen=True, eq=False)
class Kernel:
    """A program as docc-parseable Python loops plus its NumPy ground truth.

    `func` is the untouched loop code (the loop order of the original C source):
    it is the baseline every recipe is measured against, so it is never
    pre-optimised. `reference` computes the same result with NumPy and is the
    judge of every variant's correctness. Kernels are singletons: equality and
    hashing are by identity.
    """

    name: str
    """Benchmark name as the suite spells it, e.g. ``"fdtd-2d"``."""
    group: str
    """Suite category, e.g. ``"linear-algebra/blas"``."""
    func: Callable[..., None]
    """Loop code; mutates its array arguments in place; returns nothing."""
    init: Callable[..., Args]
    """``init(**params)`` -> fresh, deterministic arguments for the given problem size."""
    reference: Callable[..., None]
    """``reference(**args)``: NumPy version of `func`, mutating its arrays the same way."""
    flops: Callable[..., int]
    """``flops(**params)``: floating-point operations of one run, for GFLOP/s."""
    outputs: tuple[str, ...]
    """Names of the arrays `func` writes; verification compares exactly these."""
    sizes: Mapping[str, Mapping[str, int]]
    """Dataset name (MINI .. EXTRALARGE) -> problem-size parameters."""
    check_init: Callable[..., Args] | None = None
    """Inputs for verification where the benchmark's own data cannot tell a wrong variant
    from a right one (an output that never changes, or rank-deficient data whose result
    is rounding noise); None means `init` is used."""
    numpy_peer: bool = False
    """`reference` is a few whole-array NumPy calls (no Python loops), so timing it is
    fair: it is then the ``numpy`` peer, what a NumPy user would write instead."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Kernels travel to measuring workers (process pools, Dask) by name: a suite
        kernel is looked up again there; a user kernel travels detached (name and outputs:
        all measuring needs, its program comes with the workload)."""
        if self.group == "user":
            return detached_kernel, (self.name, self.outputs)
        return _suite_kernel, (self.name,)

    def params(self, size: str) -> dict[str, int]:
        """Problem-size parameters of dataset `size`; a clear error for unknown names."""
        try:
            return dict(self.sizes[size])
        except KeyError:
            known = ", ".join(self.sizes)
            raise ValueError(f"unknown size {size!r} for {self.name}; known: {known}") from None

    def arguments(self, size: str | Mapping[str, int]) -> Args:
        """Fresh inputs for a dataset name or explicit parameters."""
        params = self.params(size) if isinstance(size, str) else dict(size)
        return self.init(**params)


    def check_arguments(self, size: str | Mapping[str, int]) -> Args:
        """Fresh inputs for verifying a variant at `size` (see `check_init`)."""
        params = self.params(size) if isinstance(size, str) else dict(size)
        return (self.check_init or self.init)(**params)


def copy_args(args: Mapping[str, Any]) -> Args:
    """Deep copy of the arrays in `args` (scalars are immutable and shared)."""
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in args.items()}


def detached_kernel(name: str, outputs: tuple[str, ...]) -> Kernel:
    """A user kernel without its function: what a worker measuring its program needs."""

    def unavailable(**_: Any) -> Any:
        raise RuntimeError(f"{name}: a detached user kernel has no code or reference here")

    return Kernel(name=name, group="user", func=unavailable, init=unavailable, reference=unavailable,
                  flops=lambda **_: 0, outputs=outputs, sizes={})


def _suite_kernel(name: str) -> Kernel:
    from transfertune.suites import get_kernel  # suites sit above ir: imported only on unpickling

    return get_kernel(name)
