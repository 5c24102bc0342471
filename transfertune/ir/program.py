"""From a kernel's Python loops to the SDFG every variant starts from.

docc turns each distinct array extent into a symbol (``_s0, _s1, ...``), deduplicating
extents *by value*, and it also aliases an integer argument with an extent of the same
value. Parsing at a real dataset size could therefore merge two independent sizes
(deriche MINI has W == H) and produce an SDFG valid only for square inputs. We parse at
*probe sizes* (distinct primes for every size parameter) so that the SDFG is generic,
and remember for every symbol which argument dimension supplies it at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import numpy as np
from docc.python import native
from docc.sdfg import StructuredSDFG, TargetOptions

from transfertune.ir.kernel import Args, Kernel

_PROBE_PRIMES = (11, 13, 17, 19, 23, 29, 31, 37)
"""Probe values for size parameters: distinct, small (fast parse), and larger than any
time-step count we probe with (7), so no extent is mistaken for another."""
_PROBE_STEPS = 7


@dataclass(frozen=True)
class Program:
    """A kernel's untouched SDFG (parsed, expanded, simplified) and its calling convention."""

    kernel: Kernel
    sdfg_json: str
    """The SDFG as docc JSON; parse it with `sdfg()` for a fresh, mutable copy."""
    arguments: tuple[str, ...]
    """Argument names of the generated C function, in order."""
    symbols: dict[str, tuple[str, int]]
    """Shape symbol -> (array argument, dimension) that supplies its value."""

    def sdfg(self) -> StructuredSDFG:
        """A fresh copy of the untouched SDFG (transformations mutate in place)."""
        return StructuredSDFG.parse(self.sdfg_json)

    def call_values(self, args: Args) -> list:
        """Values for the C entry point: kernel arguments and shape symbols, in order."""
        values = []
        for name in self.arguments:
            if name in self.symbols:
                array, dim = self.symbols[name]
                values.append(int(args[array].shape[dim]))
            else:
                values.append(args[name])
        return values


def probe_params(kernel: Kernel) -> dict[str, int]:
    """Size parameters that keep every extent distinct (see module docstring)."""
    names = list(kernel.params("MINI"))
    steps = [n for n in names if n in ("TSTEPS", "TMAX")]
    sizes = [n for n in names if n not in steps]
    if len(sizes) > len(_PROBE_PRIMES):
        raise ValueError(f"{kernel.name}: more size parameters than probe values")
    params = dict(zip(sizes, _PROBE_PRIMES, strict=False))
    params.update({n: _PROBE_STEPS for n in steps})
    return params


def untouched_sdfg(raw: StructuredSDFG) -> StructuredSDFG:
    """Expand and simplify a freshly parsed SDFG in place.

    simplify() is what turns provably parallel loops into Maps (OpenMP needs a Map)
    and removes copy tasklets; normalize() is *not* run because it reorders loops, and
    the untouched program must keep the source's loop order.
    """
    options = TargetOptions()
    options.target = "none"
    raw.validate()
    raw.expand(options)
    raw.simplify()
    return raw


@cache
def build_program(kernel: Kernel) -> Program:
    """Parse `kernel` at probe sizes into its untouched `Program` (cached per process)."""
    return parse_program(kernel, kernel.init(**probe_params(kernel)))


def parse_program(kernel: Kernel, args: Args) -> Program:
    """Parse `kernel.func` at example arguments `args` (in signature order)."""
    return parse_with_sdfg(kernel, args)[0]


def parse_with_sdfg(kernel: Kernel, args: Args) -> tuple[Program, StructuredSDFG]:
    """`parse_program`, plus the parsed SDFG object itself: some of docc's analyses (the
    argument footprint) work on it but not on a copy re-read from its JSON."""
    sdfg = untouched_sdfg(native(kernel.func, target="none").to_sdfg(*args.values()))
    return Program(kernel, sdfg.to_json(), tuple(sdfg.arguments), _symbol_sources(args, sdfg.arguments)), sdfg


def _symbol_sources(args: Args, c_arguments: list[str]) -> dict[str, tuple[str, int]]:
    """Reproduce docc's symbol numbering: first occurrence of each extent, in argument order."""
    extents: list[int] = []
    sources: list[tuple[str, int]] = []
    for name, value in args.items():
        if isinstance(value, np.ndarray):
            for dim, extent in enumerate(value.shape):
                if extent not in extents:
                    extents.append(extent)
                    sources.append((name, dim))
    symbols = {f"_s{i}": src for i, src in enumerate(sources)}
    unknown = [a for a in c_arguments if a.startswith("_s") and a not in symbols]
    if unknown:
        raise ValueError(f"cannot tell which argument supplies symbols {unknown}")
    return symbols


def sdfg_dict(sdfg: StructuredSDFG) -> dict:
    """The SDFG's JSON as a Python dict."""
    return json.loads(sdfg.to_json())
