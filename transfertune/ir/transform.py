"""Apply a recipe to an SDFG: resolve portable loop paths to docc loops, check
legality with docc, apply, and report what happened to every step.

A step that cannot be applied here (no loop at that path, docc says it is not legal,
the loop is not a parallel map, ...) is *skipped* with a reason, never an error: a
recipe ported from another nest is expected to fit only partly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from docc import sdfg as d

from transfertune.ir.blas import NotMatrixProduct, replace_products
from transfertune.ir.dependence import (
    accumulation,
    distributable,
    find_loop,
    independent_iterations,
    interchangeable,
    private_scalars,
)
from transfertune.ir.recipe import OPERATIONS, ProgramRecipe, Recipe, Step

REPLAYABLE_OPS = frozenset(OPERATIONS) - {"blas"}
"""Operations applied as docc transformations, which docc's Recorder records and docc's
own client replays. ``blas`` rewrites the SDFG's JSON into library calls instead
(`transfertune.ir.blas`): no Recorder step can carry it, so a client cannot replay it."""

PARALLEL_OPS = frozenset({"parallelize", "offload", "offload_nested"})
"""Operations that run a loop's iterations at the same time."""


@dataclass(frozen=True)
class StepResult:
    """What became of one step: applied, or skipped with the reason."""

    nest: int
    step: Step
    applied: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"nest": self.nest, "step": self.step.to_json(), "applied": self.applied,
                "reason": self.reason}


def apply_program_recipe(sdfg: d.StructuredSDFG, recipe: ProgramRecipe | Recipe,
                         recorder: d.Recorder | None = None, ops: frozenset[str] | None = None,
                         default: Recipe | None = None) -> tuple[d.StructuredSDFG, list[StepResult]]:
    """Apply `recipe`; a plain `Recipe` is tried on every nest of the program. Returns the
    transformed SDFG (`sdfg` itself, changed in place, unless a ``blas`` step or a loop
    made a map rewrote it into a new one) and what became of every step. With a `recorder`, every applied step
    is also recorded (docc's Recorder steps, addressed by the element ids of this SDFG:
    what docc's own client replays). Steps whose operation is not in `ops` (what the
    target's backend builds; None: all) are skipped. Nests a program recipe does not name
    get `default` (the backend's placement, e.g. a plain GPU offload), unreported.

    Nests are processed from last to first, so that a distribution, which adds
    outermost loops, never shifts the index of a nest still to be transformed.
    """
    nest_count = _nest_count(d.AnalysisManager(d.StructuredSDFGBuilder(sdfg)))
    if isinstance(recipe, Recipe):
        plan = {i: recipe for i in range(nest_count)}
    else:
        plan = dict(recipe.nests)
    placed = {i: default for i in range(nest_count) if i not in plan and default is not None}
    results: list[StepResult] = []
    for index in sorted(plan.keys() | placed.keys(), reverse=True):
        if index >= nest_count:
            results += [StepResult(index, s, False, f"program has {nest_count} nests") for s in plan[index].steps]
            continue
        sdfg, applied = apply_recipe(sdfg, plan.get(index) or placed[index], nest=index, recorder=recorder, ops=ops)
        results += applied if index in plan else []
    return sdfg, sorted(results, key=lambda r: r.nest)


def apply_recipe(sdfg: d.StructuredSDFG, recipe: Recipe, nest: int = 0, recorder: d.Recorder | None = None,
                 ops: frozenset[str] | None = None) -> tuple[d.StructuredSDFG, list[StepResult]]:
    """Apply `recipe` to outermost nest `nest` of `sdfg` step by step (recorded by
    `recorder` when given); the transformed SDFG (see `apply_program_recipe`) and what
    became of each step.

    A ``distribute`` of the nest's root splits the nest into several outermost loops;
    the steps after it apply to each of those parts (a mapping or parallelisation after a
    split is meant for every loop it made, not only the first)."""
    builder = d.StructuredSDFGBuilder(sdfg)
    results: list[StepResult] = []
    parts = [nest]
    for step in recipe.steps:
        if any(r.applied and r.step.op == "blas" for r in results):
            results.append(StepResult(nest, step, False, "after blas: the nest is a library call"))
            continue
        if recorder is not None and step.op not in REPLAYABLE_OPS:
            results.append(StepResult(nest, step, False, f"docc's client cannot replay {step.op}"))
            continue
        if ops is not None and step.op not in ops:
            results.append(StepResult(nest, step, False, f"the target does not build {step.op}"))
            continue
        splits_root = step.op == "distribute" and not step.loop
        for part in list(parts):
            # Analyses are invalidated by every applied step: rebuild them each time.
            manager = d.AnalysisManager(builder)
            if step.op == "blas":
                sdfg, result = _library_call(sdfg, manager, step, part)
                builder = d.StructuredSDFGBuilder(sdfg)
                results.append(result)
                continue
            try:
                if step.op in SEMANTIC_REWRITES and recorder is None:
                    sdfg = SEMANTIC_REWRITES[step.op](sdfg, _root(manager, part), step)
                    builder = d.StructuredSDFGBuilder(sdfg)
                    manager = d.AnalysisManager(builder)
                transformation = transformation_for(step, _root(manager, part), sdfg)
            except NotApplicable as why:
                results.append(StepResult(part, step, False, str(why)))
                continue
            if not transformation.can_be_applied(builder, manager):
                results.append(StepResult(part, step, False, "docc: not legal here"))
                continue
            before = _nest_count(manager)
            if recorder is not None:
                recorder.apply(transformation, builder, manager)
            else:
                transformation.apply(builder, manager)
            results.append(StepResult(part, step, True))
            if splits_root and (added := _nest_count(d.AnalysisManager(builder)) - before):
                parts = [q + added if q > part else q for q in parts]
                parts[parts.index(part):parts.index(part) + 1] = list(range(part, part + added + 1))
    return sdfg, results


def _nest_count(manager: d.AnalysisManager) -> int:
    return len(manager.loop_analysis().outermost_loops())


def _as_map(sdfg: d.StructuredSDFG, root: Any, step: Step) -> d.StructuredSDFG:
    """`sdfg` with the loop `step` parallelises made a map, where docc left it a
    sequential ``for`` but our own tests prove that its iterations touch no common array
    element and that the scalars it writes may be private to each iteration (adi's column
    sweep: docc does not see that iteration ``i`` works on column ``i`` alone). A JSON
    rewrite, like the ``blas`` step; `sdfg` itself when the loop is a map already."""
    loop = resolve(root, step.loop)
    if not isinstance(loop, d.For):
        return sdfg
    text = sdfg.to_json()
    for proof in (independent_iterations, private_scalars):
        independent, why = proof(text, loop.element_id)
        if not independent:
            raise NotApplicable(f"loop is not a parallel map: docc left it sequential, and {why}")
    data = json.loads(text)
    node = find_loop(data["root"], loop.element_id)
    node["type"] = node["sub_type"] = "map"
    return d.StructuredSDFG.parse(json.dumps(data))


def _as_reduction(sdfg: d.StructuredSDFG, root: Any, step: Step) -> d.StructuredSDFG:
    """`sdfg` with the loop `step` vectorises marked a reduction, where docc left it a
    sequential ``for`` but our own test proves it a sum into one array element
    (`transfertune.ir.dependence.accumulation`: cholesky's ``A[i, j] -= A[i, k] * A[j, k]``,
    which docc reads as a reduction only when written with ``+=``). docc's reductions are
    sums, and so is a subtraction of every term. `sdfg` itself for any other loop: docc
    then decides alone."""
    loop = resolve(root, step.loop)
    if type(loop) is not d.For:
        return sdfg
    text = sdfg.to_json()
    array, _ = accumulation(text, loop.element_id)
    if array is None:
        return sdfg
    data = json.loads(text)
    node = find_loop(data["root"], loop.element_id)
    node["sub_type"], node["reductions"] = "reduce", [{"container": array, "op": "add"}]
    return d.StructuredSDFG.parse(json.dumps(data))


SEMANTIC_REWRITES = {"parallelize": _as_map, "vectorize": _as_reduction}
"""Steps that may first rewrite the SDFG's JSON, where our own proof shows a loop to be
more than docc made it (a map, a reduction). docc's client replays docc's steps only,
so a recorded recipe does without them."""


def _library_call(sdfg: d.StructuredSDFG, manager: d.AnalysisManager, step: Step,
                  nest: int) -> tuple[d.StructuredSDFG, StepResult]:
    """The ``blas`` step: a JSON rewrite of the SDFG, not a docc transformation."""
    try:
        loop = resolve(_root(manager, nest), step.loop)
        rewritten, calls = replace_products(sdfg, loop)
    except (NotApplicable, NotMatrixProduct) as why:
        return sdfg, StepResult(nest, step, False, str(why))
    return rewritten, StepResult(nest, step, True, "; ".join(c.summary for c in calls))


def replayable(recipe: Recipe) -> bool:
    """Whether docc's client can replay every step of `recipe` (see `REPLAYABLE_OPS`): a
    recipe it would replay only in part was never measured as such, so it is not lent."""
    return all(step.op in REPLAYABLE_OPS for step in recipe.steps)


class NotApplicable(Exception):
    """Raised inside this module when a step has nothing to act on."""


def _root(manager: d.AnalysisManager, nest: int) -> d.ControlFlowNode:
    roots = manager.loop_analysis().outermost_loops()
    if nest >= len(roots):
        raise NotApplicable(f"no nest {nest}")
    return roots[nest]


def child_loops(node: Any) -> list[Any]:
    """The loops directly below `node`, in program order (through ifs and blocks)."""
    return list(_loops_below(node.body if isinstance(node, d.StructuredLoop | d.While) else node))


def _loops_below(node: Any) -> Iterator[Any]:
    if isinstance(node, d.StructuredLoop | d.While):
        yield node
    elif isinstance(node, d.Sequence):
        for child in _sequence_children(node):
            yield from _loops_below(child)
    elif isinstance(node, d.IfElse):
        for i in range(node.size):
            yield from _loops_below(node.case(i))


def loop_paths(sdfg: d.StructuredSDFG, nest: int) -> list[tuple[tuple[int, ...], object]]:
    """Every loop of nest `nest` with its path, outermost first (depth-first)."""
    roots = d.AnalysisManager(d.StructuredSDFGBuilder(sdfg)).loop_analysis().outermost_loops()
    if nest >= len(roots):
        return []
    out = []
    stack = [((), roots[nest])]
    while stack:
        path, loop = stack.pop(0)
        out.append((path, loop))
        stack[:0] = [(path + (i,), c) for i, c in enumerate(child_loops(loop))]
    return out


def resolve(root: Any, path: tuple[int, ...]) -> Any:
    """The loop at `path` below `root`."""
    loop = root
    for depth, index in enumerate(path):
        children = child_loops(loop)
        if index >= len(children):
            where = list(path[:depth])
            raise NotApplicable(f"loop {where} has {len(children)} child loop(s), no [{index}]")
        loop = children[index]
    return loop


def transformation_for(step: Step, root: Any, sdfg: d.StructuredSDFG) -> Any:
    """The docc transformation object for `step` on the nest rooted at `root` of `sdfg`.
    A step that runs a map's iterations at once, swaps two loops or splits one must also
    pass our dependence test (`transfertune.ir.dependence`): docc calls some loops maps
    whose iterations race, and lets some loops swap that may not. A split is tested as one
    loop per child, as docc may split between any two of them."""
    loop = resolve(root, step.loop)
    if not isinstance(loop, d.StructuredLoop):
        raise NotApplicable("not a counted loop (while)")
    op = step.op
    if op in PARALLEL_OPS and isinstance(loop, d.Map):
        independent, why = independent_iterations(sdfg.to_json(), loop.element_id)
        if not independent:
            raise NotApplicable(f"docc calls it a map, but {why}")
    if op == "tile":
        return d.LoopTiling(loop, step.params["size"])
    if op == "interchange":
        inner_path = step.params.get("inner", step.loop + (0,))
        inner = resolve(root, tuple(inner_path))
        if not isinstance(inner, d.StructuredLoop):
            raise NotApplicable("inner loop is not a counted loop")
        legal, why = interchangeable(sdfg.to_json(), loop.element_id, inner.element_id)
        if not legal:
            raise NotApplicable(why)
        return d.LoopInterchange(loop, inner)
    if op == "distribute":
        legal, why = distributable(sdfg.to_json(), loop.element_id)
        if not legal:
            raise NotApplicable(why)
        return d.LoopDistribute(loop)
    if op == "parallelize":
        if not isinstance(loop, d.Map):
            raise NotApplicable("loop is not a parallel map")
        return d.OMPTransform(loop)
    if op == "vectorize":
        return d.VectorizeTransform(loop)
    if op == "unroll":
        return d.UnrollTransform(loop)
    if op in ("offload", "offload_nested"):
        if not isinstance(loop, d.Map):
            raise NotApplicable("loop is not a parallel map")
        if op == "offload":
            return d.CUDATransform(loop, step.params["block"], True)
        return d.CUDAParallelizeNestedMap(loop, step.params["block"])
    if op == "shared_storage":
        return d.InLocalStorage(loop, _access_node(loop, step.params["container"]), "NV_Shared")
    if op == "local_storage":
        outward = step.params["direction"] != "in"
        node = _access_node(loop, step.params["container"], written=outward)
        return d.OutLocalStorage(loop, node) if outward else d.InLocalStorage(loop, node)
    raise NotApplicable(f"unknown op {op}")


def _access_node(loop: Any, container: str, written: bool = False) -> Any:
    """The first access node of `container` inside `loop`'s body (`written`: the first
    one written, for an out-direction buffer: docc refuses the node a statement reads)."""
    stack = [loop.body]
    while stack:
        node = stack.pop(0)
        if isinstance(node, d.Block):
            for data in node.dataflow.data_nodes:
                if isinstance(data, d.AccessNode) and data.data == container and (
                        not written or node.dataflow.in_degree(data) > 0):
                    return data
        elif isinstance(node, d.StructuredLoop | d.While):
            stack.append(node.body)
        elif isinstance(node, d.Sequence):
            stack.extend(_sequence_children(node))
    raise NotApplicable(f"no access to {container!r} inside the loop")


def _sequence_children(node: Any) -> list[Any]:
    return list(node.children())
