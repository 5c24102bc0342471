"""Where a program's time goes: statement executions per loop nest, at real sizes.

Transfer has a few variants to spend; a nest that runs a thousandth of the program's
statements cannot repay one. The count is exact for the loops PolyBench-like code is
made of (``init <= v < bound`` or ``<= bound``, constant step, bounds in outer loop
variables and shape symbols, triangular nests included): sympy sums the iteration space
symbolically, then the program's symbols are bound to the sizes it will run at. What a
count cannot see (a ``while``, a bound it cannot read) counts once, so such a nest is
underestimated, never dropped.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import sympy as sp

from transfertune.ir.program import Program, probe_params
from transfertune.ir.symbolic import parse_sizes

_CONDITION = re.compile(r"^\(?\s*(\w+)\s*(<=|<)\s*(.+?)\s*\)?$")
_STEP = re.compile(r"^\s*(?:(\w+)\s*\+\s*(\d+)|(\d+)\s*\+\s*(\w+))\s*$")


def nest_work(program: Program, values: dict[str, int]) -> list[float]:
    """Statement executions of each outermost nest of `program` (in `loop_nests` order)
    with its symbols (shape symbols, integer arguments) bound to `values`."""
    data = json.loads(program.sdfg_json)
    env = {sp.Symbol(k): v for k, v in values.items()}
    counts = []
    for loop in _outermost(data["root"]):
        count = _count(loop)
        try:  # ranges that are empty at some outer iteration may sum below zero: never below one
            counts.append(max(1.0, float(count.subs(env))))
        except Exception:  # noqa: BLE001 - a symbol without a value, or sympy gave up: count it once
            counts.append(1.0)
    return counts


def shares(work: list[float]) -> list[float]:
    """Each nest's fraction of the program's statement executions."""
    total = sum(work) or 1.0
    return [w / total for w in work]


def suite_values(program: Program, params: dict[str, int]) -> dict[str, int]:
    """Symbol values of a suite kernel at dataset `params`, without building its arrays:
    a symbol's probe extent names the size parameter it stands for."""
    kernel = program.kernel
    probes = probe_params(kernel)
    probe_args = kernel.init(**probes)
    by_probe = {value: name for name, value in probes.items()}
    values = {}
    for symbol, (array, dim) in program.symbols.items():
        name = by_probe.get(int(probe_args[array].shape[dim]))
        if name is not None:
            values[symbol] = params[name]
    for name, value in probe_args.items():
        if isinstance(value, int | np.integer) and int(value) in by_probe:
            values[name] = params[by_probe[int(value)]]
    return values


def argument_values(program: Program, args: dict[str, Any]) -> dict[str, int]:
    """Symbol values of a program called with `args` (its shape symbols and int arguments)."""
    values = {name: int(args[array].shape[dim]) for name, (array, dim) in program.symbols.items()}
    values.update({n: int(v) for n, v in args.items() if isinstance(v, int | np.integer)})
    return values


def _outermost(node: Any) -> list[dict]:
    if isinstance(node, dict):
        if node.get("type") in ("for", "map", "while"):
            return [node]
        return [loop for key in ("children", "root", "cases", "body") if key in node for loop in _outermost(node[key])]
    if isinstance(node, list):
        return [loop for child in node for loop in _outermost(child)]
    return []


def _count(node: Any) -> sp.Expr:
    """Statement executions under `node`, symbolically."""
    if isinstance(node, list):
        return sp.Add(*[_count(child) for child in node]) if node else sp.Integer(0)
    if not isinstance(node, dict):
        return sp.Integer(0)
    kind = node.get("type")
    if kind == "block":
        statements = [n for n in node.get("dataflow", {}).get("nodes", []) if n.get("type") in ("tasklet", "library_node")]
        return sp.Integer(max(1, len(statements)))
    body = sp.Add(*[_count(node[key]) for key in ("children", "root", "cases", "body") if key in node])
    if kind in ("for", "map"):
        return _sum_over(node, body)
    return body


def _sum_over(loop: dict, body: sp.Expr) -> sp.Expr:
    var = sp.Symbol(loop["indvar"])
    match = _CONDITION.match(loop.get("condition", ""))
    step = _STEP.match(loop.get("update", ""))
    if match is None or step is None or match.group(1) != loop["indvar"]:
        return body
    try:
        low = parse_sizes(loop["init"])
        high = parse_sizes(match.group(3)) - (1 if match.group(2) == "<" else 0)
    except (sp.SympifyError, SyntaxError, TypeError):
        return body
    stride = int(step.group(2) or step.group(3))
    return sp.summation(body, (var, low, high)) / stride
