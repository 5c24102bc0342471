"""Kernel suites: benchmark programs as plain Python loops with their NumPy references.

Each suite is a package exposing ``NAMES`` and ``get_kernel(name)``; `get_kernel` here
finds a kernel in any suite, so the rest of transfertune never has to know which one.
"""

from __future__ import annotations

import importlib

from transfertune.ir.kernel import Kernel

SUITES = ("polybench", "corpus", "augmented")
"""Suite packages under `transfertune.suites`, searched in this order (``augmented``:
rewrites of the other two, training data for the embedding)."""


def suite_names(suite: str) -> tuple[str, ...]:
    """Kernel names of one suite, in its own order."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
    return importlib.import_module(f"{__name__}.{suite}").NAMES


def suite_of(name: str) -> str:
    """The suite that holds kernel `name`; a clear error naming the suites otherwise."""
    for suite in SUITES:
        if name in suite_names(suite):
            return suite
    raise ValueError(f"unknown kernel {name!r}; suites: " + "; ".join(
        f"{s}: {', '.join(suite_names(s))}" for s in SUITES))


def get_kernel(name: str) -> Kernel:
    """The kernel called `name`, from whichever suite holds it."""
    return importlib.import_module(f"{__name__}.{suite_of(name)}").get_kernel(name)


def suite_or_none(name: str) -> str | None:
    """The suite that holds `name`, or None (programs from users, service clients, the farm)."""
    try:
        return suite_of(name)
    except ValueError:
        return None


def group_of(name: str) -> str:
    """A suite kernel's group; ``other`` for programs no suite holds."""
    return get_kernel(name).group if suite_or_none(name) else "other"


def computation_of(name: str, position: int | None = None) -> str:
    """What the kernel computes, finely (matrix-product, tensor-contraction, convolution,
    pooling, ...): the corpus's groups, and PolyBench's `FAMILIES` (an augmented
    variant's is its base kernel's); ``other`` for programs no suite holds. With
    `position`, what that nest of the kernel computes (`NEST_COMPUTATIONS`: a mean
    before a product is a reduction)."""
    from transfertune.suites.augmented import base_of
    from transfertune.suites.polybench import FAMILIES, NEST_COMPUTATIONS

    name = base_of(name)
    per_nest = NEST_COMPUTATIONS.get(name, ())
    if position is not None and position < len(per_nest):
        return per_nest[position]
    return FAMILIES.get(name) or (get_kernel(name).group if suite_or_none(name) == "corpus" else "other")


FAMILY_OF_COMPUTATION = {
    **dict.fromkeys(("matrix-product", "tensor-contraction"), "matrix-product"),
    **dict.fromkeys(("stencil", "convolution", "pooling"), "stencil"),
    **dict.fromkeys(("reduction", "row-wise"), "reduction"),
}
"""Computations of one family in the sense of the embedding issue (matrix product,
stencil, reduction, triangular solve, ...): a batched matmul or a tensor contraction is
a matrix product; a small-filter convolution and a pooling window compute a grid point
from a fixed neighbourhood, as a stencil does; softmax and the norms are row reductions
followed by maps. Any other computation is its own family."""


def family_of(name: str, position: int | None = None) -> str:
    """The computation's family (`FAMILY_OF_COMPUTATION`) of the kernel, or with
    `position` of that nest: what the sanity table and the embedding map judge
    neighbours by."""
    computation = computation_of(name, position)
    return FAMILY_OF_COMPUTATION.get(computation, computation)
