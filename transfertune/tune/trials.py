"""The one measurement loop of tuning and transfer.

Both ask the same questions of one program on one target: how much faster is each of
these recipes on this nest (`measure_nest`: the whole program with only that nest
transformed, timed interleaved with the untouched program in one child)? Which of the
best few holds up when measured again more carefully (`confirm`: kept only if
`KEEP_MARGIN` faster)? Is the combination of the kept nest recipes faster than the
untouched program as a whole (`finish`: if not, the untouched program is the answer; and
where the untouched program is itself wrong, as a GPU's plain offload can be, the program
as written is)?
Every batch goes through an executor (this process, a local worker, Dask), and every
measurement is recorded in the store as soon as its batch returns.
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass, replace

from transfertune.db import Storage
from transfertune.ir.kernel import Kernel
from transfertune.ir.loopnest import LoopNest, loop_nests
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.target import Target, backend_of
from transfertune.measure.measurement import Measurement
from transfertune.measure.variants import Settings, Workload
from transfertune.tune.executor import run_batch, settings_dict
from transfertune.tune.strategy import Candidate

KEEP_MARGIN = 1.02
"""A nest recipe is kept only if it beat the untouched program by 2% when re-measured."""
TIE = 1.05
"""Confirmed speedups within this factor of the fastest are a tie, won by the recipe with
fewer steps (`simplest_fastest`)."""


@dataclass
class Trials:
    """Measure recipes of one program's `workload` on `target`, recording into `storage`
    under `size` (a dataset name, or a user program's shape class) and `suite`."""

    storage: Storage
    executor: Executor
    workload: Workload
    target: Target
    size: str
    suite: str = "polybench"

    @property
    def kernel(self) -> Kernel:
        return self.workload.program.kernel

    def measure(self, variants: list[tuple[str, ProgramRecipe | None]], settings: Settings
                ) -> tuple[Target, dict[str, Measurement]]:
        """One batch: build, verify and time `variants` in one child on the executor's machine."""
        jobs = [(name, recipe.to_json() if recipe is not None else None) for name, recipe in variants]
        target_json, results = self.executor.submit(run_batch, self.workload, self.target.name, jobs,
                                                    settings_dict(settings)).result()
        return Target.from_json(target_json), {n: Measurement.from_json(m) for n, m in results.items()}

    def measure_nest(self, nest: LoopNest, recipes: list[Recipe], settings: Settings) -> list[Candidate]:
        """Speedup of each recipe on `nest` over the untouched program, from one run."""
        names = [f"c{i}" for i in range(len(recipes))]
        target, results = self.measure([("baseline", None)] + [(n, ProgramRecipe({nest.index: r}))
                                                               for n, r in zip(names, recipes, strict=True)], settings)
        run = uuid.uuid4().hex
        base = results["baseline"]
        record = {"kernel": self.kernel, "target": target, "size": self.size, "run": run, "nest": nest,
                  "suite": self.suite}
        self.storage.record(base, **record)
        out = []
        for name, recipe in zip(names, recipes, strict=True):
            m = replace(results[name], variant="recipe")
            self.storage.record(m, recipe=recipe, **record)
            out.append(Candidate(recipe, speedup(base, m), m.status))
        return out

    def confirm(self, nest: LoopNest, candidates: list[Candidate], settings: Settings, top: int) -> Candidate | None:
        """Re-measure the `top` candidates that were faster; the best one (`simplest_fastest`)
        if it beats the untouched program by `KEEP_MARGIN` again, else None."""
        best = sorted((c for c in candidates if c.speedup > 1.0), key=lambda c: -c.speedup)[:top]
        if not best:
            return None
        again = simplest_fastest(self.measure_nest(nest, [c.recipe for c in best], settings))
        return again if again.speedup >= KEEP_MARGIN else None

    def finish(self, chosen: dict[int, Recipe], result: str, settings: Settings, *, peers: tuple[str, ...] = (),
               started: float, label: str, tried: int) -> tuple[ProgramRecipe, dict[str, Measurement]]:
        """Measure the combined program against the untouched one (and `peers`) and record
        the run. The combination is the `result` variant only if it is faster as a whole;
        otherwise `result` is the untouched program (the combination stays recorded as
        ``combined``), so the answer is never slower than the code it started from.
        Every measurement carries the effort: seconds since `started` (as `label`) and
        the number of variants `tried`."""
        recipe = ProgramRecipe(chosen)
        variants: list[tuple[str, ProgramRecipe | None]] = [("baseline", None)] + [(p, None) for p in peers]
        variants += [("combined", recipe)] if chosen else []
        target, results = self.measure(variants, settings)
        combined, reference, fallback = results.get("combined"), results["baseline"], ProgramRecipe({})
        written = self.as_written() if not reference.ok else None
        if written is not None:  # the untouched program is wrong here: fall back to the code as written
            _, again = self.measure([("as_written", written)] + ([("combined", recipe)] if chosen else []), settings)
            results.update(again)
            combined, reference, fallback = again.get("combined"), again["as_written"], written
        if combined is not None and combined.ok and reference.ok and combined.median < reference.median:
            results[result] = replace(results.pop("combined"), variant=result)
        else:
            results[result] = replace(reference, variant=result)
            recipe = fallback
        run = uuid.uuid4().hex
        effort = {label: time.monotonic() - started, "variants_tried": float(tried)}
        for name, m in results.items():
            m = replace(m, phases={**m.phases, **effort})
            results[name] = m
            stored = recipe if name == result else ProgramRecipe(chosen) if name == "combined" else None
            self.storage.record(m, kernel=self.kernel, target=target, size=self.size, run=run, recipe=stored,
                                suite=self.suite)
        return recipe, results

    def as_written(self) -> ProgramRecipe | None:
        """Every nest left where it is written, on a target whose backend places the nests
        no recipe names (a GPU's plain offload, which docc 0.8.1 gets wrong on some loops
        that carry dependences); None where the untouched program is already that."""
        if backend_of(self.target).default_recipe(self.target) is None:
            return None
        nests = loop_nests(self.kernel.name, self.workload.program.sdfg())
        return ProgramRecipe({n.index: Recipe() for n in nests})


def speedup(base: Measurement, m: Measurement) -> float:
    """Ratio of medians from one run; 0.0 unless both are ok."""
    if not (base.ok and m.ok) or m.median <= 0:
        return 0.0
    return base.median / m.median


def simplest_fastest(candidates: list[Candidate]) -> Candidate:
    """The fastest candidate, or among those within `TIE` of it the one with the fewest
    steps. A nest's own run cannot tell ``[blas]`` from ``[parallelize, blas]`` (34x each
    on gram-matrix), but the program's final run did: 18x for the longer one, its OpenMP
    region beside OpenBLAS's threads. A step that buys nothing measurable is a risk, not
    a gain."""
    fastest = max(c.speedup for c in candidates)
    return min((c for c in candidates if c.speedup * TIE >= fastest), key=lambda c: (len(c.recipe.steps), -c.speedup))
