"""``@transfertune.jit``: transfer on the first call of each shape class, then call the
compiled program (docc's ``@native`` is the model: one line for the user).

A shape class is what a build is valid for (`Signature`: dtypes and ranks, which sizes
are equal (unless ``generic=True``), exact shapes and int values only where docc could
not bound the accesses, so such a program is transferred again for other sizes). The
first call of a class runs
`transfer` (answered from the store when this program, class and target were
transferred before, in any process) and then the compiled program on the caller's
arguments; later calls of the class go straight to the compiled program, whose guard
refuses arguments it was not built for.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from transfertune.porting.user import Signature, bind_arguments


def jit(func: Callable[..., None] | None = None, *, target: str = "cpu-omp", **options: Any) -> Any:
    """Decorate a loop function: ``@jit`` or ``@jit(target="cpu-seq", k=3, db=URL)``;
    `options` are `transfer`'s. The wrapper's ``reports`` maps shape class -> the report."""
    def decorate(f: Callable[..., None]) -> Callable[..., None]:
        programs: dict[Signature, Any] = {}
        reports: dict[str, dict[str, Any]] = {}
        generic = bool(options.get("generic", False))

        @functools.wraps(f)
        def call(*args: Any) -> None:
            bound = bind_arguments(f, args)
            program = programs.get(Signature.of(bound, generic=generic)) or programs.get(
                Signature.of(bound, pinned=True, generic=generic))
            if program is None:
                from transfertune.porting.api import transfer

                result = transfer(f, *args, target=target, **options)
                program = result.run
                signature = program.guard.signature
                programs[signature] = program
                reports[signature.key] = result.report
            program(*args)

        call.reports = reports  # type: ignore[attr-defined]
        return call

    return decorate(func) if func is not None else decorate
