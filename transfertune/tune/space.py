"""Search spaces: which transformations are legal where, found by asking docc.

Candidates are grown step by step on a real SDFG: at each step the legal moves of the
*current* loop tree are enumerated (docc's can_be_applied), one is picked and applied.
So every step of a sampled recipe was legal when it was chosen and loop paths always
point at the loops they mean. All docc work runs in a forked child (`sample`).
"""

from __future__ import annotations

import random

from docc import sdfg as d

from transfertune.ir.blas import NotMatrixProduct, replace_products
from transfertune.ir.dependence import accumulation
from transfertune.ir.program import Program
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import Target, backend_of
from transfertune.ir.transform import (
    SEMANTIC_REWRITES,
    NotApplicable,
    apply_recipe,
    child_loops,
    loop_paths,
    transformation_for,
)
from transfertune.isolated import run_isolated

TILE_SIZES = (4, 8, 16, 32, 64, 128, 256)
BLOCK_SIZES = {"offload": (32, 64, 128, 256), "offload_nested": (1, 2, 4, 8, 16)}
"""GPU threads a block: along X for the offloaded map, along the next dimension for a
nested one (their product stays within a block's 1024 threads)."""
WEIGHTS = {"tile": 6.0, "interchange": 4.0, "parallelize": 3.0, "vectorize": 1.0, "unroll": 1.0,
           "distribute": 1.0, "local_storage": 0.5, "blas": 3.0, "offload": 3.0, "offload_nested": 3.0,
           "shared_storage": 0.5}
"""How often each kind of legal move is picked: tiling and interchange change locality,
the rest mostly help once the loop structure is right; a library call, where one fits,
is usually the fastest way to compute a matrix product."""


def legal_moves(sdfg: d.StructuredSDFG, nest: int, target: Target) -> list[Step]:
    """Steps the target's backend builds and docc accepts on the SDFG as it is now
    (tile legality checked at size 32, GPU block sizes at 32 and 8)."""
    builder = d.StructuredSDFGBuilder(sdfg)
    ops = backend_of(target).ops(target)
    moves = []
    paths = loop_paths(sdfg, nest)
    text = sdfg.to_json()
    for path, loop in paths:
        children = child_loops(loop)
        candidates = [Step("tile", path, {"size": 32}), Step("vectorize", path), Step("unroll", path),
                      Step("distribute", path), Step("parallelize", path), Step("offload", path, {"block": 32}),
                      Step("offload_nested", path, {"block": 8})]
        if len(children) == 1:
            candidates.append(Step("interchange", path, {"inner": path + (0,)}))
        if not children and (summed := accumulation(text, loop.element_id)[0]) is not None:
            candidates.append(Step("local_storage", path, {"container": summed, "direction": "out"}))
        if not path and "blas" in ops and _has_product(sdfg, loop):
            moves.append(Step("blas", path))
        for step in (c for c in candidates if c.op in ops):
            try:
                manager = d.AnalysisManager(builder)
                root = manager.loop_analysis().outermost_loops()[nest]
                # A step our own proof widens (a map, a reduction) is asked on the rewrite it applies to.
                there = SEMANTIC_REWRITES[step.op](sdfg, root, step) if step.op in SEMANTIC_REWRITES else sdfg
                there_builder = builder
                if there is not sdfg:
                    there_builder = d.StructuredSDFGBuilder(there)
                    manager = d.AnalysisManager(there_builder)
                    root = manager.loop_analysis().outermost_loops()[nest]
                if transformation_for(step, root, there).can_be_applied(there_builder, manager):
                    moves.append(step)
            except NotApplicable:
                continue
            except Exception:  # noqa: BLE001 - docc raises assorted types for "does not fit"
                continue
    return moves


def _has_product(sdfg: d.StructuredSDFG, loop: object) -> bool:
    """Whether a ``blas`` step at `loop` would find a matrix product (tried on a copy)."""
    try:
        replace_products(sdfg, loop)
    except NotMatrixProduct:
        return False
    return True


def sample(program: Program, nest: int, target: Target, seed: int, steps: int,
           prefix: Recipe | None = None) -> Recipe | None:
    """Replay `prefix` (dropping steps that no longer apply), then grow it by `steps`
    random legal moves. None if docc failed on the way."""
    outcome = run_isolated(_sample, program, nest, target, seed, steps, prefix or Recipe(), timeout=120)
    return outcome.value if outcome.ok else None


def _sample(program: Program, nest: int, target: Target, seed: int, steps: int, prefix: Recipe) -> Recipe:
    rng = random.Random(seed)
    sdfg = program.sdfg()
    sdfg, replayed = apply_recipe(sdfg, prefix, nest=nest)
    kept = [r.step for r in replayed if r.applied]
    for _ in range(steps):
        if kept and kept[-1].op == "blas":
            break  # a library call ends the nest's recipe
        moves = legal_moves(sdfg, nest, target)
        if any(s.op in ("parallelize", "offload") for s in kept):
            moves = [m for m in moves if m.op not in ("parallelize", "offload")]  # no nested parallel regions
        elif target.openmp or "offload" in backend_of(target).ops(target):
            parallel = [m for m in moves if m.op in ("parallelize", "offload")]
            # Most of the gain on a parallel target: take it first, outermost loop first.
            if parallel and rng.random() < 0.8:
                moves = parallel[:1]
        if kept and kept[-1].op == "interchange":
            moves = [m for m in moves if m != kept[-1]]  # would undo the last step
        if not moves:
            break
        move = rng.choices(moves, weights=[WEIGHTS[m.op] for m in moves])[0]
        if move.op == "tile":
            move = Step("tile", move.loop, {"size": rng.choice(TILE_SIZES)})
        elif move.op in BLOCK_SIZES:
            move = Step(move.op, move.loop, {"block": rng.choice(BLOCK_SIZES[move.op])})
        sdfg, (result,) = apply_recipe(sdfg, Recipe((move,)), nest=nest)
        if result.applied:
            kept.append(move)
            if move.op == "local_storage" and rng.random() < SUM_VECTORIZE:
                sdfg, (then,) = apply_recipe(sdfg, Recipe((Step("vectorize", move.loop),)), nest=nest)
                kept += [then.step] if then.applied else []
            if move.op == "distribute" and move.loop and rng.random() < SPLIT_SWAP:
                kept += split_swap(sdfg, nest, move.loop, rng)
    return Recipe(tuple(kept))


SUM_VECTORIZE = 0.8
"""How often a dot product summed in a local buffer is vectorised at once: the buffer
alone gains little (cholesky 1.05x), the two together 5.5x; as two random steps in a
row a short walk rarely takes them."""

SPLIT_SWAP = 0.7
"""How often a distribution is carried through (`split_swap`) rather than left as one step."""


def split_swap(sdfg: d.StructuredSDFG, nest: int, path: tuple[int, ...], rng: random.Random) -> list[Step]:
    """Finish a distribution of the loop at `path` (already applied): distribute the new
    sibling loops until each holds one statement or loop, then interchange, each with
    probability one half, those that now wrap exactly one loop.

    This is the move that turns a column walk inside a triangular nest into a row walk
    (covariance, correlation: split the init/accumulate/finalise statements of the `j`
    loop, then swap `j` below `k`); as single random steps it is three moves in a row
    that are each useless alone, which a short random walk almost never finds.
    """
    parent, first = path[:-1], path[-1]
    steps: list[Step] = []

    def siblings() -> list[object]:
        roots = d.AnalysisManager(d.StructuredSDFGBuilder(sdfg)).loop_analysis().outermost_loops()
        node = roots[nest]
        for i in parent:
            node = child_loops(node)[i]
        return child_loops(node)

    index = first
    while index < len(siblings()):
        step = Step("distribute", parent + (index,))
        if apply_recipe(sdfg, Recipe((step,)), nest=nest)[1][0].applied:
            steps.append(step)
        index += 1
    wrappers = [i for i, loop in enumerate(siblings()) if i >= first and len(child_loops(loop)) == 1]
    for index in wrappers:
        here = parent + (index,)
        step = Step("interchange", here, {"inner": here + (0,)})
        if rng.random() < 0.5 and apply_recipe(sdfg, Recipe((step,)), nest=nest)[1][0].applied:
            steps.append(step)
    return steps


def mutate(recipe: Recipe, rng: random.Random) -> tuple[Recipe, int]:
    """A variation of `recipe` as (prefix to replay, number of new steps to grow):
    change a tile size, drop a step, or cut the tail and regrow it."""
    steps = list(recipe.steps)
    tiles = [i for i, s in enumerate(steps) if s.op == "tile"]
    choice = rng.random()
    if tiles and choice < 0.4:
        i = rng.choice(tiles)
        sizes = [t for t in TILE_SIZES if t != steps[i].params["size"]]
        steps[i] = Step("tile", steps[i].loop, {"size": rng.choice(sizes)})
        return Recipe(tuple(steps)), 0
    if steps and choice < 0.6:
        del steps[rng.randrange(len(steps))]
        return Recipe(tuple(steps)), 1
    cut = rng.randrange(len(steps) + 1)
    return Recipe(tuple(steps[:cut])), rng.randint(1, 2)
