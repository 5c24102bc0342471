"""Whether a loop's iterations may run at the same time: a dependence test of our own.

docc marks loops as maps (parallel) that are not: trmm's ``i`` loop writes row ``i`` of
``B`` and reads rows ``k > i``, which later iterations write. Run in parallel, that race
gives wrong results, and not always: at the small check size a racy build can pass
verification and then be timed (the seed held ``[parallelize]`` on trmm at 1.13x). So a
loop is only parallelised (OpenMP or a GPU grid) when `independent_iterations` proves
that no element of an array one iteration writes is touched by another iteration.

The proof asks z3 whether two different iterations ``i1 != i2`` of the loop (the loops
around it at one shared iteration, the loops inside it free within their bounds) can
reach the same element, for every pair of a write and an access of each array written
inside the loop. Sizes are bound to concrete values, larger than any tile, once all
distinct and once all equal, so the index expressions are linear and z3 answers quickly.
Anything the test cannot read (a ``while`` loop, an index it cannot parse, z3 giving up)
counts as a possible overlap: the loop then stays sequential, which is slower, never wrong.

The same machinery decides when a loop may be split in two (`distributable`, asking
for an earlier iteration ``i1 < i2`` instead of ``i1 != i2``): the library call takes a
rank update out of the loop that holds it (`transfertune.ir.rank_update`).

docc makes the scalars a parallel loop writes private to each iteration. That is right
only when every iteration writes such a scalar before it reads it and nothing after the
loop reads it: `private_scalars` checks this before a loop docc left sequential is
promoted to a map (`transfertune.ir.transform`). A write under an if or in an inner loop
counts only inside that branch or inner iteration, which may not run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sympy as sp
import z3

from transfertune.ir.symbolic import FREE_NAME, parse_sizes

SIZES = ((307, 311, 313, 317, 331, 337, 347, 349, 353, 359), (307,))
"""Values the program's size symbols are bound to: distinct (first tuple, cycled), then
all equal. Larger than every tile size the search uses (256), so tiles do not hide a
dependence between tiles."""
TIMEOUT_MS = 2000
"""Per z3 query; a query that times out counts as an overlap."""


class Unreadable(Exception):
    """Something in the loop the test cannot read; the loop counts as not parallel."""


class Carried(Exception):
    """A scalar an iteration reads before it writes it: its value comes from the one before."""


@dataclass(frozen=True)
class _Loop:
    var: str
    init: str
    condition: str
    update: str

    @classmethod
    def of(cls, node: dict) -> _Loop:
        """The loop a ``for``/``map`` node of an SDFG's JSON describes."""
        return cls(node["indvar"], str(node["init"]), node["condition"], node["update"])


@dataclass(frozen=True)
class _Access:
    array: str
    index: str
    write: bool
    loops: tuple[_Loop, ...]
    """The loops between the tested loop (exclusive) and the access, outermost first."""


def independent_iterations(sdfg_json: str, loop_id: int) -> tuple[bool, str]:
    """(True, "") when no two iterations of the loop with element id `loop_id` touch one
    element of an array either writes; else (False, why)."""
    data = json.loads(sdfg_json)
    found = _find(data["root"], loop_id, ())
    if found is None:
        return False, f"no loop {loop_id}"
    node, outer = found
    try:
        accesses = list(_accesses(node["root"], data))
    except Unreadable as why:
        return False, f"cannot read the loop: {why}"
    written = sorted({a.array for a in accesses if a.write})
    sizes = [str(s) for s in data.get("arguments", []) if data["containers"].get(s, {}).get("type") == "scalar"]
    this = _Loop.of(node)
    for values in SIZES:
        bound = {name: values[i % len(values)] for i, name in enumerate(sizes)}
        for array in written:
            mine = [a for a in accesses if a.array == array]
            for first in (a for a in mine if a.write):
                for second in mine:
                    try:
                        overlap = _may_overlap(this, outer, first, second, bound)
                    except Unreadable as why:
                        return False, f"cannot read an access to {array}: {why}"
                    if overlap:
                        return False, f"two iterations of {this.var} touch one element of {array}"
    return True, ""


def distributable(sdfg_json: str, loop_id: int, split: int | None = None) -> tuple[bool, str]:
    """(True, "") when the loop with element id `loop_id` may run as two loops, the first
    over its body's children before position `split`, the second over the rest (`split`
    None: as one loop per child, which covers a split at any position); else (False, why).
    That holds when nothing a later part does in one iteration is touched by an earlier
    part in a later iteration (an element of an array, one of the two accesses a write)
    and no scalar written in one part is named in another. docc's own test refuses
    covariance's ``i`` loop (its mirror store ``cov[j, i]`` looks like it could meet a
    later row's update); this one proves it may be distributed."""
    data = json.loads(sdfg_json)
    found = _find(data["root"], loop_id, ())
    if found is None:
        return False, f"no loop {loop_id}"
    node, outer = found
    children = node["root"]["children"]
    parts = [[child] for child in children] if split is None else [children[:split], children[split:]]
    if split is not None and not all(parts):
        return False, f"no split at {split} of {len(children)} children"
    this = _Loop.of(node)
    scalars = {name for name, c in data["containers"].items() if c.get("type") == "scalar"}
    try:
        if not sp.simplify(parse_sizes(this.update) - sp.Symbol(this.var)).is_positive:
            raise Unreadable(f"loop {this.var} does not count up")
        accesses = [[a for child in part for a in _accesses(child, data)] for part in parts]
        written = [{n for kind, names in _events(part, scalars) if kind == "write" for n in names} for part in parts]
        named = [set(_mentions(part, -1, scalars)) for part in parts]
    except Unreadable as why:
        return False, f"cannot read the loop: {why}"
    pairs = [(i, j) for j in range(len(parts)) for i in range(j)]
    shared = set().union(*((written[i] & named[j]) | (written[j] & named[i]) for i, j in pairs))
    if shared:
        return False, f"scalar {sorted(shared)[0]} is written in one part and named in the other"
    sizes = [str(s) for s in data.get("arguments", []) if data["containers"].get(s, {}).get("type") == "scalar"]
    for values in SIZES:
        bound = {name: values[i % len(values)] for i, name in enumerate(sizes)}
        for i, j in pairs:
            for late in accesses[j]:
                for early in (a for a in accesses[i] if a.array == late.array and (a.write or late.write)):
                    try:
                        if _may_overlap(this, outer, late, early, bound, ordered=True):
                            return False, f"{late.array} is touched by the second part and later by the first"
                    except Unreadable as why:
                        return False, f"cannot read an access to {late.array}: {why}"
    return True, ""


def interchangeable(sdfg_json: str, outer_id: int, inner_id: int) -> tuple[bool, str]:
    """(True, "") when the loop with element id `inner_id`, directly inside the loop with
    `outer_id`, may become the outer one; else (False, why).

    Swapping runs instance (o2, n2) before (o1, n1) exactly when o1 runs before o2 and n2
    before n1, so the swap is legal when no such pair touches one element of an array
    (one of the two a write). docc's own test let floyd-warshall's ``k`` and ``i`` swap,
    which is wrong for most graphs (i-k-j is not Floyd-Warshall) yet right on PolyBench's
    data: the seed held it as a 1.03x recipe. Also refused: accesses in the outer loop's body outside the inner loop (their order
    relative to the inner loop's would change) and a scalar one iteration of the inner
    loop leaves for the next (a recurrence runs in another order)."""
    data = json.loads(sdfg_json)
    found = _find(data["root"], outer_id, ())
    if found is None:
        return False, f"no loop {outer_id}"
    node, around = found
    inner = next((loop for loop in _direct_loops(node["root"]) if loop.get("element_id") == inner_id), None)
    if inner is None or inner["type"] == "while":
        return False, f"no counted loop {inner_id} directly inside loop {outer_id}"
    scalars = {name for name, c in data["containers"].items() if c.get("type") == "scalar"}
    try:
        accesses = list(_accesses(inner["root"], data))
        if sum(1 for _ in _accesses(node["root"], data)) != len(accesses):
            return False, "the outer loop's body has accesses outside the inner loop"
        written = {name for kind, names in _events(node["root"], scalars) if kind == "write" for name in names}
        _Definitions(written).visit(inner["root"])
    except Carried as why:
        return False, str(why)
    except Unreadable as why:
        return False, f"cannot read the loops: {why}"
    outer, this = _Loop.of(node), _Loop.of(inner)
    sizes = [str(s) for s in data.get("arguments", []) if data["containers"].get(s, {}).get("type") == "scalar"]
    for values in SIZES:
        bound = {name: values[i % len(values)] for i, name in enumerate(sizes)}
        for first in (a for a in accesses if a.write):
            for second in (a for a in accesses if a.array == first.array):
                try:
                    if (_swapped_pair_meets(around, outer, this, first, second, bound)
                            or _swapped_pair_meets(around, outer, this, second, first, bound)):
                        return False, f"swapping {outer.var} and {this.var} reorders two accesses to {first.array}"
                except Unreadable as why:
                    return False, f"cannot read an access to {first.array}: {why}"
    return True, ""


def _direct_loops(node: Any) -> Iterator[dict]:
    """The loops directly below `node` (through sequences and ifs, not through loops)."""
    if isinstance(node, dict):
        if node.get("type") in ("for", "map", "while"):
            yield node
            return
        for key, value in node.items():
            if key != "dataflow" and isinstance(value, dict | list):
                yield from _direct_loops(value)
    elif isinstance(node, list):
        for value in node:
            yield from _direct_loops(value)


def _swapped_pair_meets(around: tuple[_Loop, ...], outer: _Loop, inner: _Loop, first: _Access,
                        second: _Access, sizes: dict[str, int]) -> bool:
    """Whether instances (o1, n1) and (o2, n2) of `outer` and `inner`, o1 running before
    o2 and n2 before n1, reach one element through `first` in the first instance and
    `second` in the other."""
    solver, one, two = _meeting(around, (outer, inner), first, second, sizes)
    solver.add(_runs_before(outer, one[outer.var], two[outer.var]), _runs_before(inner, two[inner.var], one[inner.var]))
    return solver.check() != z3.unsat


def _runs_before(loop: _Loop, a: Any, b: Any) -> Any:
    """That iteration `a` of `loop` runs before iteration `b` (loops may count down)."""
    step = sp.simplify(parse_sizes(loop.update) - sp.Symbol(loop.var))
    if not step.is_Integer or step == 0:
        raise Unreadable(f"loop {loop.var} steps by {step}")
    return a < b if step > 0 else a > b


def private_scalars(sdfg_json: str, loop_id: int) -> tuple[bool, str]:
    """(True, "") when every scalar the loop with element id `loop_id` writes may be
    private to an iteration (see module docstring); else (False, why)."""
    data = json.loads(sdfg_json)
    found = _find(data["root"], loop_id, ())
    if found is None:
        return False, f"no loop {loop_id}"
    node = found[0]
    scalars = {name for name, c in data["containers"].items() if c.get("type") == "scalar"}
    try:
        written = {name for kind, names in _events(node["root"], scalars) if kind == "write" for name in names}
        _Definitions(written).visit(node["root"])
        after = written & set(_mentions(data["root"], loop_id, scalars))
    except Carried as why:
        return False, str(why)
    except Unreadable as why:
        return False, f"cannot read the loop: {why}"
    if after:
        return False, f"{sorted(after)[0]} is written in the loop and used outside it"
    return True, ""


ACCUMULATING = {"fp_add": 2, "fp_sub": 3}
"""docc's tasklet codes an accumulation may update its element with (`accumulation`)."""


def accumulation(sdfg_json: str, loop_id: int) -> tuple[str | None, str]:
    """(array, "") when the innermost ``for`` loop with element id `loop_id` is a sum into one
    element of `array`: the one element the loop writes, at an index its variable does not
    move, updated as ``e = e + x`` or ``e = e - x``, touched by no other access of the loop
    (z3, as `independent_iterations`), with every scalar it writes private to an iteration;
    else (None, why).

    docc calls only ``e = e + x`` a reduction, so it vectorises ``y[i] += A[i, k] * x[k]``
    but not the same loop with ``-=`` (cholesky's and lu's dot products). Either is a sum
    whose terms may be added in any order (``e - x`` is ``e + (-x)``, exactly), which
    is what lets clang split it across SIMD lanes; the result differs from the sequential
    one by rounding only, and every variant is verified."""
    data = json.loads(sdfg_json)
    found = _find(data["root"], loop_id, ())
    if found is None:
        return None, f"no loop {loop_id}"
    node, outer = found
    if node["type"] != "for" or node.get("sub_type") != "for":
        return None, "not a sequential for loop"
    blocks = list(loop_blocks(node["root"], kinds=("block", "assignment_block")))
    if any(loops for _, loops in blocks) or any(b["type"] != "block" for b, _ in blocks):
        return None, "not an innermost loop of plain statements"
    try:
        accesses = list(_accesses(node["root"], data))
    except Unreadable as why:
        return None, f"cannot read the loop: {why}"
    written = {(a.array, a.index) for a in accesses if a.write}
    if len(written) != 1:
        return None, f"the loop writes {len(written)} array elements, not one"
    array, index = next(iter(written))
    if sp.Symbol(node["indvar"]) in parse_sizes(index).free_symbols:
        return None, f"the element of {array} it writes moves with the loop"
    if not any(_updates_itself(block, array, index) for block, _ in blocks):
        return None, f"{array}[{index}] is not updated by an addition or a subtraction of itself"
    same = [a for a in accesses if a.array == array and a.index == index]
    if len(same) != 2:
        return None, f"{array}[{index}] is touched more than by its update"
    this, target = _Loop.of(node), next(a for a in same if a.write)
    sizes = [str(s) for s in data.get("arguments", []) if data["containers"].get(s, {}).get("type") == "scalar"]
    for values in SIZES:
        bound = {name: values[i % len(values)] for i, name in enumerate(sizes)}
        for other in (a for a in accesses if a.array == array and a.index != index):
            try:
                if _may_overlap(this, outer, target, other, bound):
                    return None, f"another access to {array} may reach the element summed into"
            except Unreadable as why:
                return None, f"cannot read an access to {array}: {why}"
    private, why = private_scalars(sdfg_json, loop_id)
    return (array, "") if private else (None, why)


def _updates_itself(block: dict, array: str, index: str) -> bool:
    """Whether `block` writes `array[index]` from an addition or subtraction whose first
    operand (either operand of an addition) reads `array[index]`."""
    nodes = {n["element_id"]: n for n in block["dataflow"]["nodes"]}
    edges = block["dataflow"]["edges"]
    for write in edges:
        if nodes.get(write["dst"], {}).get("data") != array or write.get("subset") != [index]:
            continue
        tasklet = nodes.get(write["src"], {})
        if tasklet.get("type") != "tasklet" or tasklet.get("code") not in ACCUMULATING.values():
            return False
        operands = tasklet["inputs"] if tasklet["code"] == ACCUMULATING["fp_add"] else tasklet["inputs"][:1]
        return any(e["dst"] == write["src"] and e["dst_conn"] in operands and e.get("subset") == [index]
                   and nodes.get(e["src"], {}).get("data") == array for e in edges)
    return False


class _Definitions:
    """Walks a loop body in program order, keeping the scalars every iteration has
    written so far; a read of a scalar the loop writes, before that, is carried from the
    previous iteration (raises `Carried`)."""

    def __init__(self, written: set[str]) -> None:
        self.written = written
        self.defined: set[str] = set()

    def visit(self, node: Any) -> None:
        """Read, then define, in program order. Writes under an if or in an inner loop
        define a scalar for the rest of that branch or that inner iteration only."""
        kind = node.get("type")
        if kind == "sequence":
            for child in node["children"]:
                self.visit(child)
        elif kind in ("block", "assignment_block"):
            for event, names in _own_events(node, self.written):
                if event == "read":
                    self.read(names)
                else:
                    self.defined |= names
        elif kind == "if_else":
            for branch in node["branches"]:
                self.read(_names(branch["condition"]))
                self.scoped(branch["root"], set())
        elif kind in ("for", "map", "while"):
            own = {node["indvar"]} if "indvar" in node else set()
            for field in ("init", "condition", "update"):
                self.read(_names(str(node.get(field, ""))) - (own if field != "init" else set()))
            self.scoped(node["root"], own)
            self.defined |= own
        elif kind in ("break", "return"):
            raise Unreadable(f"a {kind} in the loop")
        elif kind != "continue":
            raise Unreadable(f"a {kind} node")

    def scoped(self, node: Any, given: set[str]) -> None:
        """Visit `node`, which may not run, with `given` defined inside it."""
        before = set(self.defined)
        self.defined |= given
        self.visit(node)
        self.defined = before

    def read(self, names: set[str]) -> None:
        carried = (names & self.written) - self.defined
        if carried:
            raise Carried(f"{sorted(carried)[0]} is carried from one iteration to the next")


def _own_events(node: dict, scalars: set[str]) -> list[tuple[str, set[str]]]:
    """The scalars a block or an assignment block reads (first) and writes (then)."""
    if node["type"] == "assignment_block":
        reads = set().union(*(_names(str(a["expression"])) for a in node["assignments"]))
        return [("read", reads & scalars), ("write", {a["symbol"] for a in node["assignments"]} & scalars)]
    nodes = {n["element_id"]: n for n in node["dataflow"]["nodes"]}
    edges = node["dataflow"]["edges"]
    targets = {e["dst"] for e in edges}
    reads, writes = set(), set()
    for edge in edges:
        reads |= set().union(*(_names(s) for s in edge.get("subset") or []))
        src, dst = nodes.get(edge["src"], {}), nodes.get(edge["dst"], {})
        if src.get("type") == "access_node" and edge["src"] not in targets:
            reads.add(src.get("data"))
        if dst.get("type") == "access_node":
            writes.add(dst.get("data"))
    return [("read", reads & scalars), ("write", writes & scalars)]


def _events(node: Any, scalars: set[str]) -> Iterator[tuple[str, set[str]]]:
    """Every block's and assignment block's scalar reads and writes below `node`."""
    for block, _ in loop_blocks(node, kinds=("block", "assignment_block")):
        yield from _own_events(block, scalars)


def _mentions(node: Any, skip: int, scalars: set[str]) -> Iterator[str]:
    """Every scalar named anywhere below `node` except inside the element `skip`."""
    if isinstance(node, dict):
        if node.get("element_id") == skip:
            return
        for event in _events(node, scalars) if node.get("type") in ("block", "assignment_block") else ():
            yield from event[1]
        for key, value in node.items():
            if key in ("condition", "init", "update", "expression"):
                yield from _names(str(value)) & scalars
            elif key != "dataflow" and isinstance(value, dict | list):
                yield from _mentions(value, skip, scalars)
    elif isinstance(node, list):
        for value in node:
            yield from _mentions(value, skip, scalars)


def _names(text: str) -> set[str]:
    """The names an expression reads."""
    return set(FREE_NAME.findall(text))


def find_loop(node: Any, loop_id: int) -> dict:
    """The ``for``/``map`` node with element id `loop_id` below `node` (an SDFG's JSON)."""
    found = _find(node, loop_id, ())
    if found is None:
        raise KeyError(loop_id)
    return found[0]


def _find(node: Any, loop_id: int, outer: tuple[_Loop, ...]) -> tuple[dict, tuple[_Loop, ...]] | None:
    """The loop with `loop_id` and the loops around it, outermost first."""
    if isinstance(node, dict):
        if node.get("type") in ("for", "map"):
            if node.get("element_id") == loop_id:
                return node, outer
            return _find(node["root"], loop_id, (*outer, _Loop.of(node)))
        children = [v for k, v in node.items() if k != "dataflow" and isinstance(v, dict | list)]
        return next((f for c in children if (f := _find(c, loop_id, outer)) is not None), None)
    if isinstance(node, list):
        return next((f for c in node if (f := _find(c, loop_id, outer)) is not None), None)
    return None


def loop_blocks(node: Any, loops: tuple[dict, ...] = (),
                kinds: tuple[str, ...] = ("block",)) -> Iterator[tuple[dict, tuple[dict, ...]]]:
    """Every block (every node of `kinds`) below `node` (an SDFG's JSON) with the loop
    nodes around it, outermost first; both branches of an if."""
    if isinstance(node, dict):
        if node.get("type") in kinds:
            yield node, loops
            return
        if node.get("type") in ("for", "map", "while"):
            yield from loop_blocks(node.get("root"), (*loops, node), kinds)
            return
        for key, value in node.items():
            if key != "dataflow" and isinstance(value, dict | list):
                yield from loop_blocks(value, loops, kinds)
    elif isinstance(node, list):
        for value in node:
            yield from loop_blocks(value, loops, kinds)


def _accesses(node: dict, data: dict) -> Iterator[_Access]:
    """Every array access below `node` with the loops around it."""
    for block, loops in loop_blocks(node):
        if any(loop["type"] == "while" for loop in loops):
            raise Unreadable("a while loop")
        yield from _block_accesses(block, data, tuple(map(_Loop.of, loops)))


def _block_accesses(block: dict, data: dict, loops: tuple[_Loop, ...]) -> Iterator[_Access]:
    nodes = {n["element_id"]: n for n in block["dataflow"]["nodes"]}
    for edge in block["dataflow"]["edges"]:
        for end, write in ((edge["src"], False), (edge["dst"], True)):
            node = nodes.get(end, {})
            name = node.get("data")
            if node.get("type") != "access_node" or data["containers"].get(name, {"type": "scalar"})["type"] == "scalar":
                continue
            if len(edge.get("subset") or []) != 1:
                raise Unreadable(f"{name} is passed whole or by a multi-dimensional subset")
            yield _Access(name, edge["subset"][0], write, loops)


def _may_overlap(this: _Loop, outer: tuple[_Loop, ...], first: _Access, second: _Access,
                 sizes: dict[str, int], ordered: bool = False) -> bool:
    """Whether iterations i1 != i2 of `this` (i1 < i2 when `ordered`) can reach one
    element through `first` (in i1) and `second` (in i2)."""
    solver, one, two = _meeting(outer, (this,), first, second, sizes)
    solver.add(one[this.var] < two[this.var] if ordered else one[this.var] != two[this.var])
    return solver.check() != z3.unsat


def _meeting(around: tuple[_Loop, ...], tested: tuple[_Loop, ...], first: _Access, second: _Access,
             sizes: dict[str, int]) -> tuple[z3.Solver, dict[str, Any], dict[str, Any]]:
    """A solver asking that two instances reach one element, `first` in one and `second`
    in the other: the loops `around` shared, the `tested` loops and those inside them one
    copy per instance, each within its bounds; and each instance's loop variables."""
    solver = z3.Solver()
    solver.set("timeout", TIMEOUT_MS)
    shared = {loop.var: z3.Int(loop.var) for loop in around}
    for loop in around:
        solver.add(*_iterates(loop, shared, sizes))
    instances, indices = [], []
    for tag, access in (("1", first), ("2", second)):
        names = dict(shared)
        loops = (*tested, *access.loops)
        for loop in loops:
            names[loop.var] = z3.Int(f"{loop.var}#{tag}")
        for loop in loops:
            solver.add(*_iterates(loop, names, sizes))
        indices.append(_z3(parse_sizes(access.index), names, sizes, tag))
        instances.append(names)
    solver.add(indices[0] == indices[1])
    return solver, instances[0], instances[1]


def _iterates(loop: _Loop, names: dict[str, Any], sizes: dict[str, int]) -> list[Any]:
    """Constraints that `loop.var` takes a value the loop runs with."""
    var = sp.Symbol(loop.var)
    try:
        step = sp.simplify(parse_sizes(loop.update) - var)
        init, condition = parse_sizes(loop.init), parse_sizes(loop.condition)
    except Exception as error:  # noqa: BLE001 - sympy's assorted parse errors
        raise Unreadable(f"loop {loop.var}: {error}") from error
    if not step.is_Integer or step == 0:
        raise Unreadable(f"loop {loop.var} steps by {step}")
    v, start = names[loop.var], _z3(init, names, sizes, "")
    out = [v >= start if step > 0 else v <= start, _z3(condition, names, sizes, "")]
    if abs(int(step)) > 1:
        out.append((v - start) % abs(int(step)) == 0)
    return out


def _z3(expr: Any, names: dict[str, Any], sizes: dict[str, int], tag: str) -> Any:
    """`expr` (sympy) in z3 terms: loop variables from `names`, sizes bound, any other
    name (a value read from memory) a free integer of this instance."""
    if isinstance(expr, sp.Symbol):
        if expr.name in names:
            return names[expr.name]
        if expr.name in sizes:
            return z3.IntVal(sizes[expr.name])
        return z3.Int(f"{expr.name}#free{tag}")
    if expr is sp.true:
        return z3.BoolVal(True)
    if expr is sp.false:
        return z3.BoolVal(False)
    if isinstance(expr, sp.Integer):
        return z3.IntVal(int(expr))
    args = [_z3(a, names, sizes, tag) for a in expr.args]
    if isinstance(expr, sp.Add):
        return z3.Sum(*args)
    if isinstance(expr, sp.Mul):
        return z3.Product(*args)
    if isinstance(expr, sp.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return z3.Product(*[args[0]] * int(expr.exp))
    if isinstance(expr, sp.Min | sp.Max):
        out = args[0]
        for a in args[1:]:
            out = z3.If(a < out, a, out) if isinstance(expr, sp.Min) else z3.If(a > out, a, out)
        return out
    relations = {sp.StrictLessThan: lambda a, b: a < b, sp.LessThan: lambda a, b: a <= b,
                 sp.StrictGreaterThan: lambda a, b: a > b, sp.GreaterThan: lambda a, b: a >= b,
                 sp.Equality: lambda a, b: a == b, sp.Unequality: lambda a, b: a != b}
    for kind, make in relations.items():
        if isinstance(expr, kind):
            return make(*args)
    if isinstance(expr, sp.And):
        return z3.And(*args)
    if isinstance(expr, sp.Or):
        return z3.Or(*args)
    if isinstance(expr, sp.Not):
        return z3.Not(*args)
    if isinstance(expr, sp.Mod):
        return args[0] % args[1]
    raise Unreadable(f"{type(expr).__name__} in {expr}")
