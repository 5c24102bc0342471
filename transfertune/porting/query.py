"""`query()`: the nearest measured nests of a program and their best recipes, unmeasured.

A program is a suite kernel (by name), a loop function with example arguments, or an
SDFG file in docc's JSON; the answer is plain data (per nest: neighbours with kernel,
nest position, distance and ranked recipes), what the CLI prints and the service sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transfertune.db import open_store
from transfertune.index.lookup import RecipeLookup, resolve_target
from transfertune.ir.loopnest import LoopNest, loop_nests, parse_sdfg_file
from transfertune.ir.program import build_program
from transfertune.ir.target import local_target
from transfertune.paths import CHECKPOINT
from transfertune.porting.user import bind_arguments, parse_user_program
from transfertune.suites import get_kernel


def program_nests(source: str | Path | Callable[..., None], args: tuple[Any, ...] = ()) -> tuple[str, list[LoopNest]]:
    """(name, loop nests) of a kernel name, an SDFG file path, or a function and its arguments."""
    if callable(source):
        user = parse_user_program(source, bind_arguments(source, args))
        return source.__name__, loop_nests(user.name, user.program.sdfg())
    text = str(source)
    if text.endswith(".json") or Path(text).is_file():
        path = Path(text)
        return path.stem, loop_nests(path.stem, parse_sdfg_file(path))
    return text, loop_nests(text, build_program(get_kernel(text)).sdfg())


def query(source: str | Path | Callable[..., None], *args: Any, target: str = "cpu-omp", k: int = 3,
          recipes: int = 3, db: str | None = None, checkpoint: str | Path | None = None,
          sizes: dict[str, str] | None = None, lookup: RecipeLookup | None = None) -> dict[str, Any]:
    """Per loop nest of `source`: its `k` nearest measured nests on `target` (or the most
    similar known target, with a note) and their best `recipes`, best first. `sizes`:
    which dataset size's measurements answer, per target name (default MEDIUM)."""
    here = local_target(target)
    name, nests = program_nests(source, args)
    if lookup is None:
        from transfertune.index.embedder import Embedder  # torch only here

        lookup = RecipeLookup(open_store(db), Embedder.from_checkpoint(checkpoint or CHECKPOINT))
    resolved = resolve_target(lookup.storage, here)
    size = (sizes or {}).get(resolved.name, "MEDIUM")
    begin = time.perf_counter()
    answer = lookup.query(nests, resolved, size, k=k, recipes=recipes)
    return {"program": name, "target": here.key, "answered_by": resolved.key, "note": resolved.note, "size": size,
            "query_ms": round(1000 * (time.perf_counter() - begin), 2), "nests": answer}
