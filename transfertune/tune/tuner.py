"""The tuning loop: per nest a strategy searches recipes, per program the best nest
recipes are combined and the whole program is measured against its peers.

Every nest is first measured under the fixed probe recipes (`probes`), then searched.
Measuring, confirming and the final keep-or-fall-back run are `Trials`', shared with
transfer: a tuned program is never slower than the code it started from. A candidate
already measured for this nest, target and size is taken from the store instead of
being rebuilt, so an interrupted tuning run resumes where it stopped.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace

from transfertune.db import Storage
from transfertune.ir.kernel import Kernel
from transfertune.ir.loopnest import LoopNest, loop_nests
from transfertune.ir.program import Program, build_program
from transfertune.ir.recipe import ProgramRecipe, Recipe
from transfertune.ir.stride import stride_orders
from transfertune.ir.target import Target, local_target
from transfertune.ir.transform import replayable
from transfertune.measure.measurement import Measurement
from transfertune.measure.peers import COMPARED as PEERS
from transfertune.measure.peers import peers_for
from transfertune.measure.variants import Settings, suite_workload
from transfertune.tune import space
from transfertune.tune.probes import probes_for
from transfertune.tune.strategy import Budget, Candidate, Strategy
from transfertune.tune.trials import Trials


@dataclass
class TuneOptions:
    size: str = "LARGE"
    budget: Budget = field(default_factory=Budget)
    settings: Settings = field(default_factory=lambda: Settings(repetitions=3, early_stop=1.5))
    final_repetitions: int = 5
    top: int = 3
    seed: int = 0
    polybench_c: str | None = None
    """A PolyBench/C checkout: its kernels are the C peers of the final runs."""
    replayable_only: bool = False
    """Measure only recipes docc's client can replay (the service's farm: a library call it
    could never lend would only spend the budget)."""
    retune: bool = False
    """Tune kernels again that have a finished run. The budget counts the nest's stored
    candidates too, so a larger budget continues the search where it stopped (kernels
    a first pass left behind a peer get a deeper search; the search measures no stored
    candidate again, only the final confirmation of the best does)."""
    remeasure: frozenset[str] = frozenset()
    """Operations whose recipes are measured again although the store has them, and whose
    kernels are tuned again: after a step learnt to do more (the library call learnt rank
    updates and matrix-vector calls), what was measured under its name before says
    nothing about it now."""


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

    def __init__(self, tuner: Tuner, trials: Trials, nest: LoopNest, rng: random.Random, seeds: list[Recipe]) -> None:
        self.tuner, self.trials, self.nest = tuner, trials, nest
        self.program = trials.workload.program
        self.rng = rng
        self.seeds = seeds
        self._seen: dict[Recipe, Candidate] = tuner.known(self.program.kernel, nest)

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
            if self._fresh(recipe) and recipe not in out:
                out.append(recipe)
        return out

    def mutate(self, recipe: Recipe) -> Recipe | None:
        prefix, grow = space.mutate(recipe, self.rng)
        child = space.sample(self.program, self.nest.index, self.tuner.target, self.rng.randrange(2**31),
                             grow, prefix)
        return child if self._fresh(child) else None

    def _fresh(self, recipe: Recipe | None) -> bool:
        """A recipe worth measuring here: it has steps, was not measured yet, and this run
        measures such recipes (`Tuner.allowed`)."""
        return recipe is not None and bool(recipe.steps) and recipe not in self._seen and self.tuner.allowed(recipe)

    def evaluate(self, recipes: list[Recipe]) -> list[Candidate]:
        fresh = [r for r in recipes if r not in self._seen]
        if fresh:
            for candidate in self.trials.measure_nest(self.nest, fresh, self.tuner.options.settings):
                self._seen[candidate.recipe] = candidate
        return [self._seen[r] for r in recipes if r in self._seen]


class Tuner:
    """Tunes kernels for one target, recording into `storage`, measuring via `executor`."""

    def __init__(self, storage: Storage, executor: Executor, target: str, strategy: Strategy,
                 options: TuneOptions, progress: Callable[[str], None] | None = None) -> None:
        self.storage, self.executor, self.strategy, self.options = storage, executor, strategy, options
        self.target: Target = local_target(target)
        self.progress = progress or (lambda _msg: None)

    def allowed(self, recipe: Recipe) -> bool:
        """Whether this tuning run measures `recipe` (see `TuneOptions.replayable_only`)."""
        return not self.options.replayable_only or replayable(recipe)

    def probes(self, nest: LoopNest) -> list[Recipe]:
        """The probes `nest` is measured under first (those this run measures)."""
        return [r for r in probes_for(self.target, nest).values() if self.allowed(r)]

    def derived(self, program: Program, nest: LoopNest) -> list[Recipe]:
        """Recipes computed from the nest's own code, measured beside the probes: its
        stride order (`transfertune.ir.stride`), which a random walk rarely finds."""
        return [r for r in stride_orders(program, self.target, [nest.index]).values() if self.allowed(r)]

    def trials(self, kernel: Kernel) -> Trials:
        """The measurement loop for `kernel` at the tuning size."""
        workload = suite_workload(kernel, self.options.size, self.options.settings.check_size,
                                  self.options.polybench_c)
        return Trials(self.storage, self.executor, workload, self.target, self.options.size)

    def measure_nest(self, kernel: Kernel, nest: LoopNest, recipes: list[Recipe], settings: Settings
                     ) -> list[Candidate]:
        """Time `recipes` on `nest` against the untouched program in one run; record all."""
        return self.trials(kernel).measure_nest(nest, recipes, settings)

    def known(self, kernel: Kernel, nest: LoopNest) -> dict[Recipe, Candidate]:
        """Candidates already measured for this nest, target and size (failures included,
        with speedup 0, so they are not tried again), but for `TuneOptions.remeasure`."""
        tables = self.storage.nest_speedups(target=self.target, size=self.options.size, program=kernel.name,
                                            nest_hash=nest.nest_hash)
        return {r: Candidate(r, s, "ok" if s > 0 else "failed")
                for r, s in tables.get((kernel.name, nest.nest_hash), {}).items()
                if not {step.op for step in r.steps} & self.options.remeasure}

    def seeds(self, exclude: str) -> list[Recipe]:
        """Best nest recipes of other kernels measured on this target and size."""
        scored: dict[Recipe, float] = {}
        for (program, _), table in self.storage.nest_speedups(target=self.target, size=self.options.size).items():
            if program != exclude:
                for recipe, speedup in table.items():
                    scored[recipe] = max(scored.get(recipe, 0.0), speedup)
        return [r for r, s in sorted(scored.items(), key=lambda kv: -kv[1]) if s > 1.0 and self.allowed(r)][:8]

    # -- the loop ----------------------------------------------------------------------

    def tune_kernel(self, kernel: Kernel) -> KernelResult:
        """Tune a suite kernel at the tuning size (or return its finished earlier run)."""
        program = build_program(kernel)
        nests = loop_nests(kernel.name, program.sdfg())
        previous = None if self.options.retune else self._final(kernel)
        if previous is not None and not self._stale(kernel, program, nests):
            return previous
        return self.tune(self.trials(kernel), nests)

    def tune(self, trials: Trials, nests: list[LoopNest], peers: tuple[str, ...] | None = None) -> KernelResult:
        """Search every nest of `trials`' program, combine the best, measure against the
        untouched program (and `peers`, by default all `PEERS` the kernel has); any
        program: a suite kernel or a client's."""
        kernel = trials.kernel
        if peers is None:
            peers = peers_for(kernel, PEERS, self.options.polybench_c, self.target)
        begin = time.monotonic()
        rng = random.Random(f"{self.options.seed}-{kernel.name}-{self.target.name}")
        seeds = self.seeds(exclude=kernel.name)
        careful = replace(self.options.settings, repetitions=self.options.final_repetitions, early_stop=None)
        chosen: dict[int, Recipe] = {}
        tried = 0
        for nest in nests:
            self.progress(f"{kernel.name} nest {nest.index + 1}/{len(nests)}")
            context = NestContext(self, trials, nest, rng, seeds)
            context.evaluate(self.probes(nest) + self.derived(trials.workload.program, nest))
            self.strategy.tune(context, self.options.budget)
            tried += len(context.results)
            best = trials.confirm(nest, context.results, careful, self.options.top)
            if best is not None:
                chosen[nest.index] = best.recipe
        recipe, results = trials.finish(chosen, "tuned", careful, peers=peers, started=begin, label="tuning",
                                        tried=tried)
        return KernelResult(kernel.name, recipe, results, tried, results["tuned"].phases["tuning"])

    def _stale(self, kernel: Kernel, program: Program, nests: list[LoopNest]) -> bool:
        """Whether a probe was added, or a nest's derived recipe changed (a new step the
        stride order uses), since this kernel was tuned: its finished run is then stale and
        the kernel is tuned again (measured candidates still come from the store)."""
        return any(not set(self.probes(nest) + self.derived(program, nest)) <= set(self.known(kernel, nest))
                   for nest in nests)

    def _final(self, kernel: Kernel) -> KernelResult | None:
        """A finished earlier run for this kernel, target and size, if there is one."""
        run = self.storage.latest_runs(target=self.target, size=self.options.size, program=kernel.name,
                                       variant="tuned").get(kernel.name)
        if run is None:
            return None
        tuned = run.measurements["tuned"]
        return KernelResult(kernel.name, run.recipe, run.measurements, int(tuned.phases.get("variants_tried", 0)),
                            tuned.phases.get("tuning", 0.0), resumed=True)
