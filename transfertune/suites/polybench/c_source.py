"""PolyBench/C's own sources as peers: what a user compares transfertune with.

The user points transfertune at their PolyBench/C 4.2.1 checkout (the project never
ships it). A benchmark's ``.c`` file and ``utilities/polybench.c`` are compiled into one
shared library, ``main`` renamed away, with a small C entry point that has exactly the
calling convention of docc's generated code for the same kernel (the same argument
names and order, shape symbols as 64-bit ints) and calls PolyBench's own
``kernel_<name>``. So the measuring child loads, verifies and times it like any other
variant, on the same inputs, interleaved with them.

PolyBench declares its arrays with compile-time extents (``C[NI][NJ]``, the default
prototype), which is also what lets Polly analyse them; the library is therefore built
per problem size: the size macros are defined from the dataset's parameters, exactly as
``-DLARGE_DATASET`` would define them. The build checked against NumPy is the same source
with the check size's macros.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transfertune.ir.kernel import Kernel
from transfertune.ir.program import Program, probe_params

_KERNEL_FUNCTION = re.compile(r"\bvoid\s+(kernel_\w+)\s*\(")
_ARRAY = re.compile(r"^\s*(\w+)\s+POLYBENCH_\dD\s*\(\s*(\w+)\s*,")


class CSourceError(ValueError):
    """The checkout cannot give this kernel as a peer; the message says why."""


@dataclass(frozen=True)
class CReference:
    """A C translation unit for one kernel at one problem size, with its compile flags
    (minus the optimisation flags, which are the peer's)."""

    code: str
    flags: tuple[str, ...]
    entry: str
    """The entry point's name: docc's for the same program."""


def benchmark_file(root: str | Path, kernel: Kernel) -> Path:
    """``<root>/<group>/<name>/<name>.c``, or a clear error naming what is missing."""
    root = Path(root).expanduser()
    if not (root / "utilities" / "polybench.c").is_file():
        raise CSourceError(f"reference.polybench_c={root}: no utilities/polybench.c there; "
                             "point it at a PolyBench/C 4.2.1 checkout")
    path = root / kernel.group / kernel.name / f"{kernel.name}.c"
    if not path.is_file():
        raise CSourceError(f"reference.polybench_c={root}: {kernel.name} has no {path.relative_to(root)}")
    return path


def c_reference(program: Program, source: str | Path, params: dict[str, int],
                inputs: dict | None = None) -> CReference:
    """The translation unit for `program`'s kernel from PolyBench file `source`, with
    the size macros of `params`, or, where `inputs` are given (verification data that
    `Kernel.check_init` shapes differently), of their arrays' extents."""
    source = Path(source)
    utilities = next((p / "utilities" for p in source.parents if (p / "utilities" / "polybench.c").is_file()), None)
    if utilities is None:
        raise CSourceError(f"{source}: no utilities/polybench.c above it")
    text = source.read_text()
    match = _KERNEL_FUNCTION.search(text)
    if match is None:
        raise CSourceError(f"{source}: no kernel_<name> function")
    c_params = _parameters(text, match.end())
    kernel = program.kernel
    probe = kernel.init(**probe_params(kernel))
    c_types = _c_argument_types(program, probe)
    call, guards = zip(*(_argument_for(p, program, probe, c_types) for p in c_params), strict=True)
    entry = _entry_name(program)
    signature = ", ".join(f"{c_types[a]} {a}" for a in program.arguments)
    # A size reaches PolyBench's kernel as its macro, a constant, as PolyBench's own main
    # passes it: compilers propagate it into the kernel, and Polly's tiling and matrix
    # multiplication kernels depend on it (2mm at LARGE under Polly: 0.12 s with
    # constant sizes, 0.93 s with the same sizes at run time). The library is built per
    # size, so a call with other extents is refused.
    guards = [g for g in guards if g]
    refuse = (f'if ({" || ".join(guards)}) {{ fputs("transfertune: this PolyBench/C peer was built for other '
              'sizes\\n", stderr); abort(); } ') if guards else ""
    code = "\n".join([
        f"/* PolyBench/C peer for {kernel.name}, from {source} (built by transfertune). */",
        "#define main transfertune_unused_polybench_main",
        f'#line 1 "{utilities / "polybench.c"}"',
        (utilities / "polybench.c").read_text(),
        f'#line 1 "{source}"',
        text,
        "#undef main",
        "#include <stdio.h>",
        "#include <stdlib.h>",
        f"void {entry}({signature}) {{ {refuse}{match.group(1)}({', '.join(call)}); }}",
        ""])
    dtype = _data_type(probe)
    if inputs is not None:
        params = {**params, **_extents(program, probe, inputs)}
    flags = ("-x", "c", "-std=gnu11", f"-I{utilities}", f"-I{source.parent}", f"-D{dtype}",
             *(f"-D{name}={value}" for name, value in sorted(params.items())), "-lm")
    return CReference(code, flags, entry)


def _parameters(text: str, start: int) -> list[str]:
    """The comma-separated parameters of the call starting after '(' at `start`."""
    depth, current, out = 0, [], []
    for char in text[start:]:
        if char == "(":
            depth += 1
        elif char == ")":
            if depth == 0:
                break
            depth -= 1
        if char == "," and depth == 0:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    out.append("".join(current).strip())
    return [p for p in out if p]


def _c_argument_types(program: Program, probe: dict) -> dict[str, str]:
    """C type of each argument of docc's entry point, as the measuring child passes it."""
    types = {}
    for name in program.arguments:
        value = probe.get(name)
        if name in program.symbols or isinstance(value, int | np.integer):
            types[name] = "long long"
        elif isinstance(value, np.ndarray):
            types[name] = "void *"
        elif isinstance(value, float):
            types[name] = "double"
        else:
            raise CSourceError(f"{program.kernel.name}: argument {name} has no C peer type")
    return types


def _argument_for(param: str, program: Program, probe: dict, c_types: dict[str, str]) -> tuple[str, str]:
    """The entry-point expression PolyBench's `param` gets, and the condition under which
    the call is refused ('' for none): an argument of the same name, or for a size
    (``int ni``) its macro (``NI``), refused unless the shape symbol whose probe extent is
    that size's equals it."""
    array = _ARRAY.match(param)
    name = array.group(2) if array else re.findall(r"\w+", param)[-1]
    if array and array.group(1) != "DATA_TYPE":
        raise CSourceError(f"{program.kernel.name}: PolyBench's {name} is {array.group(1)}, not DATA_TYPE; "
                             "the two programs cannot share inputs")
    if name in c_types:
        return (name if array else f"({param.rsplit(name, 1)[0].strip() or 'int'}){name}"), ""
    symbol = _symbol_of(name.upper(), program, probe)
    if symbol in c_types:
        return name.upper(), f"{symbol} != {name.upper()}"
    raise CSourceError(f"{program.kernel.name}: no argument supplies PolyBench's parameter {param!r}")


def _symbol_of(size: str, program: Program, probe: dict) -> str | None:
    """The shape symbol whose extent in the probe inputs is size parameter `size`'s."""
    extent = probe_params(program.kernel).get(size)
    return next((symbol for symbol, (array, dim) in program.symbols.items()
                 if extent is not None and probe[array].shape[dim] == extent), None)


def _extents(program: Program, probe: dict, inputs: dict) -> dict[str, int]:
    """Each size parameter that an array extent carries, read off `inputs`."""
    out = {}
    for size in probe_params(program.kernel):
        symbol = _symbol_of(size, program, probe)
        if symbol is not None:
            array, dim = program.symbols[symbol]
            out[size] = int(inputs[array].shape[dim])
    return out


def _data_type(probe: dict) -> str:
    """PolyBench's DATA_TYPE switch matching the suite's arrays (float64 everywhere)."""
    kinds = {v.dtype for v in probe.values() if isinstance(v, np.ndarray)}
    if kinds == {np.dtype(np.float64)}:
        return "DATA_TYPE_IS_DOUBLE"
    if kinds == {np.dtype(np.float32)}:
        return "DATA_TYPE_IS_FLOAT"
    raise CSourceError(f"arrays of types {sorted(map(str, kinds))} have no PolyBench DATA_TYPE")


def _entry_name(program: Program) -> str:
    return json.loads(program.sdfg_json)["name"]
