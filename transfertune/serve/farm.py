"""The tuning farm: measure what the service's clients asked about and the store knows least.

Every SDFG a client sent is stored with its nests. The farm ranks those programs by how
little is measured on their nests for this target (the fewest recipes measured on their
least-known nest first), makes each a runnable workload, and tunes it with the same
`Tuner` and `Trials` as PolyBench, through any executor (a local worker, or Dask workers
advertising the target as a resource). What it measures is recorded under the service's
dataset size for the target, so the recipe index grows with it and the next client
asking for similar code gets a measured answer.

A client's SDFG carries no sizes or data: every size symbol and int argument is given the
same `extent`, the arrays are sized by docc's own bound of what the program touches
(argument analysis) and filled with random values, and candidates are verified against
the untouched build on them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transfertune.db import Storage
from transfertune.ir.kernel import detached_kernel
from transfertune.ir.program import Program
from transfertune.isolated import run_isolated
from transfertune.measure.variants import Workload
from transfertune.serve.guard import refuse_foreign_code

DTYPES = {15: np.float64, 14: np.float32, 5: np.int64, 4: np.int32}
"""docc primitive type codes of the element types transfertune measures."""


@dataclass(frozen=True)
class Requested:
    """A program a client asked about, and how little is known about its nests."""

    sdfg_hash: str
    sdfg_json: str
    nests: tuple[str, ...]
    known: int
    """Recipes measured on its least-known nest (for this target and size)."""


def least_known(storage: Storage, target: str, size: str, limit: int) -> list[Requested]:
    """Up to `limit` distinct requested programs of `target` (a name), least known first."""
    tables = storage.nest_speedups(target_name=target, size=size)
    measured: dict[str, int] = {}
    for (_, nest_hash), table in tables.items():
        measured[nest_hash] = max(measured.get(nest_hash, 0), len(table))
    seen: dict[str, Requested] = {}
    for sdfg_hash, sdfg_json, nests in storage.requested_programs(target=target):
        if sdfg_hash not in seen and nests:
            seen[sdfg_hash] = Requested(sdfg_hash, sdfg_json, tuple(nests), min(measured.get(n, 0) for n in nests))
    return sorted(seen.values(), key=lambda r: r.known)[:limit]


def client_workload(request: Requested, extent: int, folder: Path, seed: int = 0) -> Workload:
    """A runnable workload for a client's SDFG (see module docstring); ValueError when its
    arguments are of types transfertune does not measure, or when it could call code
    outside itself (`refuse_foreign_code`: the farm compiles and runs it)."""
    refuse_foreign_code(json.loads(request.sdfg_json))
    outcome = run_isolated(_arguments, request.sdfg_json, extent, timeout=120)
    if not outcome.ok:
        raise ValueError(f"cannot size the arguments of {request.sdfg_hash[:12]}: {outcome.message.strip()[-200:]}")
    arguments, arrays, scalars = outcome.value
    rng = np.random.default_rng(seed)
    data = {name: _random(rng, DTYPES[code], count) for name, (code, count) in arrays.items()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{request.sdfg_hash[:16]}.npz"
    np.savez(path, **data)
    kernel = detached_kernel(f"client@{request.sdfg_hash[:12]}", tuple(arrays))
    fields = {"inputs": str(path), "scalars": scalars, "order": list(arguments), "outputs": list(arrays)}
    program = Program(kernel, request.sdfg_json, tuple(arguments), {})
    return Workload(program, {**fields, "checks": [{"inputs": str(path), "scalars": scalars}]}, fields,
                    reference_build=True, tolerance=1e-4 if any(c == 14 for c, _ in arrays.values()) else 0.0)


def _random(rng: np.random.Generator, dtype: Any, count: int) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 100, count).astype(dtype)
    return rng.random(count).astype(dtype)


def _arguments(sdfg_json: str, extent: int) -> tuple[list[str], dict[str, tuple[int, int]], dict[str, Any]]:
    """(argument order, array -> (type code, elements), scalar -> value), in a docc child."""
    import sympy
    from docc import sdfg as d

    from transfertune.ir.symbolic import parse_sizes

    data = json.loads(sdfg_json)
    containers, order = data["containers"], list(data["arguments"])
    scalars: dict[str, Any] = {}
    arrays: dict[str, int] = {}
    for name in order:
        spec = containers[name]
        code = spec.get("pointee_type", {}).get("primitive_type") if spec["type"] == "pointer" else None
        if spec["type"] == "pointer" and code in DTYPES:
            arrays[name] = code
        elif spec["type"] == "scalar" and spec.get("primitive_type") in (4, 5):
            scalars[name] = extent
        elif spec["type"] == "scalar" and spec.get("primitive_type") in (14, 15):
            scalars[name] = 1.5
        else:
            raise ValueError(f"argument {name}: a {spec['type']} of a type transfertune does not measure")
    sdfg = d.StructuredSDFG.parse(sdfg_json)
    manager = d.AnalysisManager(d.StructuredSDFGBuilder(sdfg))
    analysis = manager.arguments_analysis()
    size = {sympy.Symbol(n): v for n, v in scalars.items() if isinstance(v, int)}
    need = dict.fromkeys(arrays, 1)
    for loop in manager.loop_analysis().outermost_loops():
        for name, expression in analysis.argument_sizes(loop).items():
            if name in arrays:
                itemsize = np.dtype(DTYPES[arrays[name]]).itemsize
                need[name] = max(need[name], -(-int(parse_sizes(str(expression)).subs(size)) // itemsize))
    return order, {n: (arrays[n], need[n]) for n in arrays}, scalars


def farm(storage: Storage, tuner: Any, target: str, size: str, limit: int, extent: int, folder: Path,
         progress: Any = print) -> list[dict[str, Any]]:
    """Tune the `limit` least-known requested programs with `tuner` (see module docstring)."""
    from transfertune.ir.loopnest import loop_nests
    from transfertune.tune.trials import Trials

    done = []
    for request in least_known(storage, target, size, limit):
        try:
            workload = client_workload(request, extent, folder)
        except ValueError as err:
            progress(f"skip {request.sdfg_hash[:12]}: {err}")
            continue
        trials = Trials(storage, tuner.executor, workload, tuner.target, size, suite="service")
        nests = loop_nests(workload.program.kernel.name, workload.program.sdfg())
        result = tuner.tune(trials, nests, peers=())
        done.append({"program": result.kernel, "nests": len(nests), "known_before": request.known,
                     "variants_tried": result.variants_tried,
                     "speedup": _ratio(result.measurements.get("baseline"), result.measurements.get("tuned"))})
        progress(f"{result.kernel}: {len(nests)} nests, {result.variants_tried} variants, "
                 f"tuned {done[-1]['speedup'] or 0:.2f}x")
    return done


def _ratio(base: Any, tuned: Any) -> float | None:
    return base.median / tuned.median if base is not None and tuned is not None and base.ok and tuned.ok else None

