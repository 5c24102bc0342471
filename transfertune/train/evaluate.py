"""Judge embeddings by the job they serve: recipe choice by nearest neighbour.

Folds leave whole kernels out. For every held-out nest and target, a method names its
nearest training nest(s); the held-out nest takes the neighbour's best *probe* recipe
(probes were measured on every nest, so the outcome is a measured number, not a
prediction), and we report that speedup as a fraction of the nest's own best measured
speedup (the oracle). Methods: the GNN embedding, random neighbours, k-NN on hand-made
loop features, and k-NN on docc's LoopInfo.
"""

from __future__ import annotations

import random
import statistics
from typing import Any

import numpy as np
from omegaconf import DictConfig
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from transfertune.embed.featurize import EDGE_DIM, NODE_TYPES
from transfertune.ir.target import local_target
from transfertune.train.dataset import NestSample
from transfertune.train.train import embed, fit
from transfertune.tune.probes import probes_for

METHODS = ("gnn", "random", "handmade_knn", "loopinfo_knn")


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


def fraction_reached(test: NestSample, neighbour: NestSample, target: str) -> float | None:
    """Measured speedup of the neighbour's best probe on `test`, over `test`'s oracle."""
    table = test.speedups.get(target) or {}
    if not table:
        return None
    probes = {r.canonical() for r in probes_for(local_target(target)).values()}
    theirs = {k: v for k, v in (neighbour.speedups.get(target) or {}).items() if k in probes}
    if not theirs:
        return None
    choice = max(theirs, key=theirs.get)
    reached = table.get(choice, 1.0)
    return min(1.0, max(reached, 0.0) / max(table.values()))


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


def evaluate(cfg: DictConfig, data: list[NestSample]) -> dict[str, Any]:
    """Mean fraction of the oracle per method, with its spread across folds."""
    kernels = sorted({s.program for s in data})
    random.Random(int(cfg.seed)).shuffle(kernels)
    folds = [kernels[i :: int(cfg.folds)] for i in range(int(cfg.folds))]
    per_method: dict[str, list[float]] = {m: [] for m in METHODS}
    rng = random.Random(int(cfg.seed))
    for held in folds:
        test = [s for s in data if s.program in held]
        train = [s for s in data if s.program not in held]
        if not test or not train:
            continue
        for method in METHODS:
            chosen = neighbours(method, train, test, cfg, rng)
            scores = []
            for sample, idx in zip(test, chosen, strict=True):
                for target in cfg.data.sizes:
                    values = [f for f in (fraction_reached(sample, train[i], target) for i in idx) if f is not None]
                    if values:
                        scores.append(statistics.mean(values))
            if scores:
                per_method[method].append(statistics.mean(scores))
    return {m: {"mean": statistics.mean(v) if v else None, "std": statistics.stdev(v) if len(v) > 1 else 0.0,
                "folds": len(v)} for m, v in per_method.items()}
