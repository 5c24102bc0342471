"""Reading docc's JSON of a loop nest as statements: the common ground of the library-call
rewrites (`transfertune.ir.blas` for GEMM, `transfertune.ir.rank_update` for syrk/syr2k).

Both match a nest on the expanded, simplified SDFG by what it computes: the loops' ranges
(`bound`), the nest's shape (`perfect_nest`) and its one statement as a sympy expression
over the reads (`Statement`), and refuse with `NotMatrixProduct` whatever they cannot prove.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import sympy as sp

_TASKLET = {"fp_add": 2, "fp_mul": 4, "fp_fma": 7, "assign": 0}
"""docc's tasklet codes that a product's statement may be made of."""
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
"""cblas' CBLAS_ORDER and CBLAS_TRANSPOSE values (docc's GEMM node takes them too)."""
FLOAT64 = 15
"""docc's primitive type id of float64."""


_STORAGE = {"allocation": 0, "deallocation": 0, "value": "CPU_Stack"}


def _scalar(primitive: int) -> dict:
    return {"alignment": 0, "initializer": "", "primitive_type": primitive, "storage_type": _STORAGE, "type": "scalar"}


INT32, DOUBLE, _VOID = _scalar(4), _scalar(FLOAT64), _scalar(0)
"""Parameter types of a cblas routine: its enums and sizes are C ints (OpenBLAS's default
32-bit interface), its scalars doubles."""
ARRAY = {"alignment": 0, "initializer": "", "pointee_type": DOUBLE, "storage_type": _STORAGE, "type": "pointer"}
"""A ``double *`` parameter."""


class NotMatrixProduct(Exception):
    """The loop does not compute a product the library-call step can hand to BLAS."""


def new_element_id(sdfg: dict) -> int:
    """A fresh element id for a node written into SDFG JSON `sdfg` (docc requires unique ids)."""
    sdfg["element_counter"] += 1
    return sdfg["element_counter"]


def walk(node: Any, parent: dict | None = None, index: int | None = None) -> Iterator[tuple[dict, dict | None, int | None]]:
    """Every dict of an SDFG's JSON, with its parent sequence and position where it has one."""
    if isinstance(node, dict):
        yield node, parent, index
        for key, value in node.items():
            if key == "children" and isinstance(value, list):
                for i, child in enumerate(value):
                    yield from walk(child, node, i)
            elif isinstance(value, dict | list):
                yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def is_loop(node: dict) -> bool:
    return node.get("type") in ("for", "map")


def loop_ids(root: dict) -> list[int]:
    return [n["element_id"] for n, _, _ in walk(root) if is_loop(n)]


def find_loop(root: dict, element_id: int) -> tuple[dict, dict, int]:
    for node, parent, index in walk(root):
        if is_loop(node) and node.get("element_id") == element_id and parent is not None:
            return node, parent, index  # type: ignore[return-value]
    raise NotMatrixProduct(f"no loop with element id {element_id}")


def bound(loop: dict) -> str:
    var = loop["indvar"]
    if str(loop.get("init")) != "0":
        raise NotMatrixProduct(f"loop {var} starts at {loop.get('init')}")
    if loop.get("update", "").replace(" ", "") not in (f"1+{var}", f"{var}+1"):
        raise NotMatrixProduct(f"loop {var} steps by {loop.get('update')}")
    match = re.fullmatch(rf"\(?\s*{re.escape(var)}\s*<\s*(.+?)\s*\)?", loop.get("condition", ""))
    if not match:
        raise NotMatrixProduct(f"loop {var} runs while {loop.get('condition')}")
    return match.group(1)


def perfect_nest(sdfg: dict, loop: dict) -> tuple[list[dict], dict]:
    """The nest's loops and its one block (blocks one after the other are merged into one,
    in place: see `_merged`)."""
    loops = [loop]
    while True:
        children = loops[-1]["root"]["children"]
        if len(children) == 1 and is_loop(children[0]):
            loops.append(children[0])
        elif children and all(c.get("type") == "block" for c in children):
            loops[-1]["root"]["children"] = [_merged(sdfg, children)]
            return loops, loops[-1]["root"]["children"][0]
        elif len(children) != 1:
            raise NotMatrixProduct("not perfectly nested")
        else:
            raise NotMatrixProduct(f"a {children[0].get('type')} inside the nest")


def _merged(sdfg: dict, blocks: list[dict]) -> dict:
    """Blocks run one after the other, as one block: a later block's read of a scalar an
    earlier one wrote becomes a read of that write (bicg's ``q[i] = t`` after
    ``t = q[i] + A[i, j] * p[j]``)."""
    if len(blocks) == 1:
        return blocks[0]
    nodes: list[dict] = []
    edges: list[dict] = []
    last: dict[str, int] = {}
    for block in blocks:
        flow = block["dataflow"]
        targets = {e["dst"] for e in flow["edges"]}
        alias = {n["element_id"]: last[n["data"]] for n in flow["nodes"]
                 if n["type"] == "access_node" and n["element_id"] not in targets and n["data"] in last}
        nodes += [n for n in flow["nodes"] if n["element_id"] not in alias]
        edges += [{**e, "src": alias.get(e["src"], e["src"])} for e in flow["edges"]]
        last.update({n["data"]: n["element_id"] for n in flow["nodes"] if n["element_id"] in targets
                     and n["type"] == "access_node" and sdfg["containers"].get(n["data"], {}).get("type") == "scalar"})
    return {**blocks[0], "dataflow": {**blocks[0]["dataflow"], "nodes": nodes, "edges": edges}}


def _uses(root: dict, name: str) -> int:
    return sum(1 for n, _, _ in walk(root) if n.get("type") == "access_node" and n.get("data") == name)


class Statement:
    """The block's one statement as a sympy expression over its reads."""

    def __init__(self, sdfg: dict, block: dict) -> None:
        self.sdfg, self.block = sdfg, block
        flow = block["dataflow"]
        self.nodes = {n["element_id"]: n for n in flow["nodes"]}
        self.into: dict[int, list[dict]] = {}
        for edge in flow["edges"]:
            self.into.setdefault(edge["dst"], []).append(edge)
        self.reads: dict[tuple[str, str], sp.Symbol] = {}
        self.symbols: dict[sp.Symbol, tuple[str, str | None]] = {}
        writes = [e for e in flow["edges"] if self.nodes[e["dst"]]["type"] == "access_node" and e["subset"]]
        if len(writes) != 1:
            raise NotMatrixProduct(f"{len(writes)} array writes in the statement")
        self.write = writes[0]
        if self.nodes[self.write["src"]]["type"] != "tasklet":
            raise NotMatrixProduct("the write does not come from a tasklet")
        self.target = (self.nodes[self.write["dst"]]["data"], self.write["subset"][0])
        self.value = sp.expand(self.evaluate(self.write["src"]))

    def evaluate(self, node_id: int, via: dict | None = None) -> sp.Expr:
        node = self.nodes[node_id]
        kind = node["type"]
        if kind == "constant_node":
            text = node["data"]
            return sp.Float(float(text)) if any(c in text for c in ".eE") else sp.Integer(int(text))
        if kind == "access_node":
            return self._access(node, node_id, via)
        if kind == "tasklet":
            ins = {e["dst_conn"]: self.evaluate(e["src"], e) for e in self.into.get(node_id, [])}
            x = [ins[c] for c in node["inputs"]]
            operations = {_TASKLET["fp_mul"]: lambda: x[0] * x[1], _TASKLET["fp_add"]: lambda: x[0] + x[1],
                          _TASKLET["fp_fma"]: lambda: x[0] * x[1] + x[2], _TASKLET["assign"]: lambda: x[0]}
            if node["code"] not in operations:
                raise NotMatrixProduct(f"tasklet code {node['code']}")
            return operations[node["code"]]()
        raise NotMatrixProduct(f"a {kind} in the statement")

    def _access(self, node: dict, node_id: int, via: dict | None) -> sp.Expr:
        name = node["data"]
        if via is not None and via["subset"]:
            if len(via["subset"]) != 1:
                raise NotMatrixProduct("a multi-dimensional subset")
            key = (name, via["subset"][0])
            symbol = self.reads.setdefault(key, sp.Symbol(f"R{len(self.reads)}"))
            self.symbols[symbol] = key
            return symbol
        writers = self.into.get(node_id, [])
        if writers:  # a block-local temporary
            if name in self.sdfg["arguments"] or _uses(self.sdfg["root"], name) != _uses(self.block, name):
                raise NotMatrixProduct(f"scalar {name} is used outside the statement")
            return self.evaluate(writers[0]["src"], writers[0])
        if name not in self.sdfg["arguments"] or self.sdfg["containers"][name]["type"] != "scalar":
            raise NotMatrixProduct(f"operand {name} is not a scalar argument")
        symbol = sp.Symbol(f"S_{name}")
        self.symbols[symbol] = (name, None)
        return symbol


def refuse_header_conflict(sdfg: dict) -> None:
    """Refuse a library call in a program that already has one of docc's own BLAS nodes (a
    NumPy ``A @ B`` the front end parsed): those need ``cblas.h``, whose enum parameters
    contradict the ``int`` ones of docc's declaration for a call node."""
    if any(n.get("type") == "library_node" and n.get("implementation_type") == "BLAS" for n, _, _ in walk(sdfg["root"])):
        raise NotMatrixProduct("the program already calls BLAS through cblas.h, whose declarations a call node contradicts")


def call_block(sdfg: dict, debug: dict, routine: str, arguments: list[tuple[str, str, dict]]) -> dict:
    """A block calling C function `routine` through docc's call node, which docc's code
    generator declares ``extern "C"`` with the parameter types given here and calls with
    the node's inputs in order. `arguments` are (connector, value, parameter type); a value
    is a container of `sdfg` (a size or scalar argument, an array) or a number. Declares
    `routine` in `sdfg` (in place) on first use."""
    containers = sdfg["containers"]
    node_id = new_element_id(sdfg)
    nodes: list[dict] = []
    edges: list[dict] = []
    sources: dict[str, int] = {}
    for connector, value, kind in arguments:
        if value in containers:
            if kind["type"] == "pointer" and containers[value].get("pointee_type", {}).get("primitive_type") != FLOAT64:
                raise NotMatrixProduct(f"{value} is not an array of doubles")
            if value not in sources:
                sources[value] = new_element_id(sdfg)
                nodes.append({"data": value, "element_id": sources[value], "type": "access_node", "debug_info": debug})
            src, base = sources[value], containers[value]
        else:
            try:
                float(value)
            except ValueError:
                raise NotMatrixProduct(f"size {value} is not a plain size argument") from None
            src, base = new_element_id(sdfg), kind
            nodes.append({"data": value, "data_type": kind, "element_id": src, "type": "constant_node",
                          "debug_info": debug})
        edges.append({"base_type": base, "dst": node_id, "dst_conn": connector, "element_id": new_element_id(sdfg),
                      "src": src, "src_conn": "void", "subset": [], "debug_info": debug})
    nodes.append({"code": "Call", "callee_name": routine, "outputs": [], "inputs": [c for c, _, _ in arguments],
                  "element_id": node_id, "type": "library_node", "implementation_type": "", "debug_info": debug})
    if routine not in containers:
        containers[routine] = {"type": "function", "return_type": _VOID, "params": [k for _, _, k in arguments],
                               "is_var_arg": False, "storage_type": _STORAGE, "initializer": "", "alignment": 0}
        sdfg["externals"].append({"name": routine, "linkage_type": 0})
    return {"dataflow": {"edges": edges, "nodes": nodes, "type": "dataflow"}, "element_id": new_element_id(sdfg),
            "type": "block", "debug_info": debug}
