"""`transfer()`: make a new kernel fast with recipes measured on similar nests.

For each loop nest of the program, the nearest measured nests (by embedding) lend
their best recipes; each is ported (steps that do not fit are skipped), built, verified
against the untouched build and timed against it in the same run, the best few are
re-measured, and a nest keeps a recipe only if it is measurably faster. The combined
program is measured once more against the untouched program; if it is not faster, the
untouched program is what you get. Every measurement goes into the database, so the
next query for these nests knows more, and asking again for the same kernel, target and
argument shapes answers from the database without measuring.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from transfertune.db import open_store
from transfertune.index.lookup import RecipeLookup, resolve_target
from transfertune.ir import codegen
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import Program
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.stride import stride_orders
from transfertune.ir.target import Target, local_target
from transfertune.measure.variants import Settings, Workload
from transfertune.paths import CHECKPOINT
from transfertune.porting.lending import eligible, plan_candidates, product_nests, work_shares
from transfertune.porting.user import (
    Guard,
    bind_arguments,
    call_library,
    check_inputs,
    compare_with_python,
    parse_user_program,
    user_workload,
)
from transfertune.tune.executor import InlineExecutor
from transfertune.tune.trials import Trials


@dataclass
class CompiledProgram:
    """The chosen build of a program, callable like the original function; a call it was
    not built for (other dtypes or ranks, arrays too small for the sizes) raises
    `transfertune.porting.user.ArgumentError` before any native code runs."""

    program: Program
    library: str
    entry: str
    recipe: ProgramRecipe
    guard: Guard | None = None

    def __call__(self, *args: Any) -> None:
        bound = bind_arguments(self.program.kernel.func, args)
        if self.guard is not None:
            self.guard.check(bound)
        call_library(self.library, self.entry, self.program, bound)
        for original, used in zip(args, bound.values(), strict=True):
            if isinstance(original, np.ndarray) and used is not original:  # a non-contiguous input was copied
                original[...] = used


@dataclass
class Transferred:
    """What `transfer` returns: the program to call and what was done."""

    run: CompiledProgram
    report: dict[str, Any] = field(default_factory=dict)


def transfer(func: Callable[..., None], *args: Any, target: str = "cpu-omp", k: int = 3, db: str | None = None,
             checkpoint: str | Path | None = None, size: str = "LARGE", recipes_per_neighbour: int = 2,
             max_variants: int | None = 9, settings: Settings | None = None, lookup: RecipeLookup | None = None,
             executor: Executor | None = None, generic: bool = False) -> Transferred:
    """Transfer recipes onto `func` (called with `args`) for `target`; see module docstring.

    The program is parsed at probe sizes, sizes equal at this call as one (its shape
    class; `generic=True`: every size its own, one build for every shape, see
    `transfertune.porting.user`); the untouched build must agree with the Python
    function at a second, small shape (else ValueError); candidates are verified at the
    transfer shape and at that second shape. Asking again for the same program content,
    shape class (dtypes, ranks, equal sizes) and target answers from the store with the earlier
    report. `size` names the dataset size whose measurements answer the query; `k`
    neighbours per nest lend `recipes_per_neighbour` recipes each, at most `max_variants`.
    `executor` measures (default: this process; a Dask executor needs workers that see
    this machine's temporary files).
    """
    here = local_target(target)
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise ValueError(f"checkpoint not found: {checkpoint}")
    bound = bind_arguments(func, args)
    empty = [n for n, v in bound.items() if isinstance(v, np.ndarray) and v.size == 0]
    if empty:
        raise ValueError(f"empty array argument(s) {', '.join(empty)}: nothing to measure")
    user = parse_user_program(func, bound, generic)
    program, shape = user.program, user.guard.signature.key
    storage = lookup.storage if lookup else open_store(db)
    previous = storage.latest_transfer(content=user.content, target=here.key, shape=shape)
    if previous is not None:
        return Transferred(_compile(program, here, previous.recipe, user.guard),
                           {**previous.report, "from_database": True})
    full, small = check_inputs(func, bound, user.guard.signature.equal)
    untouched = _compile(program, here, ProgramRecipe({}), user.guard)
    compare_with_python(func, untouched.library, untouched.entry, program, small)
    if lookup is None:
        from transfertune.index.embedder import Embedder

        lookup = RecipeLookup(storage, Embedder.from_checkpoint(checkpoint or CHECKPOINT))
    with tempfile.TemporaryDirectory(prefix="tt-inputs-") as inputs:
        result = transfer_program(user_workload(program, bound, [full, small], inputs), here, shape, lookup,
                                  size=size, k=k, recipes_per_neighbour=recipes_per_neighbour,
                                  max_variants=max_variants, settings=settings, suite="user", guard=user.guard,
                                  executor=executor)
    result.report["shape_class"] = user.guard.signature.describe()
    storage.record_transfer(kernel=program.kernel, target=here, shape=shape, recipe=result.run.recipe,
                            report=result.report)
    return result


def transfer_program(workload: Workload, here: Target, shape: str, lookup: RecipeLookup, *, size: str, k: int = 3,
                     recipes_per_neighbour: int = 2, max_variants: int | None = 9, settings: Settings | None = None,
                     suite: str = "user", peers: tuple[str, ...] = (), guard: Guard | None = None,
                     executor: Executor | None = None) -> Transferred:
    """The transfer loop for a workload (user program or suite kernel), measured through
    `executor` (default: this process) by the same `Trials` tuning uses; at most
    `max_variants` recipes are tried for the whole program; `peers` (polly, docc) are
    timed in the final run too, for experiments; `guard` goes with the returned program."""
    begin = time.monotonic()
    program, storage = workload.program, lookup.storage
    settings = settings or Settings(repetitions=3, early_stop=1.5)
    careful = replace(settings, repetitions=5, early_stop=None)
    trials = Trials(storage, executor or InlineExecutor(), workload, here, shape, suite)
    resolved = resolve_target(storage, here)
    nests = loop_nests(program.kernel.name, program.sdfg())
    answers = lookup.query(nests, resolved, size, k=k, recipes=recipes_per_neighbour)
    report: dict[str, Any] = {"kernel": program.kernel.name, "target": here.key, "answered_by": resolved.key,
                              "note": resolved.note, "nests": []}
    chosen: dict[int, Recipe] = {}
    tried = 0
    work = work_shares(workload)
    products = product_nests(program, here)
    ordered = stride_orders(program, here, [i for i, ok in enumerate(eligible(work)) if ok])
    planned = plan_candidates(answers, work, max_variants, size, products, ordered)
    for nest, answer, candidates, share in zip(nests, answers, planned, work, strict=True):
        nest_report: dict[str, Any] = {
            "nest": nest.index, "tried": [], "work_share": round(share, 4),
            "neighbours": [{"kernel": n["kernel"], "nest": n["position"], "distance": round(n["distance"], 4)}
                           for n in answer["neighbours"]]}
        if candidates:
            measured = trials.measure_nest(nest, candidates, settings)
            tried += len(candidates)
            nest_report["tried"] = [{"recipe": c.recipe.to_json(), "speedup": c.speedup} for c in measured]
            best = trials.confirm(nest, measured, careful, top=2)
            if best is not None:
                chosen[nest.index] = best.recipe
                nest_report["kept"] = {"recipe": best.recipe.to_json(), "speedup": best.speedup}
        report["nests"].append(nest_report)
    recipe, results = trials.finish(chosen, "transferred", careful, peers=peers, started=begin, label="transfer",
                                    tried=tried)
    base, fast = results["baseline"], results["transferred"]
    if not base.ok:
        raise ValueError(f"the untouched build of {program.kernel.name} does not run: {base.status} "
                         f"({base.message.strip()[-300:]})")
    report.update({"variants_tried": tried, "seconds": fast.phases["transfer"], "recipe": recipe.to_json(),
                   "speedup": base.median / fast.median if fast.ok else None,
                   "measurements": {n: m.to_json() for n, m in results.items()}, "from_database": False})
    return Transferred(_compile(program, here, recipe, guard), report)


def _compile(program: Program, target: Target, recipe: ProgramRecipe, guard: Guard | None = None
             ) -> CompiledProgram:
    source = codegen.generate(program, target, "recipe", recipe) if recipe.nests else codegen.generate(program, target)
    build = codegen.build_source(source, target)
    if build.status != "ok":
        raise RuntimeError(f"building the chosen program failed: {build.log[-500:]}")
    return CompiledProgram(program, build.library, source.entry, recipe, guard)

