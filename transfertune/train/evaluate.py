"""Judge embeddings by the job they serve: recipe choice by nearest neighbour.

Folds leave whole kernels out. For every held-out nest and target, a method names its
nearest training nest(s); the held-out nest takes the neighbour's best recipe, and we
report the speedup that recipe measured on the held-out nest as a fraction of the nest's
own best measured speedup (the oracle). Methods: the GNN embedding, random neighbours,
k-NN on hand-made loop features, and k-NN on docc's LoopInfo.

Two recipe spaces: ``probes`` takes the neighbour's best *probe* recipe (probes were
measured on every nest, so every outcome is already in the database), ``best`` its best
recipe of all, which is what transfer does; those outcomes are mostly not in the
database yet. ``measure=true`` times every nest's picks together with its best stored
recipes in one run, and judges every method on that run (`measure_together`): stored
outcomes come from different runs, and their best is the luckiest of many.
"""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from transfertune.db import Storage
from transfertune.embed.featurize import NODE_TYPES, STRIDE_SLOTS
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe
from transfertune.ir.target import local_target
from transfertune.measure.variants import Settings
from transfertune.porting.lending import kernel_shares
from transfertune.suites import computation_of, family_of, get_kernel, suite_or_none
from transfertune.suites.augmented import base_of
from transfertune.train.dataset import NestSample, kernel_folds
from transfertune.train.train import embed, fit, known_responses, predict, response_gaps
from transfertune.tune.executor import make_executor
from transfertune.tune.strategy import get_strategy
from transfertune.tune.tuner import TuneOptions, Tuner

METHODS = ("gnn", "random", "handmade_knn", "loopinfo_knn")
LOOKUPS = ("embedding", "responses")
"""How the GNN names a neighbour: nearest by embedding distance, or the training nest
whose responses are nearest the held-out nest's predicted ones (measured and not kept:
README, "With most of PolyBench's variants at LARGE")."""


def handmade_features(sample: NestSample) -> list[float]:
    """Depth, loop counts, triangular loops, memlet stride mix, op counts."""
    x, attr = sample.graph.x.numpy(), sample.graph.edge_attr.numpy()
    kinds = x[:, : len(NODE_TYPES)].sum(axis=0)
    loops = x[(x[:, NODE_TYPES.index("for")] + x[:, NODE_TYPES.index("map")]) > 0]
    numbers = loops[:, -9:] if len(loops) else np.zeros((1, 9))
    memlets = attr[attr[:, 2] > 0]
    strides = memlets[:, STRIDE_SLOTS].reshape(len(memlets), -1, 4).sum(axis=(0, 1)) if len(memlets) else np.zeros(4)
    strides = strides / max(1.0, strides.sum())
    return [numbers[:, 0].max() * 6 + 1, len(loops), kinds[NODE_TYPES.index("map")],
            numbers[:, 4].sum(), *strides, kinds[NODE_TYPES.index("tasklet")], kinds[NODE_TYPES.index("access_node")],
            kinds[NODE_TYPES.index("library_node")], kinds[NODE_TYPES.index("if_else")]]


def loopinfo_features(sample: NestSample) -> list[float]:
    """docc's own LoopInfo of the nest (depth, loop/map counts, perfect nesting and
    parallelism), computed when the dataset was built."""
    return list(sample.loopinfo)


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
    neighbour_position: int
    """That nest's position in its kernel."""
    size: str
    """The dataset size the held-out nest was measured at (of `target`)."""


def neighbours(method: str, train: list[NestSample], test: list[NestSample], cfg: DictConfig,
               rng: random.Random) -> list[list[int]]:
    k = min(int(cfg.neighbours), len(train))
    if method == "random":
        return [rng.sample(range(len(train)), k) for _ in test]
    if method == "gnn":
        lookup = str(cfg.get("lookup", "embedding"))
        if lookup not in LOOKUPS:
            raise ValueError(f"unknown lookup {lookup!r}; known: {', '.join(LOOKUPS)}")
        model, _ = fit(cfg, train)
        if lookup == "responses":
            a, b = known_responses(model, train), predict(model, test)[1]
        else:
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
    twins = {(s.program, s.position): s for s in data if s.program.endswith(TWIN_REWRITE)}
    out = []
    for fold, (train, test) in enumerate(split(setting, data, int(cfg.folds), int(cfg.seed))):
        if not test or not train:
            continue
        for method in METHODS:
            for sample, idx in zip(test, neighbours(method, train, test, cfg, rng), strict=True):
                for target in cfg.data.sizes:
                    picked = [train[i].lent_recipe(target, str(cfg.recipes)) for i in idx]
                    out.append(Choice(fold, method, sample, target, [r for r in picked if r is not None],
                                      base_of(train[idx[0]].program), train[idx[0]].position,
                                      str(cfg.data.sizes[target])))
        for sample, index in zip(test, response_neighbours(train, test), strict=True):
            twin = twins.get((sample.program + TWIN_REWRITE, sample.position))
            lenders = [(TWIN, twin, sample.program)] if twin else []
            if index is not None:
                lenders.append((RESPONSES, train[index], base_of(train[index].program)))
            for reference, lender, kernel in lenders:
                for target in cfg.data.sizes:
                    lent = lender.lent_recipe(target, str(cfg.recipes))
                    out.append(Choice(fold, reference, sample, target, [lent] if lent else [], kernel,
                                      lender.position, str(cfg.data.sizes[target])))
    return out


def response_neighbours(train: list[NestSample], test: list[NestSample]) -> list[int | None]:
    """Per test nest, the training nest nearest in *measured* responses: the RMS difference
    of their log speedups over the responses measured for both, the distance the
    default objective's alignment term asks embedding distances to equal (None where no
    training nest shares a measured response with it)."""
    if not train or not test:
        return [None] * len(test)
    gap, common = response_gaps(torch.stack([s.y for s in test]), torch.stack([s.mask for s in test]),
                                torch.stack([s.y for s in train]), torch.stack([s.mask for s in train]))
    gap = gap.masked_fill(common == 0, float("inf"))
    return [int(row.argmin()) if torch.isfinite(row.min()) else None for row in gap]


TWIN = "twin"
TWIN_REWRITE = "@rename"
"""A reference, not a method: the held-out nest borrows from its own renamed copy (the
same loops, locals renamed, `transfertune.suites.augmented`), held out with it. What a
perfect embedding could lend under the measurements' noise: the ceiling the methods are
judged against."""

RESPONSES = "responses"
"""A reference, not a method: the held-out nest borrows from the training nest whose
*measured* responses are nearest its own (`response_neighbours`). That is the embedding
the default objective aims at, reproduced exactly, which no method can have (it reads
the held-out nest's measurements). Its fraction of the oracle says what "responds alike"
lends; its share of nearest kernels of the same family says how far "responds alike"
and "computes alike" agree on these measurements, which bounds what the default
objective can show in the sanity table."""


REFERENCES = 3
"""How many of a held-out nest's best stored recipes are timed beside the picks, so that
its oracle comes from the same run as what is compared with it."""


def measure_together(storage: Storage, choices: list[Choice], sizes: dict[str, str], repetitions: int,
                     progress: Path | None = None) -> list[Choice]:
    """Time, per held-out nest and target, every recipe any method picked for it and its
    `REFERENCES` best stored recipes in one run against its untouched program (recorded
    in `storage` like any tuning measurement); return the choices judged on that run.

    Why one run: a nest's stored best is the highest of many noisy runs (a winner's
    curse), and a pick timed in another run differs from it by run-to-run noise; a
    renamed copy of a PolyBench nest lent its best probe to the nest and reached only
    0.86-0.89 of the stored oracle that way. Ratios timed together cancel both.

    Each finished nest's table is written to `progress` (JSON) as it is measured, and
    read back on the next call, so an interrupted evaluation resumes."""
    wanted: dict[tuple[str, str, int], set[str]] = {}
    held: dict[tuple[str, int], NestSample] = {}
    for c in choices:
        if suite_or_none(c.sample.program):  # user and client programs cannot be rebuilt from their name
            held[(c.sample.program, c.sample.position)] = c.sample
            wanted.setdefault((c.target, c.sample.program, c.sample.position), set()).update(c.recipes)
    for (target, program, position), texts in wanted.items():
        stored = held[(program, position)].speedups.get(target) or {}
        texts.update(sorted(stored, key=stored.__getitem__, reverse=True)[:REFERENCES])
    done = json.loads(progress.read_text()) if progress and progress.is_file() else {}
    tables: dict[tuple[str, str, int], dict[str, float]] = {}
    for key, texts in wanted.items():
        table = done.get(_progress_key(key))
        if table is not None and texts <= set(table):
            tables[key] = table
    settings = Settings(repetitions=repetitions)
    for target in sizes:
        todo = sorted(k for k in wanted if k[0] == target and k not in tables)
        if not todo:
            continue
        executor = make_executor("local", None, target)
        tuner = Tuner(storage, executor, target, get_strategy("random"), TuneOptions(size=sizes[target], settings=settings))
        try:
            for key in tqdm(todo, desc=f"measure {target}", unit="nest"):
                _, program, position = key
                kernel = get_kernel(program)
                nest = loop_nests(program, build_program(kernel).sdfg())[position]
                recipes = [Recipe.from_json(json.loads(t)) for t in sorted(wanted[key])]
                tables[key] = {c.recipe.canonical(): c.speedup for c in tuner.measure_nest(kernel, nest, recipes, settings)}
                if progress:
                    done[_progress_key(key)] = tables[key]
                    progress.parent.mkdir(parents=True, exist_ok=True)
                    progress.write_text(json.dumps(done, indent=1) + "\n")
        finally:
            executor.shutdown()
    judged = []
    for c in choices:
        table = tables.get((c.target, c.sample.program, c.sample.position))
        judged.append(c if table is None else replace(c, sample=replace(c.sample, speedups={c.target: table})))
    return judged


def _progress_key(key: tuple[str, str, int]) -> str:
    """(target, program, nest position) as a key of the progress file, the target by this
    machine's target key: a table timed on another machine kind is not this machine's run,
    and an evaluation resumed there measures that nest again."""
    target, program, position = key
    return "|".join((local_target(target).key, program, str(position)))


def summarise(choices: list[Choice]) -> dict[str, Any]:
    """Per method: the mean fraction of the oracle over folds and its spread, the share of
    picked recipes whose outcome on the held-out nest is known (coverage), the share of
    held-out kernels whose nearest kernel shares their family; for the GNN also its lead
    over each other method, fold by fold (the folds hold the same nests for every method,
    so how hard a fold's kernels are cancels out of the lead and its spread). The `TWIN`
    and `RESPONSES` references are reported beside them (the twin over the held-out nests
    that have one)."""
    per_fold: dict[str, dict[int, float]] = {}
    result: dict[str, Any] = {}
    for method in (*METHODS, TWIN, RESPONSES):
        values: dict[int, list[float]] = {}
        picked = known = 0
        for c in (c for c in choices if c.method == method):
            reached = [f for f in (c.sample.fraction_reached(r, c.target) for r in c.recipes) if f is not None]
            picked, known = picked + len(c.recipes), known + len(reached)
            if reached:
                values.setdefault(c.fold, []).append(statistics.mean(reached))
        per_fold[method] = {fold: statistics.mean(v) for fold, v in values.items()}
        if method in (TWIN, RESPONSES) and not values:
            continue
        result[method] = {**_spread(list(per_fold[method].values())), "folds": len(per_fold[method]),
                          "coverage": known / picked if picked else 0.0,
                          **family_agreement(sanity(choices, method))}
    gnn = per_fold["gnn"]
    result["gnn"]["lead"] = {m: _spread([gnn[f] - per_fold[m][f] for f in gnn if f in per_fold[m]])
                             for m in METHODS if m != "gnn"}
    return result


def _spread(values: list[float]) -> dict[str, float | None]:
    return {"mean": statistics.mean(values) if values else None,
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def evaluate_settings(cfg: DictConfig, settings: list[str] | None = None
                      ) -> tuple[list[NestSample], dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The samples of the research store (`research_store`), each setting's table of
    methods (`summarise`; default: all of `SETTINGS`), and the sanity table of the corpus
    setting (empty when it is not among them).

    With ``measure=true`` every held-out nest's picks (of all settings) and its best
    stored recipes are timed together (`measure_together`) and judged on that run;
    otherwise on the stored outcomes, and picks never run on their nest are left out.
    The timings are recorded in ``db`` when one is given, else in ``measurements.db`` in
    the output directory: never in the seed's cached store, which must hold the shipped
    measurements alone for the next run to train on the same data."""
    from transfertune.train.train import research_store, samples

    storage = research_store(cfg)
    data = samples(cfg, storage)
    chosen = {setting: choose(cfg, data, setting) for setting in settings or list(SETTINGS)}
    if cfg.measure:
        out = Path(str(cfg.output_dir))
        out.mkdir(parents=True, exist_ok=True)
        # The shipped seed's cached store stays the seed alone: timings go to `db` or beside the results.
        record = storage if cfg.db else Storage(f"sqlite:///{out.resolve() / 'measurements.db'}")
        flat = [c for picks in chosen.values() for c in picks]
        judged = iter(measure_together(record, flat, dict(cfg.data.sizes), int(cfg.repetitions),
                                       out / "measured.json"))
        chosen = {setting: [next(judged) for _ in picks] for setting, picks in chosen.items()}
    result = {setting: summarise(picks) for setting, picks in chosen.items()}
    return data, result, sanity(chosen["corpus"]) if "corpus" in chosen else []


def sanity(choices: list[Choice], method: str = "gnn") -> list[dict[str, Any]]:
    """Per held-out kernel: the kernel `method` found nearest to its nests, each nest's
    vote weighted by its share of the kernel's work (so an initialising loop does not
    outvote the loop where the time goes), and whether it shares the computation's
    family (`family_of`) and, finer, the computation itself (`computation_of`): a check a
    reader can make at a glance. The row also names the nest of that kernel that drew
    the most vote and whether *it* computes the held-out kernel's family: covariance's
    mean nest is a reduction even though covariance is a Gram product."""
    votes: dict[str, dict[tuple[str, int], float]] = {}
    for c in choices:
        if c.method == method and c.target == choices[0].target:
            weight = kernel_shares(c.sample.program, c.size)[c.sample.position]
            picks = votes.setdefault(c.sample.program, {})
            key = (c.neighbour, c.neighbour_position)
            picks[key] = picks.get(key, 0.0) + weight
    rows = []
    for kernel, picks in sorted(votes.items()):
        per_kernel: dict[str, float] = {}
        for (name, _), weight in picks.items():
            per_kernel[name] = per_kernel.get(name, 0.0) + weight
        neighbour = max(sorted(per_kernel), key=per_kernel.__getitem__)
        nest = max(sorted(p for n, p in picks if n == neighbour), key=lambda p: picks[(neighbour, p)])
        rows.append({"kernel": kernel, "computation": computation_of(kernel), "family": family_of(kernel),
                     "neighbour": neighbour, "neighbour_computation": computation_of(neighbour),
                     "neighbour_family": family_of(neighbour),
                     "same_family": family_of(kernel) == family_of(neighbour),
                     "same_computation": computation_of(kernel) == computation_of(neighbour),
                     "neighbour_nest": nest, "neighbour_nest_computation": computation_of(neighbour, nest),
                     "same_nest_family": family_of(kernel) == family_of(neighbour, nest)})
    return rows


def family_agreement(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Of a method's sanity rows: the share of held-out kernels whose nearest kernel shares
    their family (``same_family``), and whose nearest kernel's voted nest does
    (``same_nest_family``)."""
    keys = ("same_family", "same_nest_family")
    return {k: sum(r[k] for r in rows) / len(rows) if rows else 0.0 for k in keys}
