"""Probe recipes: a fixed set measured on every nest before the search starts.

They give every nest the same few measured responses (to parallelisation, loop
interchange, tiling, distribution, a library call), which the embedding learns to predict, and they are a sensible
first generation for the search. Loop paths are generic, so on a nest where a step does
not fit it is skipped; on a sequential target the OpenMP steps are left out.
"""

from __future__ import annotations

from transfertune.ir.loopnest import LoopNest
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import Target, backend_of

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


GPU_PROBES: dict[str, Recipe] = {
    "gpu_x64": Recipe((Step("offload", (), {"block": 64}),)),
    "gpu_xy": Recipe((Step("offload", (), {"block": 32}), Step("offload_nested", (0,), {"block": 8}))),
    # Walk the inner dimension along X (coalesced) when the map nest allows the swap.
    "gpu_swap_xy": Recipe((Step("interchange", (), {"inner": (0,)}), Step("offload", (), {"block": 64}),
                           Step("offload_nested", (0,), {"block": 4}))),
    # Split the nest into its statement groups, each part mapped on X and Y.
    "gpu_parts_xy": Recipe((Step("distribute", ()), Step("offload", (), {"block": 32}),
                            Step("offload_nested", (0,), {"block": 8}))),
    # A product's reduction loop sunk below the output's inner loop, then split: every
    # thread owns one output element (gemm's three-step mapping of the GPU issue) ...
    "gpu_sink_xy": Recipe((Step("interchange", (1,), {"inner": (1, 0)}), Step("distribute", ()),
                           Step("offload", (), {"block": 32}), Step("offload_nested", (0,), {"block": 8}))),
    # ... and with the output's inner loop on X, so neighbouring threads touch neighbouring elements.
    "gpu_sink_yx": Recipe((Step("interchange", (1,), {"inner": (1, 0)}), Step("distribute", ()),
                           Step("interchange", (), {"inner": (0,)}), Step("offload", (), {"block": 64}),
                           Step("offload_nested", (0,), {"block": 4}))),
    # Under a sequential outer loop (time steps, a pivot): the maps inside it offloaded,
    # each launch working on device-resident arrays (no copies between launches) ...
    "gpu_inner": Recipe(tuple(Step("offload", (k,), {"block": 64}) for k in range(4))),
    # ... with each of those maps' nested map on Y ...
    "gpu_inner_xy": Recipe(tuple(step for k in range(4) for step in (
        Step("offload", (k,), {"block": 32}), Step("offload_nested", (k, 0), {"block": 8})))),
    # ... and swapped first, so the inner dimension runs along X (neighbouring threads
    # read neighbouring elements; i on X had them a row or a plane apart on heat-3d).
    "gpu_inner_swap": Recipe(tuple(step for k in range(4) for step in (
        Step("interchange", (k,), {"inner": (k, 0)}), Step("offload", (k,), {"block": 64}),
        Step("offload_nested", (k, 0), {"block": 4})))),
}
"""The GPU's probes: mappings of a nest onto the grid. The steps after a ``distribute`` of
the root apply to every part it made (`transfertune.ir.transform.apply_recipe`)."""


UNDER_SEQUENTIAL = frozenset({"gpu_inner", "gpu_inner_xy", "gpu_inner_swap"})
"""Probes that map the loops inside a nest's outermost loop, for an outermost loop that
runs in order (time steps). Under a map they launch once per outer iteration: on the
H200 gemm's took 2.1 s a call against 0.15 s untouched, so they are not measured there."""

PROBE_SETS: dict[str, dict[str, Recipe]] = {"cpu": PROBES, "cuda": GPU_PROBES}
"""Each backend's probes, by backend name."""


def probe_names(target: str) -> tuple[str, ...]:
    """Names of the probes of targets called `target`: the responses measured there."""
    return tuple(PROBE_SETS[backend_of(target).name])


def probes_for(target: Target, nest: LoopNest | None = None) -> dict[str, Recipe]:
    """The probes as they apply to `target` (steps its backend does not build dropped,
    e.g. OpenMP on a sequential one), and to `nest` where given (`UNDER_SEQUENTIAL` only
    under an outermost loop that is no map); empty and duplicate recipes are dropped."""
    backend = backend_of(target)
    ops = backend.ops(target)
    under_map = nest is not None and nest.outermost == "map"
    out: dict[str, Recipe] = {}
    for name, recipe in PROBE_SETS[backend.name].items():
        if under_map and name in UNDER_SEQUENTIAL:
            continue
        steps = tuple(s for s in recipe.steps if s.op in ops)
        if steps and Recipe(steps) not in out.values():
            out[name] = Recipe(steps)
    return out
