"""Kernel suites: benchmark programs as plain Python loops with their NumPy references.

Each suite is a package exposing ``NAMES`` and ``get_kernel(name)``; `get_kernel` here
finds a kernel in any suite, so the rest of transfertune never has to know which one.
"""

from __future__ import annotations

import importlib

from transfertune.ir.kernel import Kernel

SUITES = ("polybench", "corpus")
"""Suite packages under `transfertune.suites`, searched in this order."""


def suite_names(suite: str) -> tuple[str, ...]:
    """Kernel names of one suite, in its own order."""
    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; known: {', '.join(SUITES)}")
    return importlib.import_module(f"{__name__}.{suite}").NAMES


def suite_of(name: str) -> str:
    """The suite that holds kernel `name`; a clear error naming the suites otherwise."""
    for suite in SUITES:
        if name in suite_names(suite):
            return suite
    raise ValueError(f"unknown kernel {name!r}; suites: " + "; ".join(
        f"{s}: {', '.join(suite_names(s))}" for s in SUITES))


def get_kernel(name: str) -> Kernel:
    """The kernel called `name`, from whichever suite holds it."""
    return importlib.import_module(f"{__name__}.{suite_of(name)}").get_kernel(name)


def group_of(name: str) -> str:
    """A kernel's group (family) if a suite holds it; programs from users, service clients
    or the farm are ``other``."""
    try:
        return get_kernel(name).group
    except ValueError:
        return "other"
