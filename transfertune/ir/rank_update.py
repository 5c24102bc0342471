"""Symmetric rank-k and rank-2k updates become ``cblas_dsyrk`` / ``cblas_dsyr2k`` calls.

docc 0.8.1 has BLAS library nodes for GEMM and DOT only, and a product over a triangle
(PolyBench's syrk and syr2k: ``C[i, j] += alpha * A[i, k] * A[j, k]`` for ``j <= i``) is
no GEMM: one GEMM would write the other triangle too. docc does have a generic call node
(a library node naming an external C function), which its code generator declares
``extern "C"`` with the parameter types the SDFG gives it and calls with the node's inputs
in order. This module matches a whole rank update and writes such a node.

What is matched (`rank_update_rewrite`), on the loop the step is given:

    for i in [0, n):                      # any loop kind, step 1
        for j in [0, i]:  C[i, j] = beta * C[i, j]          # optional
        for k in [0, m):  for j in [0, i]:  (or j outside k)
            C[i, j] += s * A[i, k] * A[j, k]                 # syrk
            C[i, j] += s * (A[i, k] * B[j, k] + B[i, k] * A[j, k])   # syr2k

with C written at ``[i, j]`` (the lower triangle) or ``[j, i]`` (the upper one), the
operands read as ``[i, k]`` or all as ``[k, i]`` (``A^T A``), unit stride along their
column, s and beta scalar arguments or constants, every size a plain size argument.
Anything else raises `NotMatrixProduct` and the caller goes on to other matches. The
rewritten program is verified against NumPy like every variant.

The scaling stays loop code, all of it before the call (legal: it touches each element
of the triangle alone, and the update reads no other element of C), and the call adds
with beta = 1. Folding beta into the call would be wrong for an empty reduction: OpenBLAS
refuses the leading dimension 0 that ``k = 0`` gives a row-major A (a message on stderr)
and returns without scaling; adding nothing is then still the right result.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

import sympy as sp

from transfertune.ir.nest_json import (
    FLOAT64,
    NO_TRANS,
    ROW_MAJOR,
    TRANS,
    NotMatrixProduct,
    Statement,
    bound,
    find_loop,
    is_loop,
    new_element_id,
    perfect_nest,
    walk,
)
from transfertune.ir.symbolic import parse_sizes

_LOWER, _UPPER = 122, 121
"""cblas' CBLAS_UPLO values."""
_STORAGE = {"allocation": 0, "deallocation": 0, "value": "CPU_Stack"}


def _scalar(primitive: int) -> dict:
    return {"alignment": 0, "initializer": "", "primitive_type": primitive, "storage_type": _STORAGE, "type": "scalar"}


_INT32, _VOID = _scalar(4), _scalar(0)
"""cblas' enum and size parameters are C ints (OpenBLAS's default 32-bit interface)."""


@dataclass(frozen=True)
class RankUpdateCall:
    """C += alpha * (A B^T + B A^T) (syr2k) or C += alpha * A A^T (syrk, ``b`` empty) on
    one triangle of C (n x n); A, B n x k (k x n when transposed)."""

    c: str
    a: str
    b: str
    n: str
    k: str
    alpha: str
    lower: bool
    trans: bool

    @property
    def routine(self) -> str:
        return "cblas_dsyr2k" if self.b else "cblas_dsyrk"

    @property
    def summary(self) -> str:
        a, b = self.a, self.b or self.a
        x, y = (f"{a}'", b) if self.trans else (a, f"{b}'")
        operands = f"{x}*{y}" if not self.b else (f"{x}*{y}+{b}'*{a}" if self.trans else f"{x}*{y}+{b}*{a}'")
        return f"{self.c} ({'lower' if self.lower else 'upper'}) = {operands} ({self.routine})"


def rank_update_rewrite(sdfg: dict, loop_id: int) -> tuple[dict, RankUpdateCall]:
    """A copy of SDFG JSON `sdfg` whose nest at loop `loop_id` is a syrk/syr2k call."""
    if any(n.get("type") == "library_node" and n.get("implementation_type") == "BLAS" for n, _, _ in walk(sdfg["root"])):
        raise NotMatrixProduct("the program already calls BLAS through cblas.h, whose declarations a call node contradicts")
    sdfg = copy.deepcopy(sdfg)
    loop, parent, index = find_loop(sdfg["root"], loop_id)
    outer = sp.Symbol(loop["indvar"])
    n = bound(loop)
    children = loop["root"]["children"]
    if not 1 <= len(children) <= 2 or not all(is_loop(c) for c in children):
        raise NotMatrixProduct("not a rank update: the loop holds more than a scaling and an update")
    update = _Update(sdfg, children[-1], outer)
    call = RankUpdateCall(update.c, update.a, update.b, n, update.k, update.alpha, update.lower, update.trans)
    block = _call_block(sdfg, loop, call, update.leading)
    if len(children) == 1:
        parent["children"][index] = block
        return sdfg, call
    _check_scaling(sdfg, children[0], outer, update)
    loop["root"]["children"] = children[:1]
    parent["children"].insert(index + 1, block)
    return sdfg, call


def _triangular(loop: dict, outer: sp.Symbol) -> bool:
    """Whether `loop` runs ``0 <= v <= outer`` in steps of one."""
    var = loop["indvar"]
    match = re.fullmatch(rf"\(?\s*{re.escape(var)}\s*<\s*(.+?)\s*\)?", loop.get("condition", ""))
    return (str(loop.get("init")) == "0" and loop.get("update", "").replace(" ", "") in (f"1+{var}", f"{var}+1")
            and match is not None and sp.expand(parse_sizes(match.group(1)) - outer - 1) == 0)


def _access(subset: str, variables: set[sp.Symbol]) -> tuple[sp.Symbol, sp.Symbol, sp.Expr]:
    """(row variable, unit-stride column variable, leading dimension) of ``row * ld + col``."""
    e = sp.expand(parse_sizes(subset))
    used = {v: e.coeff(v) for v in variables if e.coeff(v) != 0}
    if len(used) != 2 or sp.expand(e - sum(v * c for v, c in used.items())) != 0:
        raise NotMatrixProduct(f"subset {subset} is not a two-dimensional access")
    unit = [v for v, c in used.items() if c == 1]
    if len(unit) != 1 or any(c.free_symbols & variables for c in used.values()):
        raise NotMatrixProduct(f"subset {subset} has no unit-stride loop variable")
    (row,) = set(used) - set(unit)
    return row, unit[0], used[row]


def _coefficient(value: sp.Expr, statement: Statement) -> str:
    """The scalar argument's name, or the constant, that `value` is."""
    if value.free_symbols:
        if len(value.free_symbols) > 1 or value != next(iter(value.free_symbols)):
            raise NotMatrixProduct(f"coefficient {value} is not one scalar or a constant")
        return statement.symbols[value][0]
    return repr(float(value))


class _Update:
    """The rank update's own nest: two loops (one triangular over the outer variable, one
    rectangular) around ``C[.] += s * ...`` (see module docstring)."""

    def __init__(self, sdfg: dict, nest: dict, outer: sp.Symbol) -> None:
        loops, block = perfect_nest(sdfg, nest)
        if len(loops) != 2:
            raise NotMatrixProduct(f"the update has {len(loops)} loops, a rank update 2")
        inner = [lp for lp in loops if _triangular(lp, outer)]
        if len(inner) != 1:
            raise NotMatrixProduct("the update is not over a triangle")
        (rect,) = [lp for lp in loops if lp is not inner[0]]
        j, k = sp.Symbol(inner[0]["indvar"]), sp.Symbol(rect["indvar"])
        self.k = bound(rect)
        if parse_sizes(self.k).free_symbols & {outer, j, k}:
            raise NotMatrixProduct("the reduction's bound depends on a loop variable")
        variables = {outer, j, k}
        statement = Statement(sdfg, block)
        self.c, c_subset = statement.target
        c_read = statement.reads.get((self.c, c_subset))
        if c_read is None or sp.expand(statement.value - c_read).has(c_read):
            raise NotMatrixProduct("not an accumulation C += ...")
        c_row, c_col, ldc = _access(c_subset, variables)
        if {c_row, c_col} != {outer, j}:
            raise NotMatrixProduct(f"C is not written at [{outer}, {j}]")
        self.lower = c_row == outer
        self.alpha, reads = self._terms(sp.expand(statement.value - c_read), statement)
        accesses = {read: _access(statement.symbols[read][1], variables) for pair in reads for read in pair}
        self.trans = all(row == k for row, _, _ in accesses.values())
        if not self.trans and any(col != k for _, col, _ in accesses.values()):
            raise NotMatrixProduct("operands are not all read along the reduction or all across it")

        def along(read: sp.Symbol) -> sp.Symbol:
            row, col, _ = accesses[read]
            return col if self.trans else row

        names = []
        for first, second in reads:  # put the read over the outer variable first
            if along(first) != outer:
                first, second = second, first
            if (along(first), along(second)) != (outer, j):
                raise NotMatrixProduct("the operands' indices do not form a rank update")
            names.append((statement.symbols[first][0], statement.symbols[second][0]))
        if len(names) == 1 and names[0][0] == names[0][1]:
            self.a, self.b = names[0][0], ""
        elif len(names) == 2 and names[0][0] == names[1][1] != names[0][1] == names[1][0]:
            self.a, self.b = sorted(names[0])  # A B' + B A' is symmetric in A and B
        else:
            raise NotMatrixProduct("the update is neither A*A' nor A*B'+B*A'")
        if self.c in (self.a, self.b):
            raise NotMatrixProduct("C is also read as an operand")
        lds: dict[str, set[sp.Expr]] = {}
        for read, (_, _, ld) in accesses.items():
            lds.setdefault(statement.symbols[read][0], set()).add(ld)
        if any(len(found) != 1 for found in lds.values()):
            raise NotMatrixProduct("one operand read with two leading dimensions")
        self.leading = {"lda": min(lds[self.a]), "ldb": min(lds.get(self.b, {sp.Integer(0)})), "ldc": ldc}

    @staticmethod
    def _terms(update: sp.Expr, statement: Statement) -> tuple[str, list[tuple[sp.Symbol, sp.Symbol]]]:
        """The common coefficient of the update's terms and each term's two array reads."""
        coefficients, reads = set(), []
        for term in sp.Add.make_args(update):
            arrays = sorted((f for f in term.free_symbols if statement.symbols[f][1] is not None), key=str)
            if len(arrays) == 1 and term.as_powers_dict()[arrays[0]] == 2:
                arrays = arrays * 2
            if len(arrays) != 2 or sp.expand(term / (arrays[0] * arrays[1])).free_symbols & set(arrays):
                raise NotMatrixProduct(f"term {term} is not a product of two array reads")
            coefficients.add(sp.simplify(term / (arrays[0] * arrays[1])))
            reads.append((arrays[0], arrays[1]))
        if len(coefficients) != 1:
            raise NotMatrixProduct("the update's terms have different coefficients")
        return _coefficient(coefficients.pop(), statement), reads


def _check_scaling(sdfg: dict, nest: dict, outer: sp.Symbol, update: _Update) -> None:
    """That the loop before the update is ``for j in [0, i]: C[i, j] = beta * C[i, j]``."""
    loops, block = perfect_nest(sdfg, nest)
    if len(loops) != 1 or not _triangular(loops[0], outer):
        raise NotMatrixProduct("the loop before the update is not a scaling of the triangle")
    statement = Statement(sdfg, block)
    name, subset = statement.target
    j = sp.Symbol(loops[0]["indvar"])
    row, col, ld = _access(subset, {outer, j})
    if name != update.c or (row == outer) != update.lower or sp.expand(ld - update.leading["ldc"]) != 0:
        raise NotMatrixProduct("the scaling is not of the updated triangle")
    read = statement.reads.get((name, subset))
    if read is None:
        raise NotMatrixProduct("the scaling does not read C")
    beta = sp.simplify(statement.value / read)
    if beta.has(read) or any(statement.symbols[s][1] is not None for s in beta.free_symbols):
        raise NotMatrixProduct(f"the scaling multiplies by {beta}")
    _coefficient(beta, statement)


def _call_block(sdfg: dict, loop: dict, call: RankUpdateCall, leading: dict[str, sp.Expr]) -> dict:
    """A block with one docc call node: ``cblas_dsyrk(RowMajor, uplo, trans, n, k, alpha,
    A, lda, 1.0, C, ldc)`` (``cblas_dsyr2k`` takes ``B, ldb`` after ``A, lda``)."""
    containers = sdfg["containers"]
    for name in filter(None, (call.c, call.a, call.b)):
        kind = containers[name]
        if kind.get("type") != "pointer" or kind.get("pointee_type", {}).get("primitive_type") != FLOAT64:
            raise NotMatrixProduct(f"{name} is not an array of doubles")
    pointer = containers[call.c]
    double = _scalar(FLOAT64)
    def new_id() -> int:
        return new_element_id(sdfg)

    debug = loop.get("debug_info", {"has": False})
    node_id = new_id()
    nodes: list[dict] = []
    edges: list[dict] = []
    sources: dict[str, int] = {}
    inputs: list[tuple[str, dict]] = []

    def argument(connector: str, value: str, kind: dict) -> None:
        if value in containers:  # a size or scalar argument, or an array
            if value not in sources:
                sources[value] = new_id()
                nodes.append({"data": value, "element_id": sources[value], "type": "access_node", "debug_info": debug})
            src, kind = sources[value], containers[value]
        else:
            try:
                float(value)
            except ValueError:
                raise NotMatrixProduct(f"size {value} is not a plain size argument") from None
            src = new_id()
            nodes.append({"data": value, "data_type": kind, "element_id": src, "type": "constant_node",
                          "debug_info": debug})
        edges.append({"base_type": kind, "dst": node_id, "dst_conn": connector, "element_id": new_id(), "src": src,
                      "src_conn": "void", "subset": [], "debug_info": debug})
        integer = kind["type"] == "scalar" and kind["primitive_type"] in (4, 5)
        inputs.append((connector, _INT32 if integer else kind))

    argument("_order", str(ROW_MAJOR), _INT32)
    argument("_uplo", str(_LOWER if call.lower else _UPPER), _INT32)
    argument("_trans", str(TRANS if call.trans else NO_TRANS), _INT32)
    argument("_n", call.n, _INT32)
    argument("_k", call.k, _INT32)
    argument("_alpha", call.alpha, double)
    argument("_a", call.a, pointer)
    argument("_lda", str(leading["lda"]), _INT32)
    if call.b:
        argument("_b", call.b, pointer)
        argument("_ldb", str(leading["ldb"]), _INT32)
    argument("_beta", "1.0", double)
    argument("_c", call.c, pointer)
    argument("_ldc", str(leading["ldc"]), _INT32)
    nodes.append({"code": "Call", "callee_name": call.routine, "outputs": [], "inputs": [c for c, _ in inputs],
                  "element_id": node_id, "type": "library_node", "implementation_type": "", "debug_info": debug})
    if call.routine not in containers:
        containers[call.routine] = {"type": "function", "return_type": _VOID, "params": [t for _, t in inputs],
                                    "is_var_arg": False, "storage_type": _STORAGE, "initializer": "", "alignment": 0}
        sdfg["externals"].append({"name": call.routine, "linkage_type": 0})
    return {"dataflow": {"edges": edges, "nodes": nodes, "type": "dataflow"}, "element_id": new_id(),
            "type": "block", "debug_info": debug}
