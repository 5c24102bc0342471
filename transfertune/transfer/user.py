"""User programs: a Python loop function with example arguments, made into a
`Kernel`/`Workload` the measuring machinery understands.

There is no NumPy reference for a user's function, so every variant is verified
against what the untouched build computes on the same inputs. Bad input gets a clear
error here, before anything is compiled.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from transfertune.ir.kernel import Args, Kernel
from transfertune.ir.program import Program, parse_program
from transfertune.isolated import run_isolated
from transfertune.measure.variants import Workload


def bind_arguments(func: Callable[..., None], args: tuple[Any, ...]) -> Args:
    """Arguments by parameter name; arrays made C-contiguous float64/int64 as docc expects."""
    if not callable(func):
        raise ValueError(f"expected a Python function, got {type(func).__name__}")
    try:
        bound = inspect.signature(func).bind(*args)
    except TypeError as err:
        raise ValueError(f"arguments do not match {func.__name__}{inspect.signature(func)}: {err}") from None
    out: Args = {}
    for name, value in bound.arguments.items():
        if isinstance(value, np.ndarray):
            if value.dtype not in (np.float64, np.int64):
                raise ValueError(f"argument {name}: arrays must be float64 or int64, got {value.dtype}")
            out[name] = np.ascontiguousarray(value)
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"argument {name}: expected an array, int or float, got {type(value).__name__}")
        else:
            out[name] = value
    return out


def user_kernel(func: Callable[..., None], args: Args) -> Kernel:
    """A `Kernel` for a user function: its example arguments are its only inputs and all
    its arrays are compared (it may write any of them). The name carries a hash of the
    source, so an edited function is a new program to the database."""
    arrays = tuple(n for n, v in args.items() if isinstance(v, np.ndarray))
    return Kernel(name=f"{func.__name__}@{source_hash(func)[:10]}", group="user", func=func, init=lambda **_: dict(args),
                  reference=lambda **_: None, flops=lambda **_: 0, outputs=arrays, sizes={})


def source_hash(func: Callable[..., None]) -> str:
    try:
        return hashlib.sha256(inspect.getsource(func).encode()).hexdigest()
    except (OSError, TypeError):
        raise ValueError(f"cannot read the source of {func.__name__}: define it in a file") from None


def parse_user_program(kernel: Kernel, args: Args) -> Program:
    """Parse in a child: docc aborts the process on some unsupported code."""
    outcome = run_isolated(_parse, kernel, args, timeout=120)
    if not outcome.ok:
        detail = outcome.message.strip().splitlines()
        raise ValueError(f"docc cannot parse {kernel.name}: {detail[0] if detail else outcome.status}")
    return Program(kernel, *outcome.value)


def _parse(kernel: Kernel, args: Args) -> tuple[str, tuple[str, ...], dict[str, tuple[str, int]]]:
    # docc 0.8.1 reads a `-> None` annotation *object* (no `from __future__ import
    # annotations`) as a return value and adds a return buffer; the string form it
    # ignores. We are in a forked child, so the change never reaches the caller.
    annotations = getattr(kernel.func, "__annotations__", {})
    if "return" in annotations and annotations["return"] is None:
        annotations["return"] = "None"
    program = parse_program(kernel, args)  # the kernel holds lambdas: return plain data only
    if any(a.startswith("_docc_ret_") for a in program.arguments):
        raise ValueError("kernels must write results into array arguments, not return them")
    return program.sdfg_json, program.arguments, program.symbols


def user_workload(program: Program, args: Args, directory: str | Path) -> Workload:
    """Inputs saved once as .npz in `directory` (the caller owns and removes it);
    verification against the untouched build."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {n: v for n, v in args.items() if isinstance(v, np.ndarray)}
    path = folder / f"{program.kernel.name}.npz"
    np.savez(path, **arrays)
    fields = {"inputs": str(path), "scalars": {n: v for n, v in args.items() if n not in arrays},
              "order": list(args), "outputs": list(arrays)}
    return Workload(program, fields, fields, reference_build=True)
