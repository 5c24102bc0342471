"""The stride order: a nest's loops reordered so that its innermost loops walk memory.

clang vectorises an innermost loop, and cache lines stream, only where the arrays that
loop touches move by one element per iteration or not at all. PolyBench-style code often
has its innermost loop walking a column instead: trmm's ``k`` reads ``A[k, i]`` and
``B[k, j]``, doitgen's ``s`` reads ``C4[s, p]``. Polly interchanges such loops; no probe
does, and a random search rarely finds the distribute-then-interchange it takes (trmm at
LARGE: 1.7x after transfer, 10x in this order, on this project's Xeon).

`stride_recipe` finds the order with docc's own steps, greedily: a step is kept when docc
applies it and it lowers the *strided cost* (array accesses in an innermost loop that move
by more than one element per iteration, each weighted by `BASE` per enclosing loop, so the
deepest statements count most). A distribution counts through the interchanges it enables.
The order is then finished with vectorisation of the innermost loops (a dot product summed
in a local buffer first, `_Search.summed`) and, on OpenMP
targets, a parallel loop around each group of the deepest statements (a stencil's
statements inside its time loop each get their own: heat-3d 2x at LARGE). A nest already
in stride order still gets that finish where it has a parallel loop or a dot product. The
result is an ordinary recipe: transfer offers it as a fact about the nest's code (like the
library call), the tuner measures it beside the probes, and it is verified and timed like every other variant.
"""

from __future__ import annotations

import json
from typing import Any

import sympy as sp
from docc import sdfg as d

from transfertune.ir.dependence import accumulation, loop_blocks
from transfertune.ir.program import Program
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.symbolic import parse_sizes
from transfertune.ir.target import Target, backend_of
from transfertune.ir.transform import NotApplicable, apply_recipe, child_loops, loop_paths, resolve
from transfertune.isolated import run_isolated

BASE = 64
"""How much more a statement one loop deeper counts (it runs about that many times more)."""
MAX_MOVES = 6
"""At most this many reordering moves per nest (a nest rarely needs more than two)."""
LOOKAHEAD = 2
"""Moves tried after a distribution to see what it enables."""
PARALLEL_DEPTH = 1
"""Loops at depth 0 and 1 are tried for the parallel loop; deeper ones would fork a team
for every iteration of two outer loops, which costs more than it gains."""


def stride_orders(program: Program, target: Target, nests: list[int]) -> dict[int, Recipe]:
    """The stride-order recipes of `nests` of `program` on a CPU target (none elsewhere:
    a GPU wants its threads, not its innermost loop, along memory). docc runs in a forked
    child; a failure there means none."""
    if backend_of(target).name != "cpu" or not nests:
        return {}
    outcome = run_isolated(stride_recipes, program.sdfg_json, nests, target.openmp, timeout=300)
    return outcome.value if outcome.ok else {}


def stride_recipes(sdfg_json: str, nests: list[int], openmp: bool) -> dict[int, Recipe]:
    """Nest index -> its stride-order recipe, for those of `nests` (indices into an SDFG
    as docc JSON) whose order can be improved. It runs docc, whose legality checks take
    up to a fifth of a second each on a large program: call it in an isolated child, and
    only for the nests that matter."""
    found = {}
    for nest in nests:
        recipe = stride_recipe(sdfg_json, nest, openmp)
        if recipe is not None:
            found[nest] = recipe
    return found


def stride_recipe(sdfg_json: str, nest: int, openmp: bool) -> Recipe | None:
    """The stride-order recipe of nest `nest` (see module docstring), or None when no
    legal distribution or interchange lowers its strided cost and no loop runs in parallel."""
    return _Search(sdfg_json, nest).recipe(openmp)


class _Search:
    """The greedy search on one nest. docc's legality checks take up to a fifth of a
    second on a large program, so every SDFG reached is kept, by the steps that led to it,
    and a step is applied to its prefix's SDFG rather than replayed from the start."""

    def __init__(self, sdfg_json: str, nest: int) -> None:
        self.nest = nest
        self.reached: dict[tuple[Step, ...], str | None] = {(): sdfg_json}

    def recipe(self, openmp: bool) -> Recipe | None:
        """Reorder while a move lowers the cost, then vectorise and parallelise."""
        steps: tuple[Step, ...] = ()
        cost = strided_cost(self.reached[()])
        for _ in range(MAX_MOVES):
            found = next((f for move in _moves(self.sdfg(steps), self.nest)
                          if (f := self.best_with(steps, move, LOOKAHEAD)) is not None and f[0] < cost), None)
            if found is None:
                break
            cost, steps = found
        ordered = self.sdfg(steps)
        leaves = [p for p in _paths(ordered, self.nest)
                  if not any(_is_loop(c) for body in _bodies(ordered, self.nest, p) for c in body)]
        finish = [step for path in leaves for step in self.summed(steps, path)]
        if openmp:  # per deepest statement group, the outermost loop around it that is a parallel map
            depth = max(map(len, leaves), default=0)
            finish = [Step("parallelize", leaf[:n]) for leaf in leaves if len(leaf) == depth
                      for n in range(min(depth, PARALLEL_DEPTH) + 1)] + finish
        for step in finish:
            if step.op == "parallelize" and any(s.op == "parallelize" and _nested(s.loop, step.loop) for s in steps):
                continue
            if self.json((*steps, step)) is not None:
                steps = (*steps, step)
        changed = any(s.op in ("distribute", "interchange", "parallelize", "local_storage") for s in steps)
        return Recipe(steps) if changed else None

    def summed(self, steps: tuple[Step, ...], path: tuple[int, ...]) -> list[Step]:
        """The finish of an innermost loop: vectorise it, and where it sums into one array
        element (`accumulation`: a dot product), sum in a local buffer first. In memory the
        element may alias what the loop reads, so clang keeps every partial sum in order,
        one add latency each; in a local buffer it is a register that vectorises
        (cholesky at LARGE, AMD EPYC: 5.5x over the untouched build, Polly on the C 1.5x)."""
        sdfg = self.sdfg(steps)
        text, roots = sdfg.to_json(), _roots(sdfg)
        for root in roots[self.nest:]:
            try:
                loop = resolve(root, path)
            except NotApplicable:
                continue
            array, _ = accumulation(text, loop.element_id)
            if array is not None:
                return [Step("local_storage", path, {"container": array, "direction": "out"}), Step("vectorize", path)]
        return [Step("vectorize", path)]

    def best_with(self, steps: tuple[Step, ...], move: Step, depth: int) -> tuple[float, tuple[Step, ...]] | None:
        """(cost, steps) after `move`, or None if docc does not apply it. A distribution
        changes no stride alone: it counts through the best of the moves it enables, up to
        `depth` more (a body of three statement groups takes two distributions before the
        interchange)."""
        after = (*steps, move)
        text = self.json(after)
        if text is None:
            return None
        if move.op == "interchange":
            return strided_cost(text), after
        options = [found for follow in (_moves(self.sdfg(after), self.nest) if depth else ())
                   if (found := self.best_with(after, follow, depth - 1)) is not None]
        return min(options, key=lambda option: (option[0], len(option[1])), default=None)

    def sdfg(self, steps: tuple[Step, ...]) -> d.StructuredSDFG:
        """A fresh copy of the SDFG `steps` reached (they must all apply)."""
        text = self.json(steps)
        assert text is not None, steps
        return d.StructuredSDFG.parse(text)

    def json(self, steps: tuple[Step, ...]) -> str | None:
        """The SDFG (docc JSON) after `steps`, None unless every step applied (to at least
        one part of a distributed root). After a distribution of the root a step applies
        to every part (`apply_recipe`), so such sequences are replayed from the start."""
        if steps not in self.reached:
            prefix = self.json(steps[:-1])
            split = any(s.op == "distribute" and not s.loop for s in steps[:-1])
            if prefix is None:
                self.reached[steps] = None
            else:
                start, todo = (self.reached[()], steps) if split else (prefix, steps[-1:])
                sdfg, results = apply_recipe(d.StructuredSDFG.parse(start), Recipe(todo), nest=self.nest)
                applied = {r.step for r in results if r.applied}
                self.reached[steps] = sdfg.to_json() if set(todo) <= applied else None
        return self.reached[steps]


def _moves(sdfg: d.StructuredSDFG, nest: int) -> list[Step]:
    """Interchanges of loops that wrap exactly one loop, outermost first, then
    distributions of loops whose body holds a loop beside other statements (the longer
    way to an order, taken only where no interchange alone gets there)."""
    swaps, splits = [], []
    for path in _paths(sdfg, nest):
        bodies = _bodies(sdfg, nest, path)
        if any(len(body) == 1 and _is_loop(body[0]) for body in bodies):
            swaps.append(Step("interchange", path, {"inner": path + (0,)}))
        if any(len(body) > 1 and any(map(_is_loop, body)) for body in bodies):
            splits.append(Step("distribute", path))
    return swaps + splits


def _roots(sdfg: d.StructuredSDFG) -> list[Any]:
    return list(d.AnalysisManager(d.StructuredSDFGBuilder(sdfg)).loop_analysis().outermost_loops())


def _paths(sdfg: d.StructuredSDFG, nest: int) -> list[tuple[int, ...]]:
    """Loop paths of the nest, outermost first; after a distribution of the root, the
    paths of all its parts (steps then apply to each part that has the path)."""
    found: list[tuple[int, ...]] = []
    for part in range(nest, len(_roots(sdfg))):
        for path, _ in loop_paths(sdfg, part):
            if path not in found:
                found.append(path)
    return sorted(found, key=len)


def _bodies(sdfg: d.StructuredSDFG, nest: int, path: tuple[int, ...]) -> list[list[Any]]:
    """The statements and loops directly in the body of the loop at `path`, for each
    part of the nest that has such a loop."""
    roots = _roots(sdfg)
    found = []
    for part in range(nest, len(roots)):
        loop = roots[part]
        try:
            for index in path:
                loop = child_loops(loop)[index]
        except IndexError:
            continue
        if _is_loop(loop):
            found.append(list(loop.body.children()))
    return found


def _nested(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """Whether one of two loop paths lies inside (or is) the other."""
    return a[:len(b)] == b or b[:len(a)] == a


def _is_loop(node: Any) -> bool:
    return isinstance(node, d.StructuredLoop | d.While)


def strided_cost(sdfg_json: str) -> float:
    """Array accesses of the SDFG that stride in their innermost loop, each weighted by
    `BASE` to the power of its nesting depth."""
    data = json.loads(sdfg_json)
    arrays = {name for name, c in data["containers"].items() if c.get("type") in ("pointer", "array")}
    total = 0.0
    for block, around in loop_blocks(data["root"]):
        loops = [loop["indvar"] for loop in around if "indvar" in loop]  # a while has none
        if not loops:
            continue
        nodes = {n["element_id"]: n for n in block["dataflow"]["nodes"]}
        inner = sp.Symbol(loops[-1])
        for edge in block["dataflow"]["edges"]:
            ends = (nodes.get(edge["src"], {}), nodes.get(edge["dst"], {}))
            named = [n["data"] for n in ends if n.get("type") == "access_node" and n.get("data") in arrays]
            if named and edge.get("subset") and _strides(edge["subset"], inner):
                total += float(BASE) ** len(loops)
    return total


def _strides(subset: list[str], inner: sp.Symbol) -> bool:
    """Whether an access moves by more than one element per iteration of `inner`."""
    try:
        indices = [parse_sizes(s) for s in subset]
    except Exception:  # noqa: BLE001 - an index sympy cannot read counts as strided
        return True
    if any(inner in e.free_symbols for e in indices[:-1]):
        return True
    step = sp.simplify(sp.diff(indices[-1], inner))
    return step not in (0, 1, -1)
