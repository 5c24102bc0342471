"""Shared plumbing of the PolyBench kernel modules: sizes and the Kernel factory."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from transfertune.ir.kernel import Args, Kernel


@cache
def _sizes() -> dict[str, Any]:
    """PolyBench/C 4.2.1 dataset sizes (copied from the benchmark headers)."""
    text = resources.files(__package__).joinpath("sizes.json").read_text()
    return json.loads(text)["kernels"]


def polybench_kernel(name: str, **fields: Any) -> Kernel:
    """A `Kernel` for PolyBench program `name`, with group and sizes from sizes.json."""
    entry = _sizes()[name]
    return Kernel(name=name, group=entry["group"], sizes=entry["sizes"], **fields)


def perturbed(init: Callable[..., Args], *arrays: str, seed: int = 0) -> Callable[..., Args]:
    """`init` plus deterministic uniform noise in [0, 1) on the named arrays.

    For verification inputs where the benchmark's data is a fixed point of the kernel
    (heat-3d, seidel-2d): with them, a variant that skips work would still pass.
    """

    def init_with_noise(**params: int) -> Args:
        args = init(**params)
        rng = np.random.default_rng(seed)
        for name in arrays:
            args[name] = args[name] + rng.random(args[name].shape)
        return args

    return init_with_noise
