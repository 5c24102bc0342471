"""Which recipes transfer tries on which nest: lend where the time goes.

A program's nests are not equal: correlation spends 99% of its statements in one nest,
and a recipe that makes it 23x faster helps nothing when tried only on the other two.
So the variants go to the nests that dominate the work (`transfertune.ir.work`), cheap
nests get none, and the dominant nest is also offered the recipes that won on the
neighbours' own dominant nests, whichever of this program's nests they were found for.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from transfertune.ir.blas import nests_with_products
from transfertune.ir.program import Program, build_program
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import Target, backend_of
from transfertune.ir.work import argument_values, nest_work, shares, suite_values
from transfertune.isolated import run_isolated
from transfertune.measure.variants import Workload
from transfertune.suites import get_kernel, suite_or_none

LIBRARY_CALL = Recipe((Step("blas", ()),))
"""The recipe offered to every nest that computes a matrix product."""
MIN_SHARE = 0.05
"""Nests below this fraction of the program's work get no variants (unless no nest reaches it)."""
DOMINANT = 0.5
"""A nest with this fraction of the work takes two variants per round."""


def work_shares(workload: Workload) -> list[float]:
    """Each nest's fraction of `workload`'s statements at the size it is timed at."""
    program = workload.program
    if "kernel" in workload.bench:
        values = suite_values(program, workload.bench["params"])
    else:
        import numpy as np

        with np.load(workload.bench["inputs"], allow_pickle=False) as saved:
            values = argument_values(program, {**{n: saved[n] for n in saved.files}, **workload.bench["scalars"]})
    return shares(nest_work(program, values))


def product_nests(program: Program, target: Target) -> frozenset[int]:
    """Nests of `program` that compute a matrix product, where `target` builds library
    calls (docc runs in a forked child; a failure there means none)."""
    if "blas" not in backend_of(target).ops(target):
        return frozenset()
    outcome = run_isolated(nests_with_products, program.sdfg_json, timeout=120)
    return frozenset(outcome.value) if outcome.ok else frozenset()


def eligible(work_shares: list[float]) -> list[bool]:
    """Which nests get variants: those with `MIN_SHARE` of the work (all, if none has)."""
    if not any(s >= MIN_SHARE for s in work_shares):
        return [True] * len(work_shares)
    return [s >= MIN_SHARE for s in work_shares]


def plan_candidates(answers: list[dict[str, Any]], work_shares: list[float], limit: int | None,
                    size: str, products: frozenset[int] = frozenset(),
                    ordered: dict[int, Recipe] | None = None) -> list[list[Recipe]]:
    """Per nest, the recipes to measure (at most `limit` in all), from the lookup's
    `answers` and each nest's share of the work. Two recipes come from the nest's own
    code rather than from similarity, so they come first, whatever the neighbours lent:
    the library call on nests in `products` (they compute a matrix product), then the
    nest's stride order from `ordered`."""
    ranked = [ranked_recipes(answer) for answer in answers]
    ordered = ordered or {}
    for index in range(len(ranked)):
        first = ([LIBRARY_CALL] if index in products else []) + ([ordered[index]] if index in ordered else [])
        ranked[index] = first + [r for r in ranked[index] if r not in first]
    if work_shares and max(work_shares) >= DOMINANT:
        top = work_shares.index(max(work_shares))
        for recipe in dominant_recipes(answers, size):
            if recipe not in ranked[top]:
                ranked[top].append(recipe)
    weights = [(2 if s >= DOMINANT else 1) if ok else 0 for s, ok in zip(work_shares, eligible(work_shares), strict=True)
               ] if work_shares else [1] * len(ranked)
    return share_variants(ranked, limit, weights)


def ranked_recipes(answer: dict[str, Any]) -> list[Recipe]:
    """A nest's candidate recipes: nearest neighbour first, each neighbour's best first."""
    out: list[Recipe] = []
    for neighbour in answer["neighbours"]:
        for entry in neighbour["recipes"]:
            recipe = Recipe.from_json(entry["recipe"])
            if recipe not in out:
                out.append(recipe)
    return out


def dominant_recipes(answers: list[dict[str, Any]], size: str) -> list[Recipe]:
    """Recipes of neighbours that are the dominant nest of their own program, nearest first."""
    found = [(n["distance"], Recipe.from_json(e["recipe"])) for answer in answers for n in answer["neighbours"]
             if dominant_nest(n["kernel"], size) == n["position"] for e in n["recipes"]]
    out: list[Recipe] = []
    for _, recipe in sorted(found, key=lambda pair: pair[0]):
        if recipe not in out:
            out.append(recipe)
    return out


@cache
def dominant_nest(kernel: str, size: str) -> int | None:
    """The nest index holding at least `DOMINANT` of a suite kernel's work at `size`
    (None for programs no suite holds, or without one dominant nest)."""
    if suite_or_none(kernel) is None:
        return None
    try:
        fractions = kernel_shares(kernel, size)
    except ValueError:
        return None
    best = max(range(len(fractions)), key=fractions.__getitem__)
    return best if fractions[best] >= DOMINANT else None


@cache
def kernel_shares(kernel: str, size: str) -> list[float]:
    """Each nest's share of a suite kernel's statement executions at dataset `size`
    (ValueError for a size the kernel does not define)."""
    found = get_kernel(kernel)
    params = found.params(size)
    program = build_program(found)
    return shares(nest_work(program, suite_values(program, params)))


def share_variants(ranked: list[list[Recipe]], limit: int | None, weights: list[int] | None = None
                   ) -> list[list[Recipe]]:
    """Cut the per-nest candidate lists to `limit` variants for the whole program, taking
    them round-robin (every nest's first choice before any nest's second), so a program
    with many nests still tries the most promising recipe on each; a nest takes
    `weights[i]` candidates per round (0: none)."""
    weights = weights or [1] * len(ranked)
    if limit is None:
        return [list(r) if w else [] for r, w in zip(ranked, weights, strict=True)]
    out: list[list[Recipe]] = [[] for _ in ranked]
    taken = 0
    while taken < limit and any(len(out[i]) < len(r) and weights[i] for i, r in enumerate(ranked)):
        for i, candidates in enumerate(ranked):
            for _ in range(weights[i]):
                if len(out[i]) < len(candidates) and taken < limit:
                    out[i].append(candidates[len(out[i])])
                    taken += 1
    return out
