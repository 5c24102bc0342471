"""PolyBench and corpus kernels rewritten as another programmer might have written them.

Training data for the embedding (issue #17): each variant computes exactly what its base
kernel computes (same inputs, reference, sizes and FLOPs) from loops written differently
(see `rewrites`), so its graph differs while its meaning does not. Variants are tuned like
any kernel, so their responses are measurements, and they stay on their base kernel's
side of every train/test split. Which variants exist is recorded in ``variants.json`` by
``python -m transfertune.suites.augmented.generate``.
"""

from __future__ import annotations

import ast
import inspect
import json
import linecache
import textwrap
from dataclasses import replace
from functools import cache
from pathlib import Path

from transfertune.ir.kernel import Kernel
from transfertune.suites.augmented.rewrites import REWRITES

SEPARATOR = "@"
"""Between a variant's base kernel and its rewrite: ``gemm@interchange``."""

VARIANTS_FILE = Path(__file__).with_name("variants.json")


@cache
def _variants() -> dict[str, dict]:
    """The recorded variants (read once per process)."""
    return json.loads(VARIANTS_FILE.read_text()) if VARIANTS_FILE.exists() else {}


NAMES: tuple[str, ...] = tuple(_variants())
"""Variant names, ``<base>@<rewrite>``."""


def base_of(name: str) -> str:
    """The kernel a variant rewrites (`name` itself for any other program)."""
    return name.split(SEPARATOR, 1)[0]


def variant_name(base: str, rewrite: str) -> str:
    return f"{base}{SEPARATOR}{rewrite}"


def rewritten(base: Kernel, rewrite: str, choice: int) -> Kernel | None:
    """`base` with its loops rewritten by candidate `choice` of `rewrite` (None when the
    rewrite has fewer candidates). The new function's source is registered with
    `linecache`, where docc's parser (``inspect.getsource``) reads it."""
    source = textwrap.dedent(inspect.getsource(base.func))
    func_def = ast.parse(source).body[0]
    for index, candidate in enumerate(REWRITES[rewrite](func_def)):
        if index == choice:
            break
    else:
        return None
    name = variant_name(base.name, rewrite)
    text = ast.unparse(ast.fix_missing_locations(candidate)) + "\n"
    filename = f"<transfertune-augmented {name}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(keepends=True), filename)
    namespace = dict(base.func.__globals__)
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own rewrite of our own kernel's source
    return replace(base, name=name, func=namespace[base.func.__name__], numpy_peer=False)


@cache
def get_kernel(name: str) -> Kernel:
    """The variant called `name`, with a clear error for unknown names."""
    from transfertune.suites import get_kernel as suite_kernel

    entry = _variants().get(name)
    if entry is None:
        raise ValueError(f"unknown augmented kernel {name!r}; known: {', '.join(NAMES) or 'none'}")
    kernel = rewritten(suite_kernel(entry["base"]), entry["rewrite"], int(entry["choice"]))
    if kernel is None:
        raise ValueError(f"{name}: its recorded rewrite no longer applies; rerun the generator")
    return kernel
