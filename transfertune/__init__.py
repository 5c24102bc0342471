"""transfertune: make loop-nest kernels fast with recipes measured on similar code.

    import transfertune
    result = transfertune.transfer(f, *args, target="cpu-omp")   # .run(*args), .report
    answer = transfertune.query(f, *args)                        # neighbours and recipes
    @transfertune.jit(target="cpu-omp")                          # transfer on first call
    def f(...): ...

The names load their machinery (docc, torch, FAISS) on first use, so importing the
package, or running a command that needs none of it, stays fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["jit", "query", "transfer"]

_EXPORTS = {"transfer": "transfertune.porting.api", "query": "transfertune.porting.query",
            "jit": "transfertune.porting.jit"}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'transfertune' has no attribute {name!r}")
