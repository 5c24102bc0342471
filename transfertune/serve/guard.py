"""What a client's SDFG may hold before the farm compiles and runs it.

docc's code generator writes a call for every node that names a function, and declares
the SDFG's externals; the generated C++ includes the C library's headers, so a named
call could reach anything (`system` among them). The SDFGs docc's client sends for loop
code have neither (no PolyBench or corpus kernel does), so an SDFG that declares
externals, holds a function-typed container or calls a named function is refused: at
the service's endpoint (400, with the reason) and again in the farm, which also reads
requests stored before this check existed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


def refuse_foreign_code(sdfg: Mapping[str, Any]) -> None:
    """ValueError naming the first construct of `sdfg` (docc's JSON) that could call code
    outside the SDFG; None when it has none."""
    externals = sdfg.get("externals")
    if externals:
        shown = ", ".join(str(e)[:40] for e in externals[:3]) if isinstance(externals, list) else str(externals)[:40]
        raise ValueError(f"the SDFG declares externals ({shown}): calls to code outside the SDFG are not accepted")
    containers = sdfg.get("containers")
    if isinstance(containers, Mapping):
        for name, spec in containers.items():
            if isinstance(spec, Mapping) and spec.get("type") == "function":
                raise ValueError(f"container {str(name)[:40]!r} is a function: calls to code outside the SDFG are "
                                 "not accepted")
    callee = next(_callees(sdfg.get("root")), None)
    if callee is not None:
        raise ValueError(f"the SDFG calls function {callee[:40]!r}: calls to code outside the SDFG are not accepted")


def _callees(tree: Any) -> Iterator[str]:
    """Function names called anywhere in `tree` (walked without recursion: a client's
    JSON may nest deeper than Python's stack)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Mapping):
            if "callee_name" in node:
                yield str(node["callee_name"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
