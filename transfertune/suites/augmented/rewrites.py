"""Source rewrites that keep a kernel's meaning and change its graph.

Each rewrite is a way a programmer could have written the same loops: another loop
order (`interchange`), other names and another order of independent statements
(`rename`), or shifted loop bounds with the index expressions that undo the shift
(`shift`). A rewrite proposes candidates in a fixed order; which candidate a variant
uses is chosen once, by running it in the interpreter against the original loops
(`transfertune.suites.augmented.generate`), and recorded, so building a variant never
has to check again.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterator

Rewrite = Callable[[ast.FunctionDef], Iterator[ast.FunctionDef]]


def _range_loops(tree: ast.AST) -> list[ast.For]:
    """`for x in range(...)` loops with a plain name as target, in source order."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.For) and isinstance(node.target, ast.Name)
            and isinstance(node.iter, ast.Call) and isinstance(node.iter.func, ast.Name)
            and node.iter.func.id == "range" and not node.iter.keywords and not node.orelse]


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _nth(func: ast.FunctionDef, index: int) -> tuple[ast.FunctionDef, ast.For]:
    """A deep copy of `func` and its `index`-th range loop."""
    copied = copy.deepcopy(func)
    return copied, _range_loops(copied)[index]


def interchange(func: ast.FunctionDef) -> Iterator[ast.FunctionDef]:
    """Swap a perfectly nested pair of loops whose bounds do not depend on each other."""
    for index, outer in enumerate(_range_loops(func)):
        inner = outer.body[0] if len(outer.body) == 1 else None
        if not (isinstance(inner, ast.For) and inner in _range_loops(outer)):
            continue
        if outer.target.id in _names(inner.iter) or inner.target.id in _names(outer.iter):
            continue
        copied, loop = _nth(func, index)
        nested = loop.body[0]
        loop.target, nested.target = nested.target, loop.target
        loop.iter, nested.iter = nested.iter, loop.iter
        yield copied


def shift(func: ast.FunctionDef) -> Iterator[ast.FunctionDef]:
    """Run a loop over ``range(a + 1, b + 1)`` and read its index as ``x - 1``."""
    for index, loop in enumerate(_range_loops(func)):
        if len(loop.iter.args) > 2:
            continue
        copied, moved = _nth(func, index)
        args = moved.iter.args
        lower, upper = (args if len(args) == 2 else [ast.Constant(0), args[0]])
        one = ast.Constant(1)
        moved.iter.args = [ast.BinOp(copy.deepcopy(lower), ast.Add(), one), ast.BinOp(copy.deepcopy(upper), ast.Add(), one)]
        var = moved.target.id
        moved.body = [_ShiftReads(var).visit(statement) for statement in moved.body]
        yield copied


class _ShiftReads(ast.NodeTransformer):
    """Every read of `var` becomes ``(var - 1)``."""

    def __init__(self, var: str) -> None:
        self.var = var

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.var and isinstance(node.ctx, ast.Load):
            return ast.BinOp(ast.Name(self.var, ast.Load()), ast.Sub(), ast.Constant(1))
        return node


def rename(func: ast.FunctionDef) -> Iterator[ast.FunctionDef]:
    """Give every local (loop indices, scalar temporaries) another name and swap a pair
    of adjacent statements where neither writes a name the other touches, one pair per
    candidate (and last, no swap at all)."""
    params = {a.arg for a in func.args.args}
    stored = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    mapping = {name: f"v{i}_{name}" for i, name in enumerate(sorted(stored - params))}
    renamed = _Rename(mapping).visit(copy.deepcopy(func))
    for body_index, position in _swappable(renamed):
        copied = copy.deepcopy(renamed)
        body = _bodies(copied)[body_index]
        body[position], body[position + 1] = body[position + 1], body[position]
        yield copied
    yield renamed


class _Rename(ast.NodeTransformer):
    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = mapping

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return ast.Name(self.mapping.get(node.id, node.id), node.ctx)


def _bodies(func: ast.FunctionDef) -> list[list[ast.stmt]]:
    """Every statement list of `func`, in a fixed order."""
    return [func.body, *(n.body for n in ast.walk(func) if isinstance(n, ast.For | ast.If) and n is not func),
            *(n.orelse for n in ast.walk(func) if isinstance(n, ast.If) and n.orelse)]


def _writes(statement: ast.stmt) -> set[str]:
    """Names `statement` assigns: scalars, and the arrays whose elements it stores to."""
    out = set()
    for node in ast.walk(statement):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AugAssign | ast.For) else []
        for target in targets:
            while isinstance(target, ast.Subscript):
                target = target.value
            if isinstance(target, ast.Name):
                out.add(target.id)
    return out


def _swappable(func: ast.FunctionDef) -> list[tuple[int, int]]:
    """(statement list, position) of adjacent statements neither of which writes a name
    the other touches."""
    out = []
    for body_index, body in enumerate(_bodies(func)):
        for position in range(len(body) - 1):
            first, second = body[position], body[position + 1]
            if not (_writes(first) & _names(second)) and not (_writes(second) & _names(first)):
                out.append((body_index, position))
    return out


REWRITES: dict[str, Rewrite] = {"interchange": interchange, "rename": rename, "shift": shift}
"""Name -> rewrite; the names are part of variant names (``gemm@shift``)."""
