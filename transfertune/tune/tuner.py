"""The tuning loop: per nest a strategy searches recipes, per program the best nest
recipes are combined and the whole program is measured against its peers.

Every nest is first measured under the fixed probe recipes (`probes`), then searched.
The combined program counts as tuned only if it beats the untouched program in the final
run; otherwise the untouched program is the result (and the combined one is recorded as
``combined``), so a tuned program is never slower than the code it started from.
Nest candidates are timed as the whole program with only that nest transformed,
interleaved in one child with the untouched program; the speedup of a nest recipe is
the ratio of the two medians from the same run. Every measurement is recorded in the
store as soon as its batch returns, and a candidate already measured for this nest,
target and size is taken from the store instead of being rebuilt, so an interrupted
tuning run resumes where it stopped.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import Any

from transfertune.db import Storage
from transfertune.ir.kernel import Kernel
from transfertune.ir.loopnest import LoopNest, loop_nests
from transfertune.ir.program import Program, build_program
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.target import Target, local_target
from transfertune.measure.measurement import Measurement
from transfertune.measure.variants import Settings
from transfertune.tune import space
from transfertune.tune.executor import measure_batch, settings_dict
from transfertune.tune.probes import probes_for
from transfertune.tune.strategy import Budget, Candidate, Strategy

PEERS = ("baseline", "polly", "docc")
KEEP_MARGIN = 1.02
"""A nest recipe is kept only if it beat the untouched program by 2% when re-measured."""


@dataclass
class TuneOptions:
    size: str = "LARGE"
    budget: Budget = field(default_factory=Budget)
    settings: Settings = field(default_factory=lambda: Settings(repetitions=3, early_stop=1.5))
    final_repetitions: int = 5
    top: int = 3
    seed: int = 0


@dataclass
class KernelResult:
    """What tuning one kernel produced (whole-program measurements by variant)."""

    kernel: str
    recipe: ProgramRecipe
    measurements: dict[str, Measurement]
    variants_tried: int
    seconds: float
    resumed: bool = False


class NestContext:
    """The `SearchContext` for one nest: sampling in docc children, measuring through
    the executor, recording in the store, never measuring a recipe twice."""

    def __init__(self, tuner: Tuner, kernel: Kernel, program: Program, nest: LoopNest, rng: random.Random,
                 seeds: list[Recipe]) -> None:
        self.tuner, self.kernel, self.program, self.nest = tuner, kernel, program, nest
        self.rng = rng
        self.seeds = seeds
        self._seen: dict[Recipe, Candidate] = tuner.known(kernel, nest)

    @property
    def results(self) -> list[Candidate]:
        return [c for c in self._seen.values() if c.status != "seed"]

    def sample(self, count: int) -> list[Recipe]:
        out: list[Recipe] = []
        for _ in range(count * 3):
            if len(out) >= count:
                break
            recipe = space.sample(self.program, self.nest.index, self.tuner.target, self.rng.randrange(2**31),
                                  self.rng.randint(1, 4))
            if recipe is not None and recipe.steps and recipe not in self._seen and recipe not in out:
                out.append(recipe)
        return out

    def mutate(self, recipe: Recipe) -> Recipe | None:
        prefix, grow = space.mutate(recipe, self.rng)
        child = space.sample(self.program, self.nest.index, self.tuner.target, self.rng.randrange(2**31),
                             grow, prefix)
        return child if child is not None and child.steps and child not in self._seen else None

    def evaluate(self, recipes: list[Recipe]) -> list[Candidate]:
        fresh = [r for r in recipes if r not in self._seen]
        if fresh:
            for candidate in self.tuner.measure_nest(self.kernel, self.nest, fresh, self.tuner.options.settings):
                self._seen[candidate.recipe] = candidate
        return [self._seen[r] for r in recipes if r in self._seen]


class Tuner:
    """Tunes kernels for one target, recording into `storage`, measuring via `executor`."""

    def __init__(self, storage: Storage, executor: Executor, target: str, strategy: Strategy,
                 options: TuneOptions, progress: Callable[[str], None] | None = None) -> None:
        self.storage, self.executor, self.strategy, self.options = storage, executor, strategy, options
        self.target: Target = local_target(target)
        self.progress = progress or (lambda _msg: None)

    # -- measuring ---------------------------------------------------------------------

    def _measure(self, kernel: Kernel, variants: list[tuple[str, Any]], settings: Settings
                 ) -> tuple[Target, dict[str, Measurement]]:
        future = self.executor.submit(measure_batch, kernel.name, self.target.name, self.options.size,
                                      variants, settings_dict(settings))
        target_json, results = future.result()
        return Target.from_json(target_json), {n: Measurement.from_json(m) for n, m in results.items()}

    def measure_nest(self, kernel: Kernel, nest: LoopNest, recipes: list[Recipe], settings: Settings
                     ) -> list[Candidate]:
        """Time `recipes` on `nest` (whole program, other nests untouched) against the
        untouched program in one run; record all; return speedups."""
        names = [f"c{i}" for i in range(len(recipes))]
        variants = [("baseline", None)] + [
            (n, ProgramRecipe({nest.index: r}).to_json()) for n, r in zip(names, recipes, strict=True)]
        target, results = self._measure(kernel, variants, settings)
        run = uuid.uuid4().hex
        base = results["baseline"]
        self.storage.record(base, kernel=kernel, target=target, size=self.options.size, run=run, nest=nest)
        out = []
        for name, recipe in zip(names, recipes, strict=True):
            m = replace(results[name], variant="recipe")
            self.storage.record(m, kernel=kernel, target=target, size=self.options.size, run=run, nest=nest,
                                recipe=recipe)
            out.append(Candidate(recipe, _speedup(base, m), m.status))
        return out

    def known(self, kernel: Kernel, nest: LoopNest) -> dict[Recipe, Candidate]:
        """Candidates already measured for this nest, target and size (failures included,
        with speedup 0, so they are not tried again)."""
        tables = self.storage.nest_speedups(target=self.target, size=self.options.size, program=kernel.name,
                                            nest_hash=nest.nest_hash)
        out = {}
        for text, speedup in tables.get((kernel.name, nest.nest_hash), {}).items():
            recipe = Recipe.from_json(json.loads(text))
            out[recipe] = Candidate(recipe, speedup, "ok" if speedup > 0 else "failed")
        return out

    def seeds(self, exclude: str) -> list[Recipe]:
        """Best nest recipes of other kernels measured on this target and size."""
        scored: dict[str, float] = {}
        for (program, _), table in self.storage.nest_speedups(target=self.target, size=self.options.size).items():
            if program != exclude:
                for text, speedup in table.items():
                    scored[text] = max(scored.get(text, 0.0), speedup)
        best = sorted((kv for kv in scored.items() if kv[1] > 1.0), key=lambda kv: -kv[1])[:8]
        return [Recipe.from_json(json.loads(text)) for text, _ in best]

    # -- the loop ----------------------------------------------------------------------

    def tune_kernel(self, kernel: Kernel) -> KernelResult:
        program = build_program(kernel)
        nests = loop_nests(kernel.name, program.sdfg())
        previous = self._final(kernel)
        if previous is not None and not self._missing_probes(kernel, nests):
            return previous
        begin = time.monotonic()
        rng = random.Random(f"{self.options.seed}-{kernel.name}-{self.target.name}")
        seeds = self.seeds(exclude=kernel.name)
        chosen: dict[int, Recipe] = {}
        tried = 0
        for nest in nests:
            self.progress(f"{kernel.name} nest {nest.index + 1}/{len(nests)}")
            context = NestContext(self, kernel, program, nest, rng, seeds)
            context.evaluate(list(probes_for(self.target).values()))
            self.strategy.tune(context, self.options.budget)
            tried += len(context.results)
            best = self._confirm(kernel, nest, context.results)
            if best is not None:
                chosen[nest.index] = best
        recipe = ProgramRecipe(chosen)
        final = replace(self.options.settings, repetitions=self.options.final_repetitions, early_stop=None)
        variants = [(p, None) for p in PEERS] + ([("combined", recipe.to_json())] if chosen else [])
        target, results = self._measure(kernel, variants, final)
        combined = results.get("combined")
        if combined is not None and combined.ok and results["baseline"].ok \
                and combined.median < results["baseline"].median:
            results["tuned"] = replace(results.pop("combined"), variant="tuned")
        else:  # nothing beat the untouched code as a whole: the tuned program *is* the baseline binary
            recipe = ProgramRecipe({})
            results["tuned"] = replace(results["baseline"], variant="tuned")
        seconds = time.monotonic() - begin
        run = uuid.uuid4().hex
        for name, m in results.items():
            m = replace(m, phases={**m.phases, "tuning": seconds, "variants_tried": float(tried)})
            results[name] = m
            self.storage.record(m, kernel=kernel, target=target, size=self.options.size, run=run,
                                recipe=recipe if name == "tuned" else (ProgramRecipe(chosen) if name == "combined"
                                                                       else None))
        return KernelResult(kernel.name, recipe, results, tried, seconds)

    def _confirm(self, kernel: Kernel, nest: LoopNest, results: list[Candidate]) -> Recipe | None:
        """Re-measure the best few with more repetitions; keep the winner only if it
        beats the untouched program by `KEEP_MARGIN`."""
        top = sorted((c for c in results if c.speedup > 1.0), key=lambda c: -c.speedup)[: self.options.top]
        if not top:
            return None
        again = replace(self.options.settings, repetitions=self.options.final_repetitions, early_stop=None)
        confirmed = self.measure_nest(kernel, nest, [c.recipe for c in top], again)
        best = max(confirmed, key=lambda c: c.speedup)
        return best.recipe if best.speedup >= KEEP_MARGIN else None

    def _missing_probes(self, kernel: Kernel, nests: list[LoopNest]) -> bool:
        """Whether a probe was added since this kernel was tuned: its finished run is then
        stale and the kernel is tuned again (measured candidates still come from the store)."""
        probes = set(probes_for(self.target).values())
        return any(not probes <= set(self.known(kernel, nest)) for nest in nests)

    def _final(self, kernel: Kernel) -> KernelResult | None:
        """A finished earlier run for this kernel, target and size, if there is one."""
        rows = self.storage.measurements(target=self.target, size=self.options.size, program=kernel.name,
                                         whole_program=True)
        runs = [r.run for r in rows if r.variant == "tuned"]
        if not runs:
            return None
        last = [r for r in rows if r.run == runs[-1]]
        tuned = next(r for r in last if r.variant == "tuned")
        return KernelResult(kernel.name, ProgramRecipe.from_json(tuned.recipe),
                            {r.variant: r.measurement for r in last},
                            int(tuned.measurement.phases.get("variants_tried", 0)),
                            tuned.measurement.phases.get("tuning", 0.0), resumed=True)


def _speedup(base: Measurement, m: Measurement) -> float:
    if not (base.ok and m.ok) or m.median <= 0:
        return 0.0
    return base.median / m.median
