"""Probe recipes: a fixed set measured on every nest before the search starts.

They give every nest the same few measured responses (to parallelisation, loop
interchange, tiling, distribution, a library call), which the embedding learns to predict, and they are a sensible
first generation for the search. Loop paths are generic, so on a nest where a step does
not fit it is skipped; on a sequential target the OpenMP steps are left out.
"""

from __future__ import annotations

from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import Target

PROBES: dict[str, Recipe] = {
    "parallel": Recipe((Step("parallelize", ()),)),
    "swap": Recipe((Step("interchange", (), {"inner": (0,)}), Step("parallelize", ()))),
    "tile": Recipe((Step("tile", (), {"size": 32}), Step("parallelize", ()), Step("tile", (0, 0), {"size": 64}))),
    "swap_inner": Recipe((Step("interchange", (0,), {"inner": (0, 0)}), Step("parallelize", ()))),
    # Split a depth-3 body into init / accumulate / finalise loops and walk the
    # accumulation row-wise (covariance and correlation: 4x at MEDIUM where Polly gets 4x).
    "split_swap": Recipe((Step("distribute", (0,)), Step("distribute", (1,)),
                          Step("interchange", (1,), {"inner": (1, 0)}), Step("parallelize", ()))),
    # Matrix products as OpenBLAS calls (skipped where the nest computes none).
    "blas": Recipe((Step("blas", ()),)),
}
"""Name -> recipe. The names are stable: datasets refer to probes by them."""


def probes_for(target: Target) -> dict[str, Recipe]:
    """The probes as they apply to `target` (no OpenMP steps on a sequential one);
    empty and duplicate recipes are dropped."""
    out: dict[str, Recipe] = {}
    for name, recipe in PROBES.items():
        steps = tuple(s for s in recipe.steps if target.openmp or s.op != "parallelize")
        if steps and Recipe(steps) not in out.values():
            out[name] = Recipe(steps)
    return out
