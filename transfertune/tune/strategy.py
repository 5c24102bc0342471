"""The strategy interface: a strategy proposes recipes, the context measures them.

A strategy is a small object with one method, ``tune(context, budget)``. It asks the
context for random or mutated candidates and for measurements; the context owns
everything else (deduplication, storage, early stop, time keeping), so strategies stay
a few lines each and are testable with a context that replays recorded numbers.
"""

from __future__ import annotations

import importlib
import random
import time
from dataclasses import dataclass, field
from typing import Protocol

from transfertune.ir.recipe import Recipe


@dataclass(frozen=True)
class Budget:
    """How much one nest may cost: measured variants and/or wall-clock seconds."""

    variants: int = 8
    seconds: float | None = None


@dataclass(frozen=True)
class Candidate:
    """A measured recipe: speedup over the untouched program in the same run (0 when
    the variant failed)."""

    recipe: Recipe
    speedup: float
    status: str = "ok"


class SearchContext(Protocol):
    rng: random.Random
    seeds: list[Recipe]
    """Best recipes known for similar nests, best first."""

    def sample(self, count: int) -> list[Recipe]: ...
    def mutate(self, recipe: Recipe) -> Recipe | None: ...
    def evaluate(self, recipes: list[Recipe]) -> list[Candidate]: ...
    @property
    def results(self) -> list[Candidate]: ...


class Strategy(Protocol):
    def tune(self, context: SearchContext, budget: Budget) -> None: ...


@dataclass
class Clock:
    """Tracks a budget while a strategy runs."""

    budget: Budget
    start: float = field(default_factory=time.monotonic)

    def left(self, used: int) -> int:
        """Variants still allowed (0 once the time budget is spent)."""
        if self.budget.seconds is not None and time.monotonic() - self.start > self.budget.seconds:
            return 0
        return max(0, self.budget.variants - used)


STRATEGIES = {"random": "transfertune.tune.random_search:RandomSearch",
              "evolutionary": "transfertune.tune.evolutionary:EvolutionarySearch"}


def get_strategy(name: str | Strategy, **options: object) -> Strategy:
    """A strategy instance by registry name (or the instance itself)."""
    if not isinstance(name, str):
        return name
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}")
    module, cls = STRATEGIES[name].split(":")
    return getattr(importlib.import_module(module), cls)(**options)
