"""The library-call step: matrix products become calls into an optimised BLAS.

docc 0.8.1 detects einsums only on a freshly parsed SDFG, for the whole program at once,
and only for perfectly nested products; after expand() it no longer can. Recipes work on
the expanded, simplified SDFG, one loop at a time, so this module matches a product there
and writes a ``cblas_dgemm`` (``cblas_dgemv`` for a matrix-vector product) through docc's
call node (`nest_json.call_block`): a library node naming an external C function, declared
by docc's code generator itself. (docc's own GEMM node would need ``cblas.h``, whose enum
parameters contradict the call node's declarations of the rank updates', so one kind of
call serves every rewrite.)

What is matched (`gemm_rewrite`): a perfect nest of three loops (any order, map or for,
``0 <= v < bound`` step 1, bounds free of loop variables) whose one statement is
``C[r, c] += s * X * Y`` with X, Y two-dimensional reads with unit stride (either may be
transposed), s one scalar argument or a constant, C different from X and Y; or the same
with two loops and a vector output (a matrix-vector product). Every size a plain size
argument (or a number), which the call passes on. Anything
else is not a matrix product and the step is skipped, never approximated; the rewritten
program is verified against NumPy like every variant.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

import sympy as sp
from docc import sdfg as d

from transfertune.ir.nest_json import (
    ARRAY,
    DOUBLE,
    INT32,
    NO_TRANS,
    ROW_MAJOR,
    TRANS,
    NotMatrixProduct,
    Statement,
    bound,
    call_block,
    find_loop,
    is_loop,
    loop_ids,
    new_element_id,
    perfect_nest,
    refuse_header_conflict,
    walk,
)
from transfertune.ir.rank_update import RankUpdateCall, rank_update_rewrite
from transfertune.ir.symbolic import parse_sizes


@dataclass(frozen=True)
class GemmCall:
    """What one rewrite hands to BLAS: C (m x n) += alpha * op(A) (m x k) * op(B) (k x n)."""

    c: str
    a: str
    b: str
    m: str
    n: str
    k: str
    alpha: str
    trans_a: bool
    trans_b: bool

    @property
    def summary(self) -> str:
        return f"{self.c} += {self.a}*{self.b}"


def replace_products(sdfg: d.StructuredSDFG, loop: Any) -> tuple[d.StructuredSDFG, list[GemmCall | RankUpdateCall]]:
    """A new SDFG in which the matrix products computed under `loop` are BLAS calls.

    A loop that is a whole symmetric rank update (syrk, syr2k) becomes one call to it
    (`transfertune.ir.rank_update`); otherwise products and rank updates are looked for
    below it. A loop that holds more than the product (PolyBench's gemm scales C first;
    2mm initialises ``tmp``; covariance's update sits between a zeroing and a division)
    is distributed first, innermost loops first, wherever docc says
    distribution is legal, so each product becomes a nest of its own; a block computing
    independent statements is split first (`_split_statements`), since docc distributes
    between blocks only. All of it happens
    on a copy: when no product is found, `sdfg` is untouched and this raises.
    """
    target = loop.element_id
    data = json.loads(sdfg.to_json())
    try:
        data, call = rank_update_rewrite(data, target)
        rewritten = d.StructuredSDFG.parse(json.dumps(data))
        rewritten.validate()
        return rewritten, [call]
    except NotMatrixProduct:
        pass
    before = loop_ids(data["root"])
    _split_statements(data, target)
    work = d.StructuredSDFG.parse(json.dumps(data))
    _distribute_below(work, target)
    data = json.loads(work.to_json())
    # The loop itself (if it survived distribution) and every loop distribution created.
    candidates = [target] + [i for i in loop_ids(data["root"]) if i not in before]
    calls = []
    for loop_id in candidates:
        for rewrite in (rank_update_rewrite, gemm_rewrite):
            try:
                data, call = rewrite(data, loop_id)
            except NotMatrixProduct:
                continue
            calls.append(call)
            break
    if not calls:
        raise NotMatrixProduct("no matrix product under this loop")
    rewritten = d.StructuredSDFG.parse(json.dumps(data))
    rewritten.validate()
    return rewritten, calls


def nests_with_products(sdfg_json: str) -> list[int]:
    """Indices of the outermost nests of an SDFG (docc JSON) under whose root a ``blas``
    step finds a matrix product."""
    sdfg = d.StructuredSDFG.parse(sdfg_json)
    roots = d.AnalysisManager(d.StructuredSDFGBuilder(sdfg)).loop_analysis().outermost_loops()
    found = []
    for index, root in enumerate(roots):
        try:
            replace_products(sdfg, root)
        except NotMatrixProduct:
            continue
        found.append(index)
    return found


def _split_statements(sdfg: dict, loop_id: int) -> None:
    """Split, in place, every block under loop `loop_id` that computes independent
    statements into one block per statement. bicg's ``j`` loop updates ``s`` and ``q``
    in one block, so docc could not distribute it and neither matrix-vector product became
    a nest. Statements are independent when none writes a container another touches;
    an array they all only read (``A``) is read by each block. Blocks whose statements
    share a computation or a written container stay whole."""
    loop, _, _ = find_loop(sdfg["root"], loop_id)
    found = [(parent, index, node) for node, parent, index in walk(loop["root"])
             if node.get("type") == "block" and parent is not None]
    for parent, index, block in reversed(found):  # later positions first: earlier indices stay valid
        parts = _statements(sdfg, block)
        if len(parts) > 1:
            # A statement whose result the blocks after it read goes last, next to them,
            # so that distribution can keep them together (bicg's q update, then q = t).
            later = {n["data"] for n, _, _ in walk(parent["children"][index + 1:]) if n.get("type") == "access_node"}
            parts.sort(key=lambda part: bool(_written(part) & later))
            parent["children"][index:index + 1] = parts


def _statements(sdfg: dict, block: dict) -> list[dict]:
    """`block` as one block per independent statement (see `_split_statements`), or as
    itself."""
    flow = block["dataflow"]
    nodes = {n["element_id"]: n for n in flow["nodes"]}
    into: dict[int, list[dict]] = {}
    for edge in flow["edges"]:
        into.setdefault(edge["dst"], []).append(edge)
    sources = {edge["src"] for edge in flow["edges"]}
    sinks = [i for i, n in nodes.items() if n["type"] == "access_node" and i in into and i not in sources]
    groups = []
    for sink in sinks:
        members, stack = set(), [sink]
        while stack:
            node = stack.pop()
            if node not in members:
                members.add(node)
                stack.extend(edge["src"] for edge in into.get(node, []))
        groups.append(members)
    if len(groups) < 2 or set().union(*groups) != set(nodes):
        return [block]
    shared = {i for i in nodes if sum(i in g for g in groups) > 1}
    if any(i in into for i in shared):  # a computed value two statements use
        return [block]
    names = [{nodes[i]["data"] for i in g if nodes[i]["type"] == "access_node"} for g in groups]
    written = [{nodes[i]["data"] for i in g if nodes[i]["type"] == "access_node" and i in into} for g in groups]
    if any(written[a] & names[b] for a in range(len(groups)) for b in range(len(groups)) if a != b):
        return [block]
    parts = []
    for number, group in enumerate(groups):
        copies = {i: new_element_id(sdfg) for i in sorted(shared)} if number else {}
        part_nodes = [{**nodes[i], "element_id": copies.get(i, i)} for i in sorted(group)]
        part_edges = [{**e, "src": copies.get(e["src"], e["src"])} for e in flow["edges"] if e["dst"] in group]
        parts.append({**block, "element_id": new_element_id(sdfg) if number else block["element_id"],
                      "dataflow": {**flow, "nodes": part_nodes, "edges": part_edges}})
    return parts


def _written(block: dict) -> set[str]:
    """The containers a block writes."""
    targets = {e["dst"] for e in block["dataflow"]["edges"]}
    return {n["data"] for n in block["dataflow"]["nodes"] if n["element_id"] in targets and n["type"] == "access_node"}


def _distribute_below(sdfg: d.StructuredSDFG, loop_id: int) -> None:
    """Distribute the loop `loop_id` and every loop below it, innermost first, where legal;
    then the loops those distributions made, in turn (atax's ``i`` splits off its
    initialisation first, and the loop left holds the two products)."""
    builder = d.StructuredSDFGBuilder(sdfg)
    root = json.loads(sdfg.to_json())["root"]
    seen = set(loop_ids(root))  # loops of other nests are never touched
    order = _postorder(root, loop_id)
    while order:
        _distribute_each(builder, order)
        order = [i for i in loop_ids(json.loads(sdfg.to_json())["root"]) if i not in seen]
        seen.update(order)


def _distribute_each(builder: d.StructuredSDFGBuilder, order: list[int]) -> None:
    for element in order:
        manager = d.AnalysisManager(builder)
        node = _docc_loop(manager, element)
        if node is None:
            continue
        transformation = d.LoopDistribute(node)
        try:
            if transformation.can_be_applied(builder, manager):
                transformation.apply(builder, manager)
        except Exception:  # noqa: BLE001 - docc raises assorted types for "does not fit"
            continue


def _docc_loop(manager: d.AnalysisManager, element_id: int) -> Any:
    from transfertune.ir.transform import child_loops

    stack = list(manager.loop_analysis().outermost_loops())
    while stack:
        loop = stack.pop()
        if loop.element_id == element_id:
            return loop
        stack.extend(child_loops(loop))
    return None


def _postorder(root: dict, loop_id: int) -> list[int]:
    """Loop ids under (and including) `loop_id`, every loop after all loops below it
    (reversed pre-order)."""
    found = next((n for n, _, _ in walk(root) if is_loop(n) and n["element_id"] == loop_id), None)
    return [] if found is None else [loop_id, *loop_ids(found["root"])][::-1]


def gemm_rewrite(sdfg: dict, loop_id: int) -> tuple[dict, GemmCall]:
    """A copy of SDFG JSON `sdfg` with the nest rooted at loop `loop_id` replaced by a
    GEMM library node, or a ``cblas_dgemv`` call node for a matrix-vector product (see
    `_gemv_block`); `NotMatrixProduct` says why when it is not a matrix product."""
    sdfg = copy.deepcopy(sdfg)
    loop, parent, index = find_loop(sdfg["root"], loop_id)
    loops, block = perfect_nest(sdfg, loop)
    if len(loops) not in (2, 3):
        raise NotMatrixProduct(f"{len(loops)} loops; a product has 3 (2 for a matrix-vector product)")
    variables = [sp.Symbol(lp["indvar"]) for lp in loops]
    bounds = {sp.Symbol(lp["indvar"]): bound(lp) for lp in loops}
    if any(parse_sizes(b).free_symbols & set(variables) for b in bounds.values()):
        raise NotMatrixProduct("a bound depends on a loop variable (triangular)")
    statement = Statement(sdfg, block)
    c_name, c_subset = statement.target
    c_read = statement.reads.get((c_name, c_subset))
    if c_read is None or sp.expand(statement.value - c_read).has(c_read):
        raise NotMatrixProduct("not an accumulation C += ...")
    update = sp.expand(statement.value - c_read)
    if not isinstance(update, sp.Mul):
        raise NotMatrixProduct(f"update {update} is not one product")
    arrays = [f for f in update.args if f in statement.symbols and statement.symbols[f][1] is not None]
    powers = update.as_powers_dict()
    if len(arrays) != 2 or any(powers[a] != 1 for a in arrays):
        raise NotMatrixProduct(f"update {update} is not a product of two array reads")
    coefficient = sp.simplify(update / (arrays[0] * arrays[1]))
    scalars = list(coefficient.free_symbols)
    if len(scalars) > 1 or (scalars and coefficient != scalars[0]):
        raise NotMatrixProduct(f"coefficient {coefficient} is not one scalar or a constant")

    def linear(subset: str) -> tuple[sp.Symbol, sp.Symbol | None, sp.Expr]:
        """(row variable, column variable or None for a vector, leading dimension)."""
        e = sp.expand(parse_sizes(subset))
        used = {v: e.coeff(v) for v in variables if e.coeff(v) != 0}
        if sp.expand(e - sum(v * c for v, c in used.items())) != 0:
            raise NotMatrixProduct(f"subset {subset} has an offset or is not linear")
        if len(loops) == 2 and len(used) == 1 and next(iter(used.values())) == 1:
            return next(iter(used)), None, sp.Integer(1)
        if len(used) != 2 or any(c.free_symbols & set(variables) for c in used.values()):
            raise NotMatrixProduct(f"subset {subset} is not a two-dimensional access")
        unit = [v for v, c in used.items() if c == 1]
        if len(unit) != 1:
            raise NotMatrixProduct(f"subset {subset} has no unit-stride loop variable")
        (row,) = [v for v in used if v != unit[0]]
        return row, unit[0], used[row]

    c_row, c_col, ldc = linear(c_subset)
    if len(loops) == 2 and c_col is not None:
        raise NotMatrixProduct("two loops, but the output is not a vector")
    (k_var,) = [v for v in variables if v not in (c_row, c_col)]
    operands = [(statement.symbols[a][0], linear(statement.symbols[a][1])) for a in arrays]
    if c_name in (operands[0][0], operands[1][0]):
        raise NotMatrixProduct("C is also read as an operand")
    if {operands[0][1][0], operands[0][1][1]} - {None} != {c_row, k_var}:
        operands.reverse()
    (a_name, (a_row, a_col, lda)), (b_name, (b_row, b_col, ldb)) = operands
    if {a_row, a_col} != {c_row, k_var} or {b_row, b_col} - {None} != {k_var, c_col} - {None}:
        raise NotMatrixProduct("the operands' indices do not form a matrix product")
    trans_a = (a_row, a_col) != (c_row, k_var)
    if c_col is None:
        if b_col is not None:
            raise NotMatrixProduct("the vector operand is not unit-stride")
        trans_b, n = False, "1"
    else:
        trans_b, n = (b_row, b_col) != (k_var, c_col), bounds[c_col]
    m, k = bounds[c_row], bounds[k_var]
    alpha = str(scalars[0])[2:] if scalars else repr(float(coefficient))
    call = GemmCall(c_name, a_name, b_name, str(m), str(n), str(k), alpha, trans_a, trans_b)
    refuse_header_conflict(sdfg)
    if c_col is None:
        parent["children"][index] = _gemv_block(sdfg, loop, call, str(lda))
    else:
        parent["children"][index] = _gemm_block(sdfg, loop, call, str(lda), str(ldb), str(ldc))
    return sdfg, call


def _gemm_block(sdfg: dict, loop: dict, call: GemmCall, lda: str, ldb: str, ldc: str) -> dict:
    """``cblas_dgemm(RowMajor, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, 1.0, C,
    ldc)`` through docc's call node."""
    arguments = [("_order", str(ROW_MAJOR), INT32), ("_trans_a", str(TRANS if call.trans_a else NO_TRANS), INT32),
                 ("_trans_b", str(TRANS if call.trans_b else NO_TRANS), INT32), ("_m", call.m, INT32),
                 ("_n", call.n, INT32), ("_k", call.k, INT32), ("_alpha", call.alpha, DOUBLE), ("_a", call.a, ARRAY),
                 ("_lda", lda, INT32), ("_b", call.b, ARRAY), ("_ldb", ldb, INT32), ("_beta", "1.0", DOUBLE),
                 ("_c", call.c, ARRAY), ("_ldc", ldc, INT32)]
    return call_block(sdfg, loop.get("debug_info", {"has": False}), "cblas_dgemm", arguments)


def _gemv_block(sdfg: dict, loop: dict, call: GemmCall, lda: str) -> dict:
    """``cblas_dgemv(RowMajor, trans, rows, cols, alpha, A, lda, x, 1, 1.0, y, 1)`` for
    ``y += alpha * op(A) x``, through docc's call node. A GEMM with n = 1 does the same
    work, slowly on Debian 12's OpenBLAS 0.3.21: bicg's two products at LARGE on cpu-omp
    gave 1.8x as GEMMs, 5.9x as these calls."""
    rows, cols = (call.k, call.m) if call.trans_a else (call.m, call.k)
    arguments = [("_order", str(ROW_MAJOR), INT32), ("_trans", str(TRANS if call.trans_a else NO_TRANS), INT32),
                 ("_m", rows, INT32), ("_n", cols, INT32), ("_alpha", call.alpha, DOUBLE), ("_a", call.a, ARRAY),
                 ("_lda", lda, INT32), ("_x", call.b, ARRAY), ("_incx", "1", INT32), ("_beta", "1.0", DOUBLE),
                 ("_y", call.c, ARRAY), ("_incy", "1", INT32)]
    return call_block(sdfg, loop.get("debug_info", {"has": False}), "cblas_dgemv", arguments)
