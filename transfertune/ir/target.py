"""Hardware targets: where a measurement was taken and how the code was built.

A target is a hardware fingerprint (CPU model, core count, caches, ISA flags) plus the
code-generation options (threads, -march, OpenMP). Measurements are keyed by target, so
two machines with the same fingerprint share what they learn, and a different CPU or
thread count never mixes its numbers with ours.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transfertune.backends.backend import Backend

_ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512vl", "avx512bw", "amx_tile",
              "asimd", "sve", "sve2")
"""ISA extensions that change what the vectoriser can do; the rest of /proc/cpuinfo's
flags are noise for performance portability."""


@dataclass(frozen=True)
class Fingerprint:
    """What the hardware is, as far as code generation cares."""

    machine: str
    cpu_model: str
    cores: int
    caches: dict[str, str] = field(default_factory=dict)
    isa: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    """A fingerprint plus codegen options; `key` is the stable id used in storage."""

    name: str
    threads: int
    openmp: bool
    march: str
    fingerprint: Fingerprint

    @property
    def key(self) -> str:
        text = json.dumps(self.to_json(), sort_keys=True)
        return f"{self.name}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fingerprint"]["isa"] = list(self.fingerprint.isa)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Target:
        fp = dict(data["fingerprint"])
        fp["isa"] = tuple(fp.get("isa", ()))
        return cls(data["name"], data["threads"], data["openmp"], data["march"], Fingerprint(**fp))


@cache
def local_fingerprint() -> Fingerprint:
    """Read this machine's fingerprint from /proc and /sys (Linux)."""
    model, flags = "unknown", set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "Model") and model == "unknown":
                model = value.strip()
            elif key in ("flags", "Features") and not flags:
                flags = set(value.split())
    caches = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        caches[f"L{level}{'' if kind == 'Unified' else kind[0].lower()}"] = size
    return Fingerprint(
        machine=platform.machine(),
        cpu_model=model,
        cores=os.cpu_count() or 1,
        caches=caches,
        isa=tuple(f for f in _ISA_FLAGS if f in flags),
    )


def local_target(name: str) -> Target:
    """Target `name` on this machine: ``cpu-seq`` (one thread), ``cpu-omp`` (OpenMP on
    all cores), ``gpu-cuda`` (this machine's NVIDIA GPU); see `transfertune.backends`."""
    from transfertune.backends import backend_named

    return backend_named(name).local_target(name)


def backend_called(name: str) -> Backend:
    """The backend named `name` (``cpu``, ``cuda``)."""
    from transfertune.backends import BACKENDS

    for backend in BACKENDS:
        if backend.name == name:
            return backend
    raise ValueError(f"unknown backend {name!r}; known: {', '.join(b.name for b in BACKENDS)}")


def backend_of(target: Target | str) -> Backend:
    """The backend that builds for `target` (a target or its name)."""
    from transfertune.backends import backend_named

    return backend_named(target if isinstance(target, str) else target.name)
