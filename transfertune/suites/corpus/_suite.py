"""Shared plumbing of the corpus kernel modules: the Kernel factory and its checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from transfertune.ir.kernel import Kernel

GROUPS = (
    "matrix-product", "tensor-contraction", "convolution", "stencil", "reduction",
    "row-wise", "pooling", "all-pairs", "signal",
)
"""Computation families a corpus kernel may belong to (one each)."""

DATASETS = ("MINI", "SMALL", "MEDIUM", "LARGE")
"""Dataset names every corpus kernel defines, smallest first."""


def corpus_kernel(name: str, *, group: str, sizes: Mapping[str, Mapping[str, int]], **fields: Any) -> Kernel:
    """A `Kernel` for corpus program `name`, with its family and inline dataset sizes.

    The first dataset's parameter order is the probe order (see
    `transfertune.ir.program.probe_params`), so every dataset must list the same names.
    """
    if group not in GROUPS:
        raise ValueError(f"{name}: unknown group {group!r}; known: {', '.join(GROUPS)}")
    if tuple(sizes) != DATASETS:
        raise ValueError(f"{name}: datasets must be {', '.join(DATASETS)}, got {', '.join(sizes)}")
    names = list(sizes["MINI"])
    for dataset, params in sizes.items():
        if list(params) != names:
            raise ValueError(f"{name}: {dataset} has parameters {list(params)}, MINI has {names}")
    frozen = {dataset: dict(params) for dataset, params in sizes.items()}
    return Kernel(name=name, group=group, sizes=frozen, **fields)
