"""Backends, one per kind of device: what differs between a CPU and a GPU target.

`backend_named` finds the backend of a target name; each backend is one module
(`cpu.py`, `cuda.py`) implementing `backend.Backend`.
"""

from __future__ import annotations

from transfertune.backends.backend import Backend
from transfertune.backends.cpu import CpuBackend
from transfertune.backends.cuda import CudaBackend

BACKENDS: tuple[Backend, ...] = (CpuBackend(), CudaBackend())
TARGETS = tuple(name for backend in BACKENDS for name in backend.targets)
"""Every target name transfertune builds for."""


def backend_named(target: str) -> Backend:
    """The backend of target name `target`; a clear error naming the known targets."""
    for backend in BACKENDS:
        if target in backend.targets:
            return backend
    raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
