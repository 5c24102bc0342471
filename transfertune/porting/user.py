"""User programs: a Python loop function and example arguments, made into a program that
is right for every call it accepts and refuses the others with a clear error.

Three guarantees, each closing a way a user got a wrong program:
- **A parse at probe sizes, one symbol per shape class size.** docc merges array extents
  (and int arguments) of equal value into one symbol, so parsing at the caller's 400 x 400
  gave code valid only for square inputs, with nothing saying so. We parse at *probe*
  arguments instead: a distinct prime per size, where the sizes equal at the call
  (extents and ints of at least `SMALL_EXTENT`) share one (`equal_sizes`). That equality
  is then part of the shape class (`Signature.equal`) and checked on every call. It is
  what lets docc prove a library call or a distribution legal: with ``G[i, j] +=
  A[i, k] * A[j, k]`` and G's row stride a symbol unrelated to the loop bound, docc
  cannot, and the product stays a loop nest. ``generic=True`` gives every size its own
  prime instead: one build right at every shape, without those steps.
- **A guard on every call** (`Guard`): argument kinds, array dtypes and ranks must be the
  ones the build was made for, sizes it assumed equal must be equal, no array may be
  empty, and the bytes the program touches in each array (docc's argument analysis, as
  expressions of the sizes) must fit inside it; otherwise the call raises before any
  native code runs.
- **Checks against the function itself** (`check_inputs`, `python_outputs`): the untouched
  build is compared with the Python function run by the interpreter at a second, small
  shape (C and Python disagree on ``//`` of negatives and on negative indices), and every
  candidate with the untouched build at the transfer shape and at that second shape.
"""

from __future__ import annotations

import ctypes
import hashlib
import inspect
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import sympy

from transfertune.ir.kernel import Args, Kernel, copy_args
from transfertune.ir.loopnest import canonical_json
from transfertune.ir.program import Program, parse_with_sdfg
from transfertune.ir.symbolic import parse_sizes
from transfertune.isolated import run_isolated
from transfertune.measure.variants import Workload

DTYPES = ("float64", "float32", "int64", "int32")
"""Array element types docc 0.8.1 compiles (checked: parse, build, run)."""
SMALL_EXTENT = 8
"""Extents below this (channels, filter taps) keep their value at the second shape."""
DOCC_CONSTANTS = ("E", "e", "pi", "I", "oo", "inf", "zoo", "nan", "EulerGamma", "Catalan", "GoldenRatio")
"""Names docc 0.8.1's symbolic engine reads as constants, not as the argument: an int
argument ``E`` bounding a loop is compiled as ``i < exp(1)`` (checked: wrong code)."""


class ArgumentError(ValueError):
    """A call the compiled program was not built for (the message says why)."""


def size_values(args: Args) -> dict[str, int]:
    """Every size of a call by name: ``A.shape[0]`` for an array's extents, the name for
    an int argument, in argument order."""
    out: dict[str, int] = {}
    for name, value in args.items():
        if isinstance(value, np.ndarray):
            out.update({f"{name}.shape[{d}]": int(e) for d, e in enumerate(value.shape)})
        elif isinstance(value, int):
            out[name] = value
    return out


def equal_sizes(args: Args) -> tuple[tuple[str, ...], ...]:
    """Groups of sizes equal at this call (two or more, each at least `SMALL_EXTENT`: a
    channel count of 3 equal to a filter width of 3 is coincidence, and small sizes gain
    nothing from being one symbol), in argument order."""
    groups: dict[int, list[str]] = {}
    for name, value in size_values(args).items():
        if value >= SMALL_EXTENT:
            groups.setdefault(value, []).append(name)
    return tuple(tuple(g) for g in groups.values() if len(g) > 1)


@dataclass(frozen=True)
class Signature:
    """What a build holds under, its *shape class*: kinds of the arguments in order,
    dtype and rank of every array, and which sizes it assumed equal. Sizes themselves are
    not part of it: the program is generic in them."""

    arguments: tuple[tuple[str, str], ...]
    """(name, kind) in order; kind is an array's ``dtype/ndim`` (``dtype/shape`` when
    pinned), or ``int`` / ``float`` (``int=value`` when pinned)."""
    pinned: bool = False
    equal: tuple[tuple[str, ...], ...] = ()
    """Groups of sizes (`size_values` names) parsed as one symbol: a call must keep each
    group equal (see module docstring); empty for a ``generic`` build. A pinned build
    keeps them too: its checks at a second shape must hold them equal as its parse did."""

    @classmethod
    def of(cls, args: Args, pinned: bool = False, generic: bool = False) -> Signature:
        """`pinned`: the exact shapes and int values are part of the class. Where docc
        could not bound the program's accesses, only the call it was checked at is safe,
        and an int argument may be a loop bound as much as an extent is (the same arrays
        with a larger bound would be written past their end). `generic`: no sizes are
        assumed equal."""
        def kind(v: Any) -> str:
            if isinstance(v, int) and pinned:
                return f"int={v}"
            if not isinstance(v, np.ndarray):
                return type(v).__name__
            return f"{v.dtype}/{'x'.join(map(str, v.shape)) if pinned else v.ndim}"

        equal = () if generic else equal_sizes(args)
        return cls(tuple((n, kind(v)) for n, v in args.items()), pinned, equal)

    @property
    def key(self) -> str:
        """Short stable id of the shape class (the store's `size` column for user programs)."""
        held = [self.arguments, self.equal] if self.equal else self.arguments
        return "class-" + hashlib.sha256(json.dumps(held).encode()).hexdigest()[:12]

    def describe(self) -> str:
        kinds = ", ".join(f"{n}: {k}" for n, k in self.arguments)
        return "; ".join([kinds, *(" == ".join(g) for g in self.equal)])

    def broken_equalities(self, args: Args) -> list[str]:
        """The groups of `equal` that `args` does not keep equal, as ``A.shape[0]=5 != ...``."""
        sizes = size_values(args)
        return [" != ".join(f"{n}={sizes[n]}" for n in group) for group in self.equal
                if len({sizes[n] for n in group}) > 1]


@dataclass(frozen=True)
class Guard:
    """The checks made before a compiled user program runs (see module docstring)."""

    signature: Signature
    footprint: tuple[tuple[str, tuple[str, ...]], ...]
    """Per array argument: expressions (of size symbols and int arguments) of the bytes each
    loop nest touches, from docc's argument analysis; the largest must fit in the array."""
    symbols: tuple[tuple[str, str, int], ...]
    """(size symbol, array, dimension) that supplies it."""
    extents: tuple[tuple[str, int, tuple[str, ...]], ...] = ()
    """(array, dimension, expressions of the extent each nest needs there): the footprint
    split per dimension (`split_footprint`), so a call the function would reject with an
    IndexError in an inner dimension is refused, not wrapped into the next row."""

    def check(self, args: Args) -> None:
        """Raise `ArgumentError` unless `args` is a call this build is right for."""
        mine = Signature.of(args, self.signature.pinned, generic=True)
        if mine.arguments != self.signature.arguments:
            pinned = (": docc could not bound its accesses, so it runs only at the shapes and int values it was "
                      "checked at (transfer again for these)") if self.signature.pinned else ""
            raise ArgumentError(f"this program was built for ({self.signature.describe()}), "
                                f"called with ({mine.describe()}){pinned}")
        broken = self.signature.broken_equalities(args)
        if broken:
            raise ArgumentError(f"this program was built for sizes that were equal when it was transferred "
                                f"({'; '.join(' == '.join(g) for g in self.signature.equal)}), called with "
                                f"{'; '.join(broken)}: docc compiled them as one size (transfer again for these "
                                "shapes, or transfer with generic=True for one build right at every shape)")
        for name, value in args.items():
            if isinstance(value, np.ndarray) and value.size == 0:
                raise ArgumentError(f"argument {name} is empty (shape {value.shape})")
        arrays = [(n, v) for n, v in args.items() if isinstance(v, np.ndarray)]
        for i, (first, a) in enumerate(arrays):
            for second, b in arrays[i + 1:]:
                if np.may_share_memory(a, b):
                    raise ArgumentError(f"arguments {first} and {second} overlap in memory: the program was built "
                                        "for distinct arrays (loops reordered, library calls); pass a copy")
        sizes = {s: int(args[a].shape[d]) for s, a, d in self.symbols}
        sizes.update({n: v for n, v in args.items() if isinstance(v, int)})
        for name, dim, expressions in self.extents:
            need = max(_evaluate(e, sizes) for e in expressions)
            if need > args[name].shape[dim]:
                raise ArgumentError(f"argument {name}: the program indexes dimension {dim} up to {need - 1}, but its "
                                    f"shape is {args[name].shape}: the function itself would raise IndexError")
        for name, expressions in self.footprint:
            need = max(_evaluate(e, sizes) for e in expressions)
            if need > args[name].nbytes:
                raise ArgumentError(f"argument {name}: the program reads or writes {need} bytes of it, but it has "
                                    f"{args[name].nbytes} (shape {args[name].shape}): the function itself would "
                                    "index past its end with these sizes")

    def accepts(self, args: Args) -> bool:
        try:
            self.check(args)
        except ArgumentError:
            return False
        return True


def _evaluate(expression: str, sizes: dict[str, int]) -> int:
    names, fn = _compiled(expression)
    return int(fn(*(sizes[n] for n in names)))


@cache
def _compiled(expression: str) -> tuple[tuple[str, ...], Callable[..., Any]]:
    """An expression of sizes as a Python function of its symbols (parsed once)."""
    expr = parse_sizes(expression)
    names = tuple(sorted(str(s) for s in expr.free_symbols))
    return names, sympy.lambdify(names, expr, modules="math")


def bind_arguments(func: Callable[..., None], args: tuple[Any, ...]) -> Args:
    """Arguments by parameter name; arrays C-contiguous, NumPy scalars made Python ones;
    a clear error for anything docc cannot take."""
    if not callable(func):
        raise ValueError(f"expected a Python function, got {type(func).__name__}")
    try:
        bound = inspect.signature(func).bind(*args)
    except TypeError as err:
        raise ValueError(f"arguments do not match {func.__name__}{inspect.signature(func)}: {err}") from None
    out: Args = {}
    for name, value in bound.arguments.items():
        if isinstance(value, np.ndarray):
            if value.dtype.name not in DTYPES:
                raise ValueError(f"argument {name}: arrays must be one of {', '.join(DTYPES)}, got {value.dtype}")
            out[name] = np.ascontiguousarray(value)
        elif isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"argument {name}: expected an array, int or float, got {type(value).__name__}")
        else:
            out[name] = int(value) if isinstance(value, int | np.integer) else float(value)
    return out


def source_hash(func: Callable[..., None]) -> str:
    try:
        return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()
    except (OSError, TypeError):
        raise ValueError(f"cannot read the source of {func.__name__}: define it in a file") from None


def user_kernel(func: Callable[..., None], args: Args) -> Kernel:
    """A provisional `Kernel` for parsing; `parse_user_program` names it by content."""
    source_hash(func)
    arrays = tuple(n for n, v in args.items() if isinstance(v, np.ndarray))
    return Kernel(name=func.__name__, group="user", func=func, init=lambda **_: dict(args),
                  reference=lambda **_: None, flops=lambda **_: 0, outputs=arrays, sizes={})


@dataclass(frozen=True)
class UserProgram:
    """A parsed user function: the generic program, its guard, and its content id."""

    program: Program
    guard: Guard

    @property
    def name(self) -> str:
        return self.program.kernel.name

    @property
    def content(self) -> str:
        """Content id: a hash of the canonical SDFG (names, debug info and ids left out)."""
        return self.name.rpartition("@")[2]


def probe_arguments(args: Args, equal: tuple[tuple[str, ...], ...] = ()) -> Args:
    """Arguments for parsing: a distinct prime per size, one shared by each group of
    `equal` (see module docstring); zeros of the caller's dtypes; floats as given."""
    sizes = size_values(args)
    group_of = {name: i for i, group in enumerate(equal) for name in group}
    classes = list(dict.fromkeys(group_of.get(n, n) for n in sizes))
    prime = dict(zip(classes, _primes(len(classes)), strict=True))
    value = {n: prime[group_of.get(n, n)] for n in sizes}
    out: Args = {}
    for name, given in args.items():
        if isinstance(given, np.ndarray):
            out[name] = np.zeros(tuple(value[f"{name}.shape[{d}]"] for d in range(given.ndim)), dtype=given.dtype)
        elif isinstance(given, int):
            out[name] = value[name]
        else:
            out[name] = given
    return out


def _primes(count: int, start: int = 11) -> list[int]:
    out, n = [], start
    while len(out) < count:
        if all(n % p for p in range(2, int(n ** 0.5) + 1)):
            out.append(n)
        n += 1
    return out


def parse_user_program(func: Callable[..., None], args: Args, generic: bool = False) -> UserProgram:
    """Parse at probe arguments in a child (docc aborts the process on some code);
    `generic`: no sizes shared (see module docstring)."""
    constants = [n for n, v in args.items() if isinstance(v, int) and n in DOCC_CONSTANTS]
    if constants:
        raise ValueError(f"int argument {constants[0]} of {func.__name__}: docc reads the names "
                         f"{', '.join(DOCC_CONSTANTS)} as mathematical constants in loop bounds, not as the "
                         "argument; rename it")
    kernel = user_kernel(func, args)
    equal = () if generic else equal_sizes(args)
    probe = probe_arguments(args, equal)
    outcome = run_isolated(_parse, kernel, probe, timeout=120)
    if not outcome.ok:
        detail = outcome.message.strip().splitlines()
        raise ValueError(f"docc cannot parse {func.__name__}: {detail[-1] if detail else outcome.status}")
    sdfg_json, arguments, symbols, footprint = outcome.value
    content = hashlib.sha256(canonical_json(json.loads(sdfg_json)).encode()).hexdigest()
    named = Kernel(name=f"{func.__name__}@{content[:12]}", group="user", func=func, init=kernel.init,
                   reference=kernel.reference, flops=kernel.flops, outputs=kernel.outputs, sizes={})
    sources = tuple((s, a, d) for s, (a, d) in sorted(symbols.items()))
    guard = Guard(Signature.of(args, pinned=footprint is None, generic=generic),
                  tuple(sorted((footprint or {}).items())), sources)
    if not guard.accepts(args):  # docc's bound ignores guarding ifs: too loose to judge other shapes by
        guard = Guard(Signature.of(args, pinned=True, generic=generic), (), sources)
    extents = split_footprint(dict(guard.footprint), args, _symbol_names(probe, symbols))
    # The split is exact for rectangular accesses and an estimate otherwise: an array whose
    # split refuses the very call it was parsed for keeps only its byte check.
    kept = tuple(e for e in extents if Guard(guard.signature, (), guard.symbols, (e,)).accepts(args))
    return UserProgram(Program(named, sdfg_json, arguments, symbols), replace(guard, extents=kept))


def _symbol_names(probe: Args, symbols: dict[str, tuple[str, int]]) -> dict[str, str]:
    """Every size name (`size_values`) -> the symbol docc gave it: sizes sharing a probe
    prime share the symbol of the first (an int argument stands for itself where no
    extent equals it)."""
    by_value = {int(probe[a].shape[d]): s for s, (a, d) in symbols.items()}
    return {n: by_value.get(v, n) for n, v in size_values(probe).items()}


def split_footprint(footprint: dict[str, tuple[str, ...]], args: Args, names: dict[str, str]
                    ) -> tuple[tuple[str, int, tuple[str, ...]], ...]:
    """Per-dimension extents a program needs, read off its byte footprints; `names` maps
    every size to its symbol (`_symbol_names`).

    docc bounds a row-major access ``x[i0, ..., i(n-1)]`` by the largest linear index:
    bytes = size * (m0 * d1*...*d(n-1) + m1 * d2*...*d(n-1) + ... + m(n-1) + 1) with mk the
    largest ik. As a polynomial in the array's own inner extents d1..d(n-1), the
    coefficient of each stride is mk and the constant term m(n-1) + 1, so dimension k
    needs an extent of at least mk + 1. Footprints of another form give no split, nor do
    arrays with two inner extents of one size (the byte check still holds for them).
    An int argument parsed as one size with an extent is read as that extent's symbol.
    """
    alias = {sympy.Symbol(n): sympy.Symbol(s) for n, s in names.items() if "." not in n and s != n}
    out = []
    for name, expressions in footprint.items():
        value = args[name]
        if value.ndim < 2:
            continue
        inner = [sympy.Symbol(names[f"{name}.shape[{d}]"]) for d in range(1, value.ndim)]
        if len(set(inner)) < len(inner):  # inner extents parsed as one size: their strides cannot be told apart
            continue
        strides = [sympy.Mul(*inner[k:]) for k in range(value.ndim)]  # stride of dim k; the last is 1
        per_dim: list[list[str]] = [[] for _ in range(value.ndim)]
        for expression in expressions:
            split = _split(sympy.expand(parse_sizes(expression).subs(alias) / value.itemsize), inner, strides)
            if split is None:
                per_dim = []
                break
            for k, need in enumerate(split):
                per_dim[k].append(str(need))
        out += [(name, k, tuple(needs)) for k, needs in enumerate(per_dim)]
    return tuple(out)


def _split(linear: Any, inner: list[Any], strides: list[Any]) -> list[Any] | None:
    """[m0 + 1, ..., m(n-1) + 1] from the linear extent (see `split_footprint`), or None."""
    try:
        poly = sympy.Poly(linear, *inner)
    except sympy.PolynomialError:
        return None
    expected = {sympy.Poly(stride, *inner).monoms()[0]: k for k, stride in enumerate(strides)}
    needs: list[Any] = [sympy.Integer(1)] * len(strides)
    for monom, coefficient in zip(poly.monoms(), poly.coeffs(), strict=True):
        if monom not in expected:
            return None
        k = expected[monom]
        needs[k] = coefficient + 1 if k < len(strides) - 1 else coefficient
    return needs


def _parse(kernel: Kernel, args: Args) -> tuple[str, tuple[str, ...], dict[str, tuple[str, int]],
                                               dict[str, tuple[str, ...]] | None]:
    from docc import sdfg as d

    # docc 0.8.1 reads a `-> None` annotation *object* (no `from __future__ import
    # annotations`) as a return value and adds a return buffer; the string form it
    # ignores. We are in a forked child, so the change never reaches the caller.
    annotations = getattr(kernel.func, "__annotations__", {})
    if "return" in annotations and annotations["return"] is None:
        annotations["return"] = "None"
    program, sdfg = parse_with_sdfg(kernel, args)  # the kernel holds lambdas: return plain data only
    if any(a.startswith("_docc_ret_") for a in program.arguments):
        raise ValueError("kernels must write results into array arguments, not return them")
    manager = d.AnalysisManager(d.StructuredSDFGBuilder(sdfg))
    analysis = manager.arguments_analysis()
    arrays = [n for n, v in args.items() if isinstance(v, np.ndarray)]
    footprint: dict[str, list[str]] = {n: [] for n in arrays}
    for loop in manager.loop_analysis().outermost_loops():
        try:
            sizes = analysis.argument_sizes(loop)
        except RuntimeError:  # docc cannot bound this nest's accesses: the guard pins the shapes
            return program.sdfg_json, program.arguments, program.symbols, None
        for name in arrays:
            if name in sizes:
                footprint[name].append(str(sizes[name]))
    return (program.sdfg_json, program.arguments, program.symbols,
            {n: tuple(e) for n, e in footprint.items() if e})


# -- the second shape and the Python reference ----------------------------------------------


def check_inputs(func: Callable[..., None], args: Args, equal: tuple[tuple[str, ...], ...] = (), seed: int = 0
                 ) -> tuple[Args, Args]:
    """Inputs for verification: (at the transfer shape, at a second small shape).

    No comparison may be vacuous: non-finite values (``np.empty`` outputs, NaN-filled
    inputs) are replaced by random finite ones, and an array holding one value throughout
    (``np.zeros``, ``np.ones``) by varied values (`_varied`): with all ones, a program
    that read ``A[k, i]`` for ``A[i, k]`` would agree. Where the function raises on varied
    values (an index array), the given ones are used and a warning says so.

    The second shape gives every size of the program its own odd prime, every int
    argument and every array dimension, except the groups of `equal` (the build's
    `Signature.equal`), which keep one prime each: sizes the caller passed equal but the
    program holds apart (M == N == 40 in a generic build) differ there, so a program that
    confused them cannot pass. Sizes held by ints alone get the smallest primes, so loops
    they bound stay inside arrays whose extents equalled them. Where the Python function
    refuses that shape, in turn: sizes of equal value share a prime; the original sizes
    shifted down by one amount. Sizes below `SMALL_EXTENT` keep their value. Values are
    the caller's, cropped or tiled.
    """
    rng = np.random.default_rng(seed)
    given = _finite(args, rng)
    shapes = _second_shapes(args, equal)
    constant = [n for n, v in given.items() if isinstance(v, np.ndarray) and v.size > 1 and np.all(v == v.flat[0])]
    if constant:
        varied = _varied(given, constant, rng)
        small = _accepted(func, varied, shapes)
        if small is not None:
            return varied, small
        warnings.warn(f"{func.__name__}: {', '.join(constant)} hold one value throughout and the function raises on "
                      "varied values, so the checks use the values given (differences they hide go unseen)", stacklevel=2)
    if not shapes:  # every size is already small: the transfer shape is the check
        return given, given
    small = _accepted(func, given, shapes)
    if small is None:
        raise ValueError(f"{func.__name__} raises at every smaller shape tried; call transfer with arrays "
                         "whose extents are at least 16")
    return given, small


def _accepted(func: Callable[..., None], full: Args, shapes: list[SecondShape]) -> Args | None:
    """The first of `full`'s second shapes (`full` itself where there are none) that the
    Python function runs without raising; None if it raises on every one."""
    candidates = (_reshaped(full, sizes) for sizes in shapes) if shapes else iter([full])
    return next((c for c in candidates if c is not None and python_outputs(func, c, timeout=60).ok), None)


def _varied(args: Args, names: list[str], rng: np.random.Generator) -> Args:
    """`args` with the arrays `names` (one value c throughout) spread from c away from zero,
    keeping its sign and magnitude: floats over up to max(1, |c|), ints by 0 to 2 (index
    arrays most likely stay in bounds)."""
    out = copy_args(args)
    for name in names:
        value = out[name]
        c = value.flat[0]
        sign = -1 if c < 0 else 1
        spread = max(1.0, abs(float(c))) * rng.random(value.shape) if value.dtype.kind == "f" else rng.integers(
            0, 3, value.shape)
        value[...] = c + sign * spread
    return out


def _finite(args: Args, rng: np.random.Generator) -> Args:
    out = copy_args(args)
    for value in out.values():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            bad = ~np.isfinite(value)
            if bad.any():
                finite = value[~bad]
                low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
                value[bad] = rng.uniform(low, high if high > low else low + 1.0, int(bad.sum())).astype(value.dtype)
    return out


SecondShape = dict[str, int]
"""A second shape: the new value of each size that changes (`size_values` names)."""


def _second_shapes(args: Args, equal: tuple[tuple[str, ...], ...]) -> list[SecondShape]:
    """The second shapes `check_inputs` tries, most distinct first; none when every size is small."""
    sizes = {n: v for n, v in size_values(args).items() if v >= SMALL_EXTENT}
    if not sizes:
        return []
    group_of = {n: g for g in equal for n in g}
    classes = list(dict.fromkeys(group_of.get(n, (n,)) for n in sizes))
    by_value: dict[int, list[str]] = {}
    for name, value in sizes.items():
        by_value.setdefault(value, []).append(name)

    def primed(groups: list[tuple[str, ...]] | list[list[str]]) -> SecondShape:
        order = sorted(groups, key=lambda g: (any("." in n for n in g), sizes[g[0]]))  # int-only sizes first
        return {n: p for g, p in zip(order, _primes(len(order)), strict=True) for n in g}

    shift = min(sizes.values()) - (SMALL_EXTENT + 1)
    shapes = [primed(classes), primed(list(by_value.values())), {n: v - shift for n, v in sizes.items()}]
    return [s for i, s in enumerate(shapes) if s not in shapes[:i]]


def _reshaped(args: Args, new: SecondShape) -> Args | None:
    """`args` with sizes replaced as in `new`, values cropped or tiled; None when nothing would change."""
    out: Args = {}
    for name, value in args.items():
        if isinstance(value, np.ndarray):
            shape = tuple(new.get(f"{name}.shape[{d}]", e) for d, e in enumerate(value.shape))
            out[name] = np.ascontiguousarray(np.resize(value, shape) if value.size else np.zeros(shape, value.dtype))
        elif isinstance(value, int):
            out[name] = new.get(name, value)
        else:
            out[name] = value
    same = all(out[n].shape == v.shape if isinstance(v, np.ndarray) else out[n] == v for n, v in args.items())
    return None if same else out


def python_outputs(func: Callable[..., None], args: Args, timeout: float = 120.0) -> Any:
    """Run the function itself in the interpreter on a copy of `args` (in a child: it may
    hang or raise); the outcome's value is the arrays afterwards."""
    def run(arguments: Args) -> dict[str, np.ndarray]:
        func(*arguments.values())
        return {n: v for n, v in arguments.items() if isinstance(v, np.ndarray)}

    return run_isolated(run, copy_args(args), timeout=timeout)


def compare_with_python(func: Callable[..., None], library: str, entry: str, program: Program, args: Args) -> None:
    """Raise a clear error when the untouched build and the Python function disagree at
    `args` (or the build crashes): a front-end mismatch, never a program to hand out.
    Both run the same operations in the same order, so only contraction (FMA) rounding
    may differ: 1e-9 for float64, the float32 tolerance for float32."""
    tolerance = max(tolerance_for(args), 1e-9)
    want = python_outputs(func, args)
    if not want.ok:
        raise ValueError(f"{func.__name__} failed when run by Python at the check shape: {want.message.strip()[-300:]}")
    got = run_isolated(call_library, library, entry, program, copy_args(args), timeout=120)
    if not got.ok:
        raise ValueError(f"the untouched build of {func.__name__} {got.status}es at the check shape "
                         f"{_shapes(args)}: {got.message.strip()[-300:]}")
    from transfertune.measure.child import max_error

    for name, expected in want.value.items():
        error = max_error(got.value[name], expected)
        if error > tolerance:
            raise ValueError(f"docc's build of {func.__name__} computes {name} differently from Python "
                             f"(max relative error {error:.3g} at {_shapes(args)}): the function uses something "
                             "whose C meaning differs (integer // or % of negatives, negative indices, ...)")


def _shapes(args: Args) -> str:
    return ", ".join(f"{n} {v.shape}" for n, v in args.items() if isinstance(v, np.ndarray))


def call_library(library: str, entry: str, program: Program, args: Args) -> dict[str, np.ndarray]:
    """Call a compiled program on `args` (in place) and return its arrays. A GPU build
    that keeps its arrays on the device gets device copies, and every array comes back
    (the caller's arrays are the function's in-place outputs)."""
    from transfertune.measure.child import call_native, is_resident

    values = program.call_values(args)
    lib = ctypes.CDLL(library)
    fn = getattr(lib, entry)
    fn.argtypes = [ctypes.c_void_p if isinstance(v, np.ndarray) else ctypes.c_double if isinstance(v, float)
                   else ctypes.c_int64 for v in values]
    fn.restype = None
    call_native(fn, values, [v for v in values if isinstance(v, np.ndarray)], is_resident(lib))
    return {n: v for n, v in args.items() if isinstance(v, np.ndarray)}


def tolerance_for(args: Args) -> float:
    """float32 outputs differ by reordering far more than float64 ones."""
    return 1e-4 if any(isinstance(v, np.ndarray) and v.dtype == np.float32 for v in args.values()) else 0.0


def user_workload(program: Program, inputs: Args, checks: list[Args], directory: str | Path) -> Workload:
    """Inputs saved as .npz (no pickle) in `directory` (the caller owns it): timing at
    `inputs`, verification against the untouched build on every set in `checks`."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)

    def save(args: Args, name: str) -> dict[str, Any]:
        path = folder / f"{name}.npz"
        np.savez(path, **{n: v for n, v in args.items() if isinstance(v, np.ndarray)})
        return {"inputs": str(path), "scalars": {n: v for n, v in args.items() if not isinstance(v, np.ndarray)}}

    order = list(inputs)
    outputs = [n for n, v in inputs.items() if isinstance(v, np.ndarray)]
    bench = save(inputs, "bench") | {"order": order, "outputs": outputs}
    check = {"checks": [save(c, f"check{i}") for i, c in enumerate(checks)], "order": order, "outputs": outputs}
    return Workload(program, check, bench, reference_build=True, tolerance=tolerance_for(inputs))
