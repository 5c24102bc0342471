"""Loop nest -> graph: the featuriser the embedding reads.

Nodes are the nest's control nodes (sequences, loops and maps, ifs, blocks) and its
dataflow nodes (access nodes, tasklets, library calls, constants). Edges are
control containment, block -> dataflow-node membership, and memlets. Every memlet edge
says how its (linearised) subset moves with each enclosing loop variable, outermost
first: not at all, unit stride, a small constant stride, or a symbolic stride (a whole
row or plane of an array), parsed with sympy, whether it is shifted by a
loop-independent amount, and whether it is a sliding window: two loops move it along one
dimension over a rectangular range (``img[i + a, j + b]``, ``x[n - k]``). So a column walk
and a row walk differ, and a convolution's input read differs from a matrix product's,
whose loops each move their own dimension, and from a triangular loop's band.

An access node also says how the memlets on it relate (`_neighbourhood`): a stencil or
a convolution reads one array at several loop-independent shifts of one index (its
neighbourhood), a Gram product or an all-pairs kernel reads it along different loops,
an in-place update (an accumulation, a Seidel sweep, a factorisation) writes an argument
it reads in the same block. Those tell the computation's family apart where the loop
structure alone does not (a 2-D stencil and a matrix product are both three loops of
unit-stride accesses).

Features are indices into module-level vocabularies turned into one-hot blocks plus a
few scaled numbers; the layout is versioned by `FEATURE_VERSION`, which is stored beside
every dataset and checkpoint. Deterministic: it reads the canonical JSON, whose order is
content-defined (see `transfertune.ir.loopnest`).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import sympy
import torch
from torch_geometric.data import Data

FEATURE_VERSION = 3

NODE_TYPES = ("sequence", "for", "map", "while", "if_else", "block", "assignment_block", "access_node",
              "tasklet", "library_node", "constant_node", "other")
TASKLET_CODES = 24
"""docc's TaskletCode values seen are small integers (assign, add, mul, ...); one slot each."""
LIBRARY_CALLS = ("sqrt", "exp", "pow", "fmax", "fmin", "fabs", "log", "other")
MAX_DEPTH = 6
"""Loop depths whose stride is encoded per memlet; deeper loops share the last slot."""
STRIDES = ("none", "unit", "constant", "symbolic")

NODE_DIM = len(NODE_TYPES) + TASKLET_CODES + len(LIBRARY_CALLS) + 9
STRIDE_SLOTS = slice(4, 4 + MAX_DEPTH * len(STRIDES))
"""Where a memlet edge's per-depth stride one-hots lie; the shift and window flags follow."""
EDGE_DIM = STRIDE_SLOTS.stop + 2
_NAME = re.compile(r"[A-Za-z_]\w*")


def featurize(canonical_json: str) -> Data:
    """The graph of one nest's canonical JSON (see module docstring)."""
    sdfg = json.loads(canonical_json)
    arguments = set(sdfg.get("arguments", []))
    builder = _Builder(arguments)
    builder.control(sdfg["root"], parent=None, loops=())
    x = torch.tensor(builder.nodes, dtype=torch.float32)
    if builder.edges:
        edge_index = torch.tensor(builder.edges, dtype=torch.long).t().contiguous()
        edge_attr = torch.tensor(builder.edge_attrs, dtype=torch.float32)
    else:
        edge_index = torch.zeros((2, 0), dtype=torch.long)
        edge_attr = torch.zeros((0, EDGE_DIM), dtype=torch.float32)
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr)


class _Builder:
    def __init__(self, arguments: set[str]) -> None:
        self.arguments = arguments
        self.nodes: list[list[float]] = []
        self.edges: list[tuple[int, int]] = []
        self.edge_attrs: list[list[float]] = []

    def _node(self, kind: str, tasklet: int | None = None, library: str | None = None,
              numbers: list[float] | None = None) -> int:
        feat = [0.0] * NODE_DIM
        feat[NODE_TYPES.index(kind if kind in NODE_TYPES else "other")] = 1.0
        if tasklet is not None:
            feat[len(NODE_TYPES) + min(int(tasklet), TASKLET_CODES - 1)] = 1.0
        if library is not None:
            name = library if library in LIBRARY_CALLS else "other"
            feat[len(NODE_TYPES) + TASKLET_CODES + LIBRARY_CALLS.index(name)] = 1.0
        base = len(NODE_TYPES) + TASKLET_CODES + len(LIBRARY_CALLS)
        for i, value in enumerate(numbers or []):
            feat[base + i] = float(value)
        self.nodes.append(feat)
        return len(self.nodes) - 1

    def _edge(self, src: int, dst: int, kind: int, strides: list[int] | None = None, offset: bool = False,
              write: bool = False, window: bool = False) -> None:
        attr = [0.0] * EDGE_DIM
        attr[kind] = 1.0
        attr[3] = 1.0 if write else 0.0
        for depth, stride in enumerate(strides or []):
            attr[STRIDE_SLOTS.start + min(depth, MAX_DEPTH - 1) * len(STRIDES) + stride] = 1.0
        attr[STRIDE_SLOTS.stop] = 1.0 if offset else 0.0
        attr[STRIDE_SLOTS.stop + 1] = 1.0 if window else 0.0
        self.edges.append((src, dst))
        self.edge_attrs.append(attr)

    def control(self, node: dict[str, Any], parent: int | None, loops: tuple[str, ...],
                rectangular: tuple[str, ...] = ()) -> None:
        """Add `node` and what it contains; `loops` are the enclosing loop variables,
        `rectangular` those of them whose range reads no other loop's variable."""
        kind = node.get("type", "other")
        inside = rectangular
        if kind in ("for", "map"):
            me = self._node(kind, numbers=_loop_numbers(node, loops))
            inner = loops + (node["indvar"],)
            inside = rectangular if _triangular(node, loops) else rectangular + (node["indvar"],)
            children = [node["root"]]
        elif kind == "while":
            me, inner, children = self._node(kind), loops, [node.get("root", {})]
        elif kind == "if_else":
            me, inner = self._node(kind), loops
            children = [b.get("root", b) if isinstance(b, dict) else b for b in node.get("branches", [])]
        elif kind == "sequence":
            me, inner, children = self._node(kind), loops, node.get("children", [])
        elif kind == "block":
            me = self._node(kind)
            self.dataflow(node["dataflow"], me, loops, rectangular)
            inner, children = loops, []
        else:
            me, inner, children = self._node(kind), loops, []
        if parent is not None:
            self._edge(parent, me, kind=0)
        for child in children:
            if isinstance(child, dict) and "type" in child:
                self.control(child, me, inner, inside)

    def dataflow(self, graph: dict[str, Any], block: int, loops: tuple[str, ...],
                 rectangular: tuple[str, ...]) -> None:
        index = {}
        kinds = {node["element_id"]: node.get("type", "other") for node in graph.get("nodes", [])}
        data = {node["element_id"]: node.get("data", "") for node in graph.get("nodes", []) if kinds[node["element_id"]]
                == "access_node"}
        subsets: dict[int, list[str]] = {e: [] for e in data}
        for edge in graph.get("edges", []):
            for end in (edge["src"], edge["dst"]):
                if end in subsets and edge.get("subset"):
                    subsets[end].append(edge["subset"][0])
        written = {data[e["dst"]] for e in graph.get("edges", []) if e["dst"] in data}
        read = {data[e["src"]] for e in graph.get("edges", []) if e["src"] in data}
        for node in graph.get("nodes", []):
            kind = kinds[node["element_id"]]
            if kind == "access_node":
                name = data[node["element_id"]]
                in_place = 1.0 if name in written and name in read and name in self.arguments else 0.0
                me = self._node(kind, numbers=[*_neighbourhood(subsets[node["element_id"]], loops), in_place, 0,
                                               1.0 if name not in self.arguments else 0.0, 0, 0])
            elif kind == "tasklet":
                me = self._node(kind, tasklet=node.get("code", 0))
            elif kind == "library_node":
                me = self._node(kind, library=str(node.get("name", "other")))
            else:
                me = self._node(kind)
            index[node["element_id"]] = me
            self._edge(block, me, kind=1)
        for edge in graph.get("edges", []):
            if edge["src"] not in index or edge["dst"] not in index:
                continue
            subset = edge.get("subset") or []
            strides, offset = _strides(subset[0], loops) if subset else ([], False)
            window = _window(subset[0], rectangular) if subset else False
            self._edge(index[edge["src"]], index[edge["dst"]], kind=2, strides=strides, offset=offset,
                       write=edge["dst"] in data, window=window)
            rank = _rank(subset[0]) if subset else 0
            for end in (edge["src"], edge["dst"]):
                if end in data:
                    feat = self.nodes[index[end]]
                    base = len(NODE_TYPES) + TASKLET_CODES + len(LIBRARY_CALLS)
                    feat[base + 5] = 1.0 if window else feat[base + 5]
                    feat[base + 7] = max(feat[base + 7], rank / 3.0)
                    feat[base + 8] = 1.0 if subset else feat[base + 8]


def _neighbourhood(subsets: list[str], loops: tuple[str, ...]) -> list[float]:
    """How the memlets on one access node relate: distinct subsets (/4), whether some
    differ by a loop-independent shift, how many lie at such a shift of the first (/8:
    a 5-point stencil has 4), whether some differ in how they move with the loops."""
    exprs = [e for e in (_expr(t) for t in dict.fromkeys(subsets)) if e is not None]
    if len(exprs) < 2:
        return [len(exprs) / 4.0, 0.0, 0.0, 0.0]
    names = {sympy.Symbol(v) for v in loops}
    shifted = across = 0
    for other in exprs[1:]:
        difference = sympy.expand(other - exprs[0])
        if difference.free_symbols & names:
            across += 1
        elif difference != 0:
            shifted += 1
    return [len(exprs) / 4.0, 1.0 if shifted else 0.0, shifted / 8.0, 1.0 if across else 0.0]


def _loop_numbers(node: dict[str, Any], loops: tuple[str, ...]) -> list[float]:
    """depth, unit step, negative step, non-zero start, triangular (bound uses an outer
    loop variable), symbols in the bound, map-ness."""
    update = _expr(node.get("update", ""))
    var = sympy.Symbol(node["indvar"])
    step = sympy.simplify(update - var) if update is not None else None
    cond_names = set(_NAME.findall(node.get("condition", ""))) - {node["indvar"]}
    symbols = len({n for n in cond_names if n.startswith("_s")})
    return [len(loops) / MAX_DEPTH, 1.0 if step == 1 else 0.0,
            1.0 if step is not None and step.is_number and step < 0 else 0.0,
            0.0 if str(node.get("init", "0")) == "0" else 1.0, 1.0 if _triangular(node, loops) else 0.0,
            symbols / 3.0, 0.0, 0.0, 0.0]


def _triangular(node: dict[str, Any], loops: tuple[str, ...]) -> bool:
    """Whether the loop's start or bound reads one of the enclosing `loops`."""
    names = set(_NAME.findall(node.get("condition", ""))) | set(_NAME.findall(str(node.get("init", ""))))
    return bool((names - {node["indvar"]}) & set(loops))


def _strides(subset: str, loops: tuple[str, ...]) -> tuple[list[int], bool]:
    """Stride category of `subset` in each enclosing loop variable, and whether it is
    shifted by a loop-independent amount (a constant, or whole rows: ``A[i + 1, j]``)."""
    expr = _expr(subset)
    if expr is None:
        return [0] * len(loops), False
    out = []
    for var in loops:
        coefficient = _coefficient(subset, var)
        if coefficient == 0:
            out.append(0)
        elif coefficient == 1:
            out.append(1)
        elif coefficient.is_number:
            out.append(2)
        else:
            out.append(3)
    rest = sympy.expand(expr.subs({sympy.Symbol(v): 0 for v in loops}))
    return out, bool(rest != 0)


def _window(subset: str, loops: tuple[str, ...]) -> bool:
    """Whether two of `loops` move `subset` along one dimension: their coefficients in the
    linearised index differ by a number (``(i + a) * W + j + b``: i and a both by W). A
    matrix product's loops each move their own dimension, so their coefficients differ by
    a size symbol (``i * K + k``: K and 1). The caller leaves triangular loops out: docc
    runs ``for k in range(i + 1, n)`` from zero and reads ``A[k + i + 1]``, a band, not a
    window."""
    if _expr(subset) is None:
        return False
    coefficients = [c for c in (_coefficient(subset, v) for v in loops) if c != 0]
    return any(sympy.simplify(a / b).is_number for n, a in enumerate(coefficients) for b in coefficients[n + 1:])


@lru_cache(maxsize=16384)
def _coefficient(subset: str, var: str) -> sympy.Expr:
    """How the parsed index `subset` moves with loop variable `var` (its derivative): the
    stride category and the window test both read it, so it is differentiated once."""
    return sympy.diff(_expr(subset), sympy.Symbol(var))


def _rank(subset: str) -> int:
    """Array rank as seen through the linearised subset: 1 + distinct size symbols."""
    return 1 + len({n for n in _NAME.findall(subset) if n.startswith("_s")})


@lru_cache(maxsize=4096)
def _expr(text: str) -> sympy.Expr | None:
    """Parse an index expression; names become plain symbols (no sympy built-ins)."""
    try:
        names = {n: sympy.Symbol(n) for n in _NAME.findall(text)}
        return sympy.parse_expr(text, local_dict=names, evaluate=True)
    except (SyntaxError, TypeError, ValueError, sympy.SympifyError):
        return None
