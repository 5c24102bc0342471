"""Reading docc's size expressions (loop bounds, subsets, argument footprints) into sympy.

docc writes expressions in the names of the program: shape symbols (``_s0``), loop
variables and the user's own int arguments. A bare `sympy.sympify` reads some of those as
SymPy's built-ins: ``N`` and ``S`` are functions or registries (a TypeError), ``E`` and
``pi`` are constants (a size silently read as 2.718...), ``beta`` and ``gamma`` are special
functions. So every name that is not called is parsed as a plain `Symbol` of that name;
called names are docc's integer functions (below) or keep SymPy's meaning (``max``, ``min``).
"""

from __future__ import annotations

import re
from typing import Any

import sympy

FREE_NAME = re.compile(r"\b([A-Za-z_]\w*)\b(?!\s*\()")


DOCC_FUNCTIONS: dict[str, Any] = {
    "idiv": lambda a, b: sympy.floor(a / b), "imod": sympy.Mod, "iabs": sympy.Abs,
    "zext_i64": lambda x: x, "trunc_i32": lambda x: x}
"""docc's integer functions in sympy terms. C's ``/`` truncates where `floor` floors:
the same for the non-negative sizes and indices these expressions are evaluated at."""


def parse_sizes(text: str) -> sympy.Expr:
    """`text` as a sympy expression whose names are all plain symbols (see module
    docstring); raises `sympy.SympifyError`, `SyntaxError` or `TypeError` on text that is
    no expression."""
    names: dict[str, Any] = {name: sympy.Symbol(name) for name in FREE_NAME.findall(text)}
    return sympy.parse_expr(text, local_dict=DOCC_FUNCTIONS | names, evaluate=True)
