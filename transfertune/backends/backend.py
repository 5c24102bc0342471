"""The backend interface: everything that differs between kinds of device.

A backend knows its targets (fingerprint of the device plus code-generation options),
how docc schedules for it, how a transformed SDFG becomes source code and that code a
shared library, which recipe steps it can build, and the environment a measuring child
needs. Everything else (recipes, verification, interleaved timing, the store, search,
transfer) is shared, so adding a device means adding one module here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from transfertune.ir.recipe import Recipe
from transfertune.ir.target import Target

COMMON_OPS = frozenset({"tile", "interchange", "distribute", "unroll"})
"""Recipe steps every backend builds: they only reorder loops."""


class Backend(ABC):
    """One kind of device."""

    name: str
    targets: tuple[str, ...]
    """Names of the targets this backend builds for (e.g. ``cpu-seq``, ``cpu-omp``)."""
    source_suffix: str = ".cpp"
    peers: tuple[str, ...] = ("baseline", "polly", "docc", "clang_c", "polly_c", "numpy")
    """The peers (`transfertune.measure.peers`) that exist on this backend's targets."""

    def default_recipe(self, target: Target) -> Recipe | None:
        """What a nest gets when no recipe names it (None: stays as written)."""
        return None

    def write_sources(self, code: str, folder: Path) -> list[Path]:
        """Write `code` into `folder` as the files to compile."""
        path = folder / f"variant{self.source_suffix}"
        path.write_text(code)
        return [path]

    @abstractmethod
    def local_target(self, name: str) -> Target:
        """Target `name` on this machine (its device's fingerprint)."""

    @abstractmethod
    def schedule_target(self, target: Target) -> str:
        """docc's ``TargetOptions.target`` for docc's own schedule on `target`."""

    @abstractmethod
    def source(self, sdfg: Any, target: Target) -> str:
        """The code to compile for a (transformed) SDFG, as one translation unit."""

    @abstractmethod
    def compiler(self) -> str:
        """The compiler executable (its version is part of every build's cache key)."""

    @abstractmethod
    def compile_flags(self, target: Target, variant: str, code: str = "") -> tuple[str, ...]:
        """Flags that build `code` of `variant` into a shared library for `target`
        (link flags, ``-l``/``-L``/``-Wl,``, go after the source)."""

    @abstractmethod
    def ops(self, target: Target) -> frozenset[str]:
        """Recipe operations this backend can build for `target`."""

    @abstractmethod
    def environment(self, target: Target) -> dict[str, str]:
        """Environment variables of a child that measures on `target`."""

    def spin_ms(self, target: Target, code: str) -> int | None:
        """How long the threading runtime's workers spin after a parallel region while
        the variant built from `code` is timed (milliseconds); None: the runtime's own
        default."""
        return None
