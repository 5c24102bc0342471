"""Training data from the database: one sample per program nest, its graph and how it
responded to transformations on each target.

The response vector is, per target, the log speedup under each probe recipe (the same
recipes on every nest, see `transfertune.tune.probes`) and the log of the best speedup
measured for the nest at all; entries never measured are masked. Samples carry the
kernel name so splits can keep whole kernels on one side.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path

import torch
from docc.sdfg import AnalysisManager, StructuredSDFG
from torch_geometric.data import Data

from transfertune.db import Storage
from transfertune.embed.featurize import FEATURE_VERSION, featurize
from transfertune.ir.polybench import get_kernel
from transfertune.ir.target import local_target
from transfertune.isolated import run_isolated
from transfertune.tune.probes import PROBES, probes_for

RESPONSES = tuple(PROBES) + ("best",)


@dataclass
class NestSample:
    """One nest of one program with its measured responses."""

    program: str
    group: str
    position: int
    nest_hash: str
    graph: Data
    y: torch.Tensor
    mask: torch.Tensor
    speedups: dict[str, dict[str, float]] = field(default_factory=dict)
    """target name -> recipe canonical JSON -> best measured speedup (for evaluation)."""
    best: dict[str, str] = field(default_factory=dict)
    """target name -> canonical JSON of the best measured recipe."""
    loopinfo: list[float] = field(default_factory=list)
    """docc's LoopInfo of the nest's outermost loop (see `loop_info`)."""


def kernel_folds(kernels: list[str], count: int, seed: int) -> list[list[str]]:
    """Kernels shuffled by `seed` and dealt into `count` folds (never a kernel in two)."""
    shuffled = sorted(kernels)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::count] for i in range(min(count, len(shuffled)))]


def response_layout(sizes: dict[str, str]) -> list[tuple[str, str]]:
    """(target, response) per entry of y, in order."""
    return [(t, r) for t in sizes for r in RESPONSES]


def build_samples(storage: Storage, sizes: dict[str, str]) -> list[NestSample]:
    """Samples for every stored program nest; `sizes` maps target name -> dataset size."""
    layout = response_layout(sizes)
    # Failed recipes stay in (speedup 0): the evaluation must know they were tried.
    per_target = {t: storage.nest_speedups(target_name=t, size=size) for t, size in sizes.items()}
    samples = []
    for program, nest_hash, position, canonical, sdfg_json in storage.nests():
        y = torch.zeros(len(layout))
        mask = torch.zeros(len(layout))
        speedups, best = {}, {}
        for target in sizes:
            table = per_target[target].get((program, nest_hash), {})
            speedups[target] = table
            probes = {name: recipe.canonical() for name, recipe in probes_for(local_target(target)).items()}
            if table:
                best[target] = max(table, key=table.get)
            for i, (t, response) in enumerate(layout):
                if t != target:
                    continue
                value = max(table.values()) if response == "best" and table else table.get(probes.get(response, ""))
                if value:
                    y[i], mask[i] = math.log(value), 1.0
        if mask.sum() == 0:
            continue
        samples.append(NestSample(program, get_kernel(program).group, position, nest_hash, featurize(canonical),
                                  y, mask, speedups, best, loop_info(sdfg_json)))
    return samples


LOOPINFO_FIELDS = ("max_depth", "num_loops", "num_maps", "num_fors", "num_whiles", "is_perfectly_nested",
                   "is_perfectly_parallel", "is_elementwise", "has_side_effects")


def loop_info(sdfg_json: str) -> list[float]:
    """docc's LoopInfo of the nest's outermost loop, as numbers (computed in a child:
    docc may abort)."""
    outcome = run_isolated(_loop_info, sdfg_json, timeout=60)
    return outcome.value if outcome.ok else [0.0] * len(LOOPINFO_FIELDS)


def _loop_info(sdfg_json: str) -> list[float]:
    sdfg = StructuredSDFG.parse(sdfg_json)
    analysis = AnalysisManager(sdfg).loop_analysis()
    info = analysis.loop_info(analysis.outermost_loops()[0])
    return [float(getattr(info, name)) for name in LOOPINFO_FIELDS]


def cached_samples(storage: Storage, sizes: dict[str, str], cache_dir: str | Path) -> list[NestSample]:
    """`build_samples`, cached on disk under a key of the database state, the sizes, the
    feature version and the probe set (a changed featuriser or probe list never reads a
    stale cache)."""
    rows = storage.measurements()
    state = json.dumps([len(rows), rows[-1].run if rows else "", sizes, FEATURE_VERSION, RESPONSES], sort_keys=True)
    path = Path(cache_dir) / f"samples-{hashlib.sha256(state.encode()).hexdigest()[:16]}.pt"
    if path.exists():
        return torch.load(path, weights_only=False)
    samples = build_samples(storage, sizes)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(samples, path)
    return samples
