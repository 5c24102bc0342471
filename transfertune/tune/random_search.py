"""Random sampling: grow independent random recipes from the legal moves."""

from __future__ import annotations

from dataclasses import dataclass

from transfertune.tune.strategy import Budget, Clock, SearchContext


@dataclass(frozen=True)
class RandomSearch:
    """Options: ``batch`` candidates measured together (with the baseline, one run)."""

    batch: int = 4

    def tune(self, context: SearchContext, budget: Budget) -> None:
        clock = Clock(budget)
        while (left := clock.left(len(context.results))) > 0:
            batch = context.sample(min(self.batch, left))
            if not batch or not context.evaluate(batch):
                return
