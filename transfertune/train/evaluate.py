"""Judge embeddings by the job they serve: recipe choice by nearest neighbour.

Folds leave whole kernels out. For every held-out nest and target, a method names its
nearest training nest(s); the held-out nest takes the neighbour's best recipe, and we
report the speedup that recipe measured on the held-out nest as a fraction of the nest's
own best measured speedup (the oracle). Methods: the GNN embedding, random neighbours,
k-NN on hand-made loop features, and k-NN on docc's LoopInfo.

Two recipe spaces: ``probes`` takes the neighbour's best *probe* recipe (probes were
measured on every nest, so every outcome is already in the database), ``best`` its best
recipe of all, which is what transfer does; those outcomes are mostly not in the
database yet, and ``measure=true`` measures them (and stores them, so the next
evaluation and the next training run have them).
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from typing import Any

import numpy as np
from omegaconf import DictConfig
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from transfertune.db import Storage
from transfertune.embed.featurize import EDGE_DIM, NODE_TYPES
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe
from transfertune.ir.target import local_target
from transfertune.measure.variants import Settings
from transfertune.porting.lending import kernel_shares
from transfertune.suites import family_of, get_kernel, suite_or_none
from transfertune.suites.augmented import base_of
from transfertune.train.dataset import NestSample, kernel_folds
from transfertune.train.train import embed, fit
from transfertune.tune.executor import make_executor
from transfertune.tune.probes import probes_for
from transfertune.tune.strategy import get_strategy
from transfertune.tune.tuner import TuneOptions, Tuner

METHODS = ("gnn", "random", "handmade_knn", "loopinfo_knn")
RECIPE_SPACES = ("probes", "best")


def handmade_features(sample: NestSample) -> list[float]:
    """Depth, loop counts, triangular loops, memlet stride mix, op counts."""
    x, attr = sample.graph.x.numpy(), sample.graph.edge_attr.numpy()
    kinds = x[:, : len(NODE_TYPES)].sum(axis=0)
    loops = x[(x[:, NODE_TYPES.index("for")] + x[:, NODE_TYPES.index("map")]) > 0]
    numbers = loops[:, -9:] if len(loops) else np.zeros((1, 9))
    memlets = attr[attr[:, 2] > 0]
    strides = memlets[:, 4:EDGE_DIM - 1].reshape(len(memlets), -1, 4).sum(axis=(0, 1)) if len(memlets) else np.zeros(4)
    strides = strides / max(1.0, strides.sum())
    return [numbers[:, 0].max() * 6 + 1, len(loops), kinds[NODE_TYPES.index("map")],
            numbers[:, 4].sum(), *strides, kinds[NODE_TYPES.index("tasklet")], kinds[NODE_TYPES.index("access_node")],
            kinds[NODE_TYPES.index("library_node")], kinds[NODE_TYPES.index("if_else")]]


def loopinfo_features(sample: NestSample) -> list[float]:
    """docc's own LoopInfo of the nest (depth, loop/map counts, perfect nesting and
    parallelism), computed when the dataset was built."""
    return list(sample.loopinfo)


def neighbour_recipe(neighbour: NestSample, target: str, space: str) -> str | None:
    """The recipe a nest borrows from `neighbour`: its best measured probe
    (``space="probes"``) or its best measured recipe of all (``space="best"``)."""
    table = neighbour.speedups.get(target) or {}
    if space == "probes":
        probes = {r.canonical() for r in probes_for(local_target(target)).values()}
        table = {k: v for k, v in table.items() if k in probes}
    elif space != "best":
        raise ValueError(f"unknown recipe space {space!r}; known: {', '.join(RECIPE_SPACES)}")
    return max(table, key=table.get) if table else None


def fraction_reached(test: NestSample, recipe: str | None, target: str) -> float | None:
    """Measured speedup of `recipe` on `test` over `test`'s oracle (its best measured
    speedup); None when that pair was never measured."""
    table = test.speedups.get(target) or {}
    if not table or recipe is None or recipe not in table:
        return None
    return min(1.0, max(table[recipe], 0.0) / max(table.values()))


@dataclass
class Choice:
    """What one method picked for one held-out nest on one target in one fold."""

    fold: int
    method: str
    sample: NestSample
    target: str
    recipes: list[str]
    neighbour: str
    """The kernel of the nearest training nest (a variant's base kernel)."""
    size: str
    """The dataset size the held-out nest was measured at (of `target`)."""


def neighbours(method: str, train: list[NestSample], test: list[NestSample], cfg: DictConfig,
               rng: random.Random) -> list[list[int]]:
    k = min(int(cfg.neighbours), len(train))
    if method == "random":
        return [rng.sample(range(len(train)), k) for _ in test]
    if method == "gnn":
        model, _ = fit(cfg, train)
        a, b = embed(model, train), embed(model, test)
    else:
        feature = handmade_features if method == "handmade_knn" else loopinfo_features
        scaler = StandardScaler().fit([feature(s) for s in train])
        a, b = scaler.transform([feature(s) for s in train]), scaler.transform([feature(s) for s in test])
    return NearestNeighbors(n_neighbors=k).fit(a).kneighbors(b, return_distance=False).tolist()


SETTINGS = ("polybench", "corpus", "polybench_to_corpus")
"""Where the embedding is judged: leave PolyBench kernels out of an embedding trained on
PolyBench; leave corpus kernels out of one trained on everything else (PolyBench and the
rest of the corpus, what the shipped index holds); and trained on PolyBench alone, tested
on the corpus (code of families it may never have seen)."""


def _suite(program: str) -> str | None:
    """The suite of the kernel `program` is or rewrites."""
    return suite_or_none(base_of(program))


def split(setting: str, data: list[NestSample], folds: int, seed: int
          ) -> list[tuple[list[NestSample], list[NestSample]]]:
    """(train, test) per fold of `setting`. Folds hold whole kernels out, together with
    their augmented variants; the test side holds the original kernels only. For
    ``polybench_to_corpus`` every fold trains on all of PolyBench and tests one share of
    the corpus kernels (the spread across shares is the spread reported)."""
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; known: {', '.join(SETTINGS)}")
    polybench = [s for s in data if _suite(s.program) == "polybench"]
    corpus = [s for s in data if _suite(s.program) == "corpus"]
    held_pool = polybench if setting == "polybench" else corpus
    kernels = sorted({s.program for s in held_pool if s.program == base_of(s.program)})
    out = []
    for held in kernel_folds(kernels, folds, seed):
        test = [s for s in held_pool if s.program in held]
        if setting == "polybench_to_corpus":
            train = polybench
        else:
            known = polybench if setting == "polybench" else polybench + corpus
            train = [s for s in known if base_of(s.program) not in held]
        out.append((train, test))
    return out


def choose(cfg: DictConfig, data: list[NestSample], setting: str = "polybench") -> list[Choice]:
    """Every method picks recipes for every held-out nest of every fold of `setting`."""
    rng = random.Random(int(cfg.seed))
    out = []
    for fold, (train, test) in enumerate(split(setting, data, int(cfg.folds), int(cfg.seed))):
        if not test or not train:
            continue
        for method in METHODS:
            for sample, idx in zip(test, neighbours(method, train, test, cfg, rng), strict=True):
                for target in cfg.data.sizes:
                    picked = [neighbour_recipe(train[i], target, str(cfg.recipes)) for i in idx]
                    out.append(Choice(fold, method, sample, target, [r for r in picked if r is not None],
                                      base_of(train[idx[0]].program), str(cfg.data.sizes[target])))
    return out


def measure_missing(storage: Storage, choices: list[Choice], sizes: dict[str, str], repetitions: int) -> int:
    """Measure every picked recipe not yet measured on its held-out nest (each nest in one
    run against its untouched program, recorded in `storage` like any tuning
    measurement) and add the outcomes to the samples. Returns how many were measured."""
    missing: dict[tuple[str, str, int], set[str]] = {}
    held: dict[tuple[str, int], NestSample] = {}
    for c in choices:
        held[(c.sample.program, c.sample.position)] = c.sample
        if suite_or_none(c.sample.program):  # user and client programs cannot be rebuilt from their name
            todo = {r for r in c.recipes if r not in (c.sample.speedups.get(c.target) or {})}
            if todo:
                missing.setdefault((c.target, c.sample.program, c.sample.position), set()).update(todo)
    settings = Settings(repetitions=repetitions)
    measured = 0
    for target in sizes:
        groups = {k: v for k, v in missing.items() if k[0] == target}
        if not groups:
            continue
        executor = make_executor("local", None, target)
        tuner = Tuner(storage, executor, target, get_strategy("random"),
                      TuneOptions(size=sizes[target], settings=settings))
        try:
            for (_, program, position), texts in tqdm(sorted(groups.items()), desc=f"measure {target}", unit="nest"):
                kernel = get_kernel(program)
                nest = loop_nests(program, build_program(kernel).sdfg())[position]
                recipes = [Recipe.from_json(json.loads(t)) for t in sorted(texts)]
                table = held[(program, position)].speedups.setdefault(target, {})
                for candidate in tuner.measure_nest(kernel, nest, recipes, settings):
                    table[candidate.recipe.canonical()] = candidate.speedup
                    measured += 1
        finally:
            executor.shutdown()
    return measured


def evaluate(cfg: DictConfig, data: list[NestSample], storage: Storage | None = None,
             setting: str = "polybench") -> tuple[dict[str, Any], list[Choice]]:
    """Mean fraction of the oracle per method, with its spread across folds, the share
    of picked recipes whose outcome on the held-out nest is measured (coverage) and the
    share of held-out kernels whose nearest kernel shares their family; and the choices.

    With ``recipes=best`` most picked recipes were never run on the held-out nest; with
    ``measure=true`` they are measured now (and stored), otherwise they are left out.
    """
    choices = choose(cfg, data, setting)
    if cfg.measure:
        if storage is None:
            raise ValueError("measure=true needs the database the samples came from")
        measure_missing(storage, choices, dict(cfg.data.sizes), int(cfg.repetitions))
    result: dict[str, Any] = {}
    for method in METHODS:
        per_fold: dict[int, list[float]] = {}
        picked = known = 0
        for c in (c for c in choices if c.method == method):
            values = [f for f in (fraction_reached(c.sample, r, c.target) for r in c.recipes) if f is not None]
            picked, known = picked + len(c.recipes), known + len(values)
            if values:
                per_fold.setdefault(c.fold, []).append(statistics.mean(values))
        means = [statistics.mean(v) for v in per_fold.values()]
        result[method] = {"mean": statistics.mean(means) if means else None,
                          "std": statistics.stdev(means) if len(means) > 1 else 0.0,
                          "folds": len(means), "coverage": known / picked if picked else 0.0,
                          "same_family": family_agreement(choices, method)}
    return result, choices


def evaluate_settings(cfg: DictConfig, settings: list[str] | None = None
                      ) -> tuple[list[NestSample], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The samples of the research store (`research_store`), each setting's table of
    methods (`evaluate`; default: all of `SETTINGS`), and the sanity table of the corpus
    setting (empty when it is not among them)."""
    from transfertune.train.train import research_store, samples

    storage = research_store(cfg)
    data = samples(cfg, storage)
    result, table = {}, []
    for setting in settings or list(SETTINGS):
        result[setting], choices = evaluate(cfg, data, storage, setting)
        if setting == "corpus":
            table = sanity(choices)
    return data, result, table


def sanity(choices: list[Choice], method: str = "gnn") -> list[dict[str, Any]]:
    """Per held-out kernel: the kernel `method` found nearest to its nests, each nest's
    vote weighted by its share of the kernel's work (so an initialising loop does not
    outvote the loop where the time goes), and whether it shares the computation's
    family: a check a reader can make at a glance."""
    votes: dict[str, dict[str, float]] = {}
    for c in choices:
        if c.method == method and c.target == choices[0].target:
            weight = kernel_shares(c.sample.program, c.size)[c.sample.position]
            picks = votes.setdefault(c.sample.program, {})
            picks[c.neighbour] = picks.get(c.neighbour, 0.0) + weight
    rows = []
    for kernel, picks in sorted(votes.items()):
        neighbour = max(sorted(picks), key=picks.get)
        rows.append({"kernel": kernel, "family": family_of(kernel), "neighbour": neighbour,
                     "neighbour_family": family_of(neighbour), "same_family": family_of(kernel) == family_of(neighbour)})
    return rows


def family_agreement(choices: list[Choice], method: str) -> float:
    """The share of held-out kernels whose nearest kernel by `method` shares their family."""
    rows = sanity(choices, method)
    return sum(r["same_family"] for r in rows) / len(rows) if rows else 0.0
