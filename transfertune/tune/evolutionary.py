"""Evolutionary search seeded with the best recipes known for similar nests.

Generation 0: the seeds (ported: steps that do not apply are dropped) topped up with
random samples. Each later generation mutates parents drawn from the best measured
so far (tournament of two), so good structure is kept and parameters are varied.
"""

from __future__ import annotations

from dataclasses import dataclass

from transfertune.ir.recipe import Recipe
from transfertune.tune.strategy import Budget, Clock, SearchContext


@dataclass(frozen=True)
class EvolutionarySearch:
    """Options: ``population`` per generation, ``elite`` parents kept as candidates."""

    population: int = 4
    elite: int = 3

    def tune(self, context: SearchContext, budget: Budget) -> None:
        clock = Clock(budget)
        first = min(self.population, clock.left(0))
        generation: list[Recipe] = list(context.seeds[:first])
        generation += context.sample(first - len(generation))
        while generation:
            if not context.evaluate(generation):
                return
            left = clock.left(len(context.results))
            if left <= 0:
                return
            parents = sorted(context.results, key=lambda c: -c.speedup)[: self.elite]
            parents = [p for p in parents if p.speedup > 0]
            if not parents:
                generation = context.sample(min(self.population, left))
                continue
            generation = []
            for _ in range(min(self.population, left) * 3):
                if len(generation) >= min(self.population, left):
                    break
                a, b = (context.rng.choice(parents) for _ in range(2))
                child = context.mutate(a.recipe if a.speedup >= b.speedup else b.recipe)
                if child is not None and child not in generation:
                    generation.append(child)
