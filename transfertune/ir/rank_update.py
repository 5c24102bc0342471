"""Symmetric rank-k and rank-2k updates become ``cblas_dsyrk`` / ``cblas_dsyr2k`` calls.

docc 0.8.1 has BLAS library nodes for GEMM and DOT only, and a product over a triangle
(PolyBench's syrk and syr2k: ``C[i, j] += alpha * A[i, k] * A[j, k]`` for ``j <= i``) is
no GEMM: one GEMM would write the other triangle too. docc does have a generic call node
(a library node naming an external C function), which its code generator declares
``extern "C"`` with the parameter types the SDFG gives it and calls with the node's inputs
in order. This module matches a whole rank update and writes such a node.

What is matched (`rank_update_rewrite`), on the loop the step is given:

    for i in [0, n):                      # any loop kind, step 1
        ...                                                  # other work, before
        for k in [0, m):  for j in [0, i]:  (or j outside k)
            C[i, j] += s * A[i, k] * A[j, k]                 # syrk
            C[i, j] += s * (A[i, k] * B[j, k] + B[i, k] * A[j, k])   # syr2k
        ...                                                  # and after

or the same with j over ``[i, n)`` (docc writes ``range(i, n)`` as ``[0, n - i)`` reading
``j + i``, which is read back); with C written at ``[i, j]`` or ``[j, i]`` (the triangle
follows: ``[i, j]`` with ``j <= i`` is the lower one), the operands read as ``[i, k]`` or
all as ``[k, i]`` (``A'A``), unit stride along their column, s a scalar argument or a
constant, every size a plain size argument. Anything else raises `NotMatrixProduct` and
the caller goes on to other matches. The rewritten program is verified against NumPy
like every variant.

The work around the update stays loop code: one loop over what came before it, the call,
one loop over what came after. That is the loop distributed, which
`dependence.distributable` must prove legal (syrk's scaling by beta before, covariance's
division and mirror store after; a later row's update reading what an earlier row's
work after it wrote is refused). The call adds with beta = 1, even where a scaling by
beta came before: folding it into the call would be wrong for an empty reduction, as
OpenBLAS refuses the leading dimension 0 that ``k = 0`` gives a row-major A (a message on
stderr) and returns without scaling; adding nothing is then still the right result.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass

import sympy as sp

from transfertune.ir.dependence import distributable
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
    new_element_id,
    perfect_nest,
    refuse_header_conflict,
)
from transfertune.ir.symbolic import parse_sizes

_LOWER, _UPPER = 122, 121
"""cblas' CBLAS_UPLO values."""


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
    """A copy of SDFG JSON `sdfg` in which the rank update inside loop `loop_id` is a
    syrk/syr2k call, the loop's other children left as loops before and after it."""
    refuse_header_conflict(sdfg)
    sdfg = copy.deepcopy(sdfg)
    loop, parent, index = find_loop(sdfg["root"], loop_id)
    outer, n = sp.Symbol(loop["indvar"]), bound(loop)
    children = loop["root"]["children"]
    found, why = None, "it holds no loop"
    for position, child in enumerate(children):
        if is_loop(child):
            try:
                found = position, _Update(sdfg, child, outer, n)
                break
            except NotMatrixProduct as error:
                why = str(error)
    if found is None:
        raise NotMatrixProduct(f"no rank update in the loop: {why}")
    position, update = found
    text = json.dumps(sdfg)
    for split in (position, position + 1):
        if 0 < split < len(children):
            legal, reason = distributable(text, loop_id, split)
            if not legal:
                raise NotMatrixProduct(f"the rank update cannot leave its loop: {reason}")
    call = RankUpdateCall(update.c, update.a, update.b, n, update.k, update.alpha, update.lower, update.trans)
    before, after = children[:position], children[position + 1:]
    replacement = [{**loop, "root": {**loop["root"], "children": before}}] if before else []
    replacement.append(_call_block(sdfg, loop, call, update.leading))
    if after:
        ids = {"element_id": new_element_id(sdfg)} if before else {}
        root = {**loop["root"], "children": after, **({"element_id": new_element_id(sdfg)} if before else {})}
        replacement.append({**loop, **ids, "root": root})
    parent["children"][index:index + 1] = replacement
    return sdfg, call


def _triangle(loop: dict, outer: sp.Symbol, n: str) -> tuple[str, sp.Expr] | None:
    """Which triangle `loop` runs over, in steps of one, and the offset of the column it
    stands for: ``("below", 0)`` for ``0 <= v <= outer``, ``("above", 0)`` for ``outer <=
    v < n`` (n the outer loop's bound), ``("above", outer)`` for ``0 <= v < n - outer``
    (docc normalises ``range(i, n)`` to that, reading ``v + i``); else None."""
    var = loop["indvar"]
    match = re.fullmatch(rf"\(?\s*{re.escape(var)}\s*<\s*(.+?)\s*\)?", loop.get("condition", ""))
    if match is None or loop.get("update", "").replace(" ", "") not in (f"1+{var}", f"{var}+1"):
        return None
    start, end, size = parse_sizes(str(loop.get("init"))), parse_sizes(match.group(1)), parse_sizes(n)
    if start == 0 and sp.expand(end - outer - 1) == 0:
        return "below", sp.Integer(0)
    if sp.expand(start - outer) == 0 and sp.expand(end - size) == 0:
        return "above", sp.Integer(0)
    if start == 0 and sp.expand(end - size + outer) == 0:
        return "above", outer
    return None


def _access(subset: str, variables: set[sp.Symbol], shift: dict[sp.Symbol, sp.Expr]
            ) -> tuple[sp.Symbol, sp.Symbol, sp.Expr]:
    """(row variable, unit-stride column variable, leading dimension) of ``row * ld + col``,
    a loop variable ``v`` that stands for ``v + offset`` (`shift`) read as that."""
    e = sp.expand(parse_sizes(subset).subs({v: v - o for v, o in shift.items()}))
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

    def __init__(self, sdfg: dict, nest: dict, outer: sp.Symbol, n: str) -> None:
        loops, block = perfect_nest(sdfg, nest)
        if len(loops) != 2:
            raise NotMatrixProduct(f"the update has {len(loops)} loops, a rank update 2")
        inner = [lp for lp in loops if _triangle(lp, outer, n)]
        if len(inner) != 1:
            raise NotMatrixProduct("the update is not over a triangle")
        self.triangle, offset = _triangle(inner[0], outer, n)  # type: ignore[misc]
        (rect,) = [lp for lp in loops if lp is not inner[0]]
        j, k = sp.Symbol(inner[0]["indvar"]), sp.Symbol(rect["indvar"])
        shift = {j: offset}
        self.k = bound(rect)
        if parse_sizes(self.k).free_symbols & {outer, j, k}:
            raise NotMatrixProduct("the reduction's bound depends on a loop variable")
        variables = {outer, j, k}
        statement = Statement(sdfg, block)
        self.c, c_subset = statement.target
        c_read = statement.reads.get((self.c, c_subset))
        if c_read is None or sp.expand(statement.value - c_read).has(c_read):
            raise NotMatrixProduct("not an accumulation C += ...")
        c_row, c_col, ldc = _access(c_subset, variables, shift)
        if {c_row, c_col} != {outer, j}:
            raise NotMatrixProduct(f"C is not written at [{outer}, {j}]")
        self.lower = (c_row == outer) == (self.triangle == "below")
        self.alpha, reads = self._terms(sp.expand(statement.value - c_read), statement)
        accesses = {read: _access(statement.symbols[read][1], variables, shift) for pair in reads for read in pair}
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


def _call_block(sdfg: dict, loop: dict, call: RankUpdateCall, leading: dict[str, sp.Expr]) -> dict:
    """``cblas_dsyrk(RowMajor, uplo, trans, n, k, alpha, A, lda, 1.0, C, ldc)`` as a block
    (``cblas_dsyr2k`` takes ``B, ldb`` after ``A, lda``)."""
    arguments = [("_order", str(ROW_MAJOR), INT32), ("_uplo", str(_LOWER if call.lower else _UPPER), INT32),
                 ("_trans", str(TRANS if call.trans else NO_TRANS), INT32), ("_n", call.n, INT32),
                 ("_k", call.k, INT32), ("_alpha", call.alpha, DOUBLE), ("_a", call.a, ARRAY),
                 ("_lda", str(leading["lda"]), INT32)]
    if call.b:
        arguments += [("_b", call.b, ARRAY), ("_ldb", str(leading["ldb"]), INT32)]
    arguments += [("_beta", "1.0", DOUBLE), ("_c", call.c, ARRAY), ("_ldc", str(leading["ldc"]), INT32)]
    return call_block(sdfg, loop.get("debug_info", {"has": False}), call.routine, arguments)
