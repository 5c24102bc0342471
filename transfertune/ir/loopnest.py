"""Loop nests: the unit transfertune measures, embeds and transfers recipes between.

A nest is one outermost loop of a program, cut out by docc into a standalone SDFG.
Its identity is a content hash of a *canonical* JSON form, so the same loops get the
same id in every run and in every program they appear in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docc.sdfg import AnalysisManager, StructuredSDFG, cutout

_VOLATILE_KEYS = frozenset({"debug_info", "name", "element_counter", "metadata"})
"""JSON keys that differ between runs or programs without changing the computation:
source positions, the cutout's generated name, id counters."""
_ID_KEYS = ("element_id", "src", "dst")
"""Keys whose integer values are element ids (edges point at nodes by id)."""


@dataclass(frozen=True)
class LoopNest:
    """One outermost loop nest of a program, as a standalone SDFG."""

    program: str
    """Name of the kernel it was cut from."""
    index: int
    """Position among the program's outermost loops (0-based, program order)."""
    canonical_json: str
    """Canonical JSON (see `canonical_json`), the input of the hash and the featuriser."""
    sdfg_json: str
    """docc's own JSON of the cutout, parseable with `StructuredSDFG.parse`."""

    @property
    def outermost(self) -> str:
        """Kind of the nest's outermost loop: ``map`` (docc found its iterations
        independent), ``for`` or ``while``."""
        node = json.loads(self.canonical_json)["root"]
        while node.get("type") == "sequence" and node.get("children"):
            node = node["children"][0]
        return str(node.get("type", ""))

    @property
    def nest_hash(self) -> str:
        """Stable content id: sha256 of the canonical JSON."""
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "index": self.index, "hash": self.nest_hash,
                "sdfg": json.loads(self.sdfg_json)}


def loop_nests(program_name: str, sdfg: StructuredSDFG) -> list[LoopNest]:
    """Cut `sdfg` into its outermost loop nests, in program order."""
    manager = AnalysisManager(sdfg)
    nests = []
    for index, loop in enumerate(manager.loop_analysis().outermost_loops()):
        piece = cutout(sdfg, manager, loop).to_json()
        nests.append(LoopNest(program_name, index, canonical_json(json.loads(piece)), piece))
    return nests


def canonical_json(sdfg: dict[str, Any]) -> str:
    """A deterministic text of an SDFG's computation.

    docc lists dataflow nodes and edges, and numbers them, in a run-dependent order; we
    order them by content (`_order_graph`), renumber ids densely in traversal order,
    and drop debug info, names and counters.
    """
    stripped = _strip(_sort_dataflow(sdfg))
    renumber: dict[int, int] = {}
    _collect_ids(stripped, renumber)
    return json.dumps(_apply_ids(stripped, renumber), sort_keys=True, separators=(",", ":"))


def _sort_dataflow(node: Any) -> Any:
    if isinstance(node, list):
        return [_sort_dataflow(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _sort_dataflow(v) for k, v in node.items()}
    if out.get("type") == "dataflow":
        out["nodes"], out["edges"] = _order_graph(out.get("nodes", []), out.get("edges", []))
    return out


def _order_graph(nodes: list[dict], edges: list[dict]) -> tuple[list[dict], list[dict]]:
    """Order a dataflow graph by content, not by element id.

    docc assigns ids to dataflow nodes in a run-dependent order, so ids cannot order
    them. Each node gets a signature from its own content refined by its neighbours'
    (two rounds of Weisfeiler-Lehman-style relabelling); nodes and edges are sorted by
    signatures. Nodes left tied are interchangeable for the hash.
    """
    content = {n["element_id"]: _label(n) for n in nodes}
    signature = dict(content)
    for _ in range(2):
        signature = {
            nid: _digest([content[nid],
                          sorted(_label(e) + signature.get(e["src"], "") for e in edges if e["dst"] == nid),
                          sorted(_label(e) + signature.get(e["dst"], "") for e in edges if e["src"] == nid)])
            for nid in content}

    def edge_key(e: dict) -> str:
        return signature.get(e["src"], "") + signature.get(e["dst"], "") + _label(e)

    return (sorted(nodes, key=lambda n: signature[n["element_id"]]), sorted(edges, key=edge_key))


def _label(element: dict) -> str:
    return json.dumps(_strip({k: v for k, v in element.items() if k not in _ID_KEYS}), sort_keys=True)


def _digest(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _strip(node: Any) -> Any:
    if isinstance(node, list):
        return [_strip(x) for x in node]
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in _VOLATILE_KEYS}
    return node


def _collect_ids(node: Any, ids: dict[int, int]) -> None:
    if isinstance(node, list):
        for x in node:
            _collect_ids(x, ids)
    elif isinstance(node, dict):
        if "element_id" in node:
            ids.setdefault(node["element_id"], len(ids))
        for key in sorted(node):
            _collect_ids(node[key], ids)


def _apply_ids(node: Any, ids: dict[int, int]) -> Any:
    if isinstance(node, list):
        return [_apply_ids(x, ids) for x in node]
    if isinstance(node, dict):
        return {k: (ids.get(v, v) if k in _ID_KEYS and isinstance(v, int) else _apply_ids(v, ids))
                for k, v in node.items()}
    return node


def parse_sdfg(text: str) -> StructuredSDFG:
    """Parse docc JSON, with a clear error instead of a crash for invalid input: the
    shape is checked here, and docc parses (and cuts out the nests) in a child process,
    since a well-formed JSON with bad contents can abort it."""
    from transfertune.isolated import run_isolated

    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"not an SDFG: invalid JSON ({err})") from None
    if not isinstance(data, dict) or not {"root", "containers", "arguments"} <= data.keys():
        raise ValueError("not an SDFG: expected a JSON object with root, containers and arguments")
    outcome = run_isolated(_parse_and_cut, text, timeout=60)
    if not outcome.ok:
        detail = outcome.message.strip().splitlines()
        raise ValueError(f"not an SDFG docc can read ({outcome.status}): {detail[-1] if detail else 'no detail'}")
    return StructuredSDFG.parse(text)


def _parse_and_cut(text: str) -> int:
    sdfg = StructuredSDFG.parse(text)
    sdfg.validate()
    return len(loop_nests("check", sdfg))


def parse_sdfg_file(path: str | Path) -> StructuredSDFG:
    """`parse_sdfg` of a file, with a clear error for a missing or unreadable one."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sdfg={path}: file not found")
    try:
        return parse_sdfg(path.read_text())
    except UnicodeDecodeError:
        raise ValueError(f"sdfg={path}: not a text file") from None
