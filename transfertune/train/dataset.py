"""Training data from the database: one sample per program nest, its graph and how it
responded to transformations on each target.

The response vector is, per target, the log speedup under each probe recipe (the same
recipes on every nest, see `transfertune.tune.probes`) and the log of the best speedup
measured for the nest at all; entries never measured are masked. Samples carry the
kernel name so splits can keep whole kernels on one side.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from docc.sdfg import AnalysisManager, StructuredSDFG
from torch_geometric.data import Data

from transfertune.db import Storage
from transfertune.embed.featurize import FEATURE_VERSION, featurize
from transfertune.ir.target import local_target
from transfertune.isolated import run_isolated
from transfertune.suites import group_of
from transfertune.tune.probes import probe_names, probes_for

_log = logging.getLogger(__name__)


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
    views: list[Data] = field(default_factory=list)
    """Graphs of semantically equal rewrites of the nest (`transfertune.train.augment`):
    not cached with the sample, filled in when the contrastive term is on."""

    def lent_recipe(self, target: str, space: str = "best") -> str | None:
        """The recipe this nest lends a neighbour on `target`: its best measured probe
        (``space="probes"``: probes were measured on every nest, so the outcome on the
        borrower is known) or its best measured recipe of all (``space="best"``, what
        transfer lends)."""
        table = self.speedups.get(target) or {}
        if space == "probes":
            probes = probe_texts(target)
            table = {k: v for k, v in table.items() if k in probes}
        elif space != "best":
            raise ValueError(f"unknown recipe space {space!r}; known: {', '.join(RECIPE_SPACES)}")
        return max(table, key=table.get) if table else None

    def fraction_reached(self, recipe: str | None, target: str) -> float | None:
        """The share of this nest's oracle that borrowing `recipe` hands its user: the
        recipe's measured speedup over the best measured on the nest, where the untouched
        code (1x) stands in for anything slower, as in transfer, which never returns
        code slower than the untouched and keeps it when a lent recipe fails or does not
        apply. None when that pair was never measured."""
        table = self.speedups.get(target) or {}
        if not table or recipe is None or recipe not in table:
            return None
        return min(1.0, max(table[recipe], 1.0) / max(*table.values(), 1.0))


RECIPE_SPACES = ("probes", "best")


@functools.cache
def probe_texts(target: str) -> frozenset[str]:
    """Canonical JSON of the probes on targets called `target` on this machine (asked
    once per nest and neighbour: worth keeping)."""
    return frozenset(r.canonical() for r in probes_for(local_target(target)).values())


def transfer_matrix(data: list[NestSample], targets: list[str]) -> np.ndarray:
    """``T[a, b]``: the fraction of nest a's oracle that nest b's best probe recipe
    reaches on a, averaged over `targets` (NaN where never measured; the diagonal is NaN).

    Every probe is measured on every nest, so the whole matrix is measurements: it says
    which neighbour a nest should borrow from, which is what the embedding is for."""
    sums = np.zeros((len(data), len(data)))
    counts = np.zeros((len(data), len(data)))
    for target in targets:
        lent = [s.lent_recipe(target, "probes") for s in data]
        for a, sample in enumerate(data):
            for b, recipe in enumerate(lent):
                value = sample.fraction_reached(recipe, target) if a != b else None
                if value is not None:
                    sums[a, b] += value
                    counts[a, b] += 1
    with np.errstate(invalid="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def kernel_folds(kernels: list[str], count: int, seed: int) -> list[list[str]]:
    """Kernels shuffled by `seed` and dealt into `count` folds (never a kernel in two)."""
    shuffled = sorted(kernels)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::count] for i in range(min(count, len(shuffled)))]


def response_layout(sizes: dict[str, str]) -> list[tuple[str, str]]:
    """(target, response) per entry of y, in order: each target's probes (a GPU's are
    its own), then its best."""
    return [(t, r) for t in sizes for r in (*probe_names(t), "best")]


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
            table = {r.canonical(): v for r, v in per_target[target].get((program, nest_hash), {}).items()}
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
        samples.append(NestSample(program, group_of(program), position, nest_hash, featurize(canonical),
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
    """`build_samples`, cached on disk under a key of the database state (its measurements
    and the nests it lists), the sizes, the feature version and the probe set (a changed
    featuriser or probe list never reads a stale cache).

    The cache is an ``.npz`` of plain arrays read with ``allow_pickle=False`` (see
    `save_samples`): loading it runs no code. A cache that cannot be read is rebuilt."""
    rows = storage.measurements()
    state = json.dumps([len(rows), rows[-1].run if rows else "", storage.nest_keys(), sizes, FEATURE_VERSION,
                        response_layout(sizes)], sort_keys=True)
    path = Path(cache_dir) / f"samples-{hashlib.sha256(state.encode()).hexdigest()[:16]}.npz"
    if path.exists():
        try:
            return load_samples(path)
        except Exception as err:  # noqa: BLE001 - any unreadable cache is rebuilt
            _log.warning("rebuilding unreadable sample cache %s: %s", path, err)
    samples = build_samples(storage, sizes)
    save_samples(samples, path)
    return samples


CACHE_FORMAT = 1
_GRAPH_KEYS = ("x", "edge_index", "edge_attr")
"""The graph tensors `featurize` makes; the cache stores exactly these."""


def save_samples(samples: list[NestSample], path: str | Path) -> None:
    """Write `samples` to `path` as an ``.npz`` that `load_samples` reads without pickle.

    Tensors are concatenated across samples (nodes along dim 0 of ``x``, edges along dim 1
    of ``edge_index`` and dim 0 of ``edge_attr``) with per-sample counts; ``y`` and ``mask``
    are stacked. The plain fields are a JSON document stored as a uint8 array. Written to a
    temporary file in the same directory and moved into place, so a reader never sees a
    partial file."""
    path = Path(path)
    for s in samples:
        extra = set(s.graph.keys()) - set(_GRAPH_KEYS)
        if extra:
            raise ValueError(f"cannot cache graph attributes {sorted(extra)} (only {list(_GRAPH_KEYS)})")
    meta = {"format": CACHE_FORMAT, "count": len(samples),
            "nodes": [int(s.graph.x.shape[0]) for s in samples],
            "edges": [int(s.graph.edge_index.shape[1]) for s in samples],
            "samples": [{"program": s.program, "group": s.group, "position": int(s.position), "nest_hash": s.nest_hash,
                         "speedups": {t: {r: float(v) for r, v in table.items()} for t, table in s.speedups.items()},
                         "best": dict(s.best), "loopinfo": [float(v) for v in s.loopinfo]} for s in samples]}
    arrays: dict[str, np.ndarray] = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    if samples:
        arrays["x"] = np.concatenate([s.graph.x.numpy() for s in samples], axis=0)
        arrays["edge_index"] = np.concatenate([s.graph.edge_index.numpy() for s in samples], axis=1)
        arrays["edge_attr"] = np.concatenate([s.graph.edge_attr.numpy() for s in samples], axis=0)
        arrays["y"] = np.stack([s.y.numpy() for s in samples])
        arrays["mask"] = np.stack([s.mask.numpy() for s in samples])
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def load_samples(path: str | Path) -> list[NestSample]:
    """The samples `save_samples` wrote to `path`; ValueError (or an I/O error) for a file
    that is not such a cache. Never unpickles."""
    data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path} is not an .npz archive")
    with data:
        meta = json.loads(bytes(_array(data, "meta", "u", ndim=1)).decode())
        if not isinstance(meta, dict) or meta.get("format") != CACHE_FORMAT:
            raise ValueError(f"{path}: unknown sample cache format")
        count, nodes, edges, fields = meta["count"], meta["nodes"], meta["edges"], meta["samples"]
        if not (len(nodes) == len(edges) == len(fields) == count):
            raise ValueError(f"{path}: inconsistent sample counts")
        if count == 0:
            return []
        x, edge_index = _array(data, "x", "f", ndim=2), _array(data, "edge_index", "i", ndim=2)
        edge_attr = _array(data, "edge_attr", "f", ndim=2)
        y, mask = _array(data, "y", "f", ndim=2), _array(data, "mask", "f", ndim=2)
    if (x.shape[0] != sum(nodes) or edge_index.shape != (2, sum(edges)) or edge_attr.shape[0] != sum(edges)
            or y.shape[0] != count or mask.shape != y.shape or min(nodes + edges) < 0):
        raise ValueError(f"{path}: array shapes do not match the sample counts")
    samples = []
    node_start = edge_start = 0
    for i, (n, e, f) in enumerate(zip(nodes, edges, fields, strict=True)):
        graph = Data(x=torch.from_numpy(x[node_start:node_start + n].copy()),
                     edge_index=torch.from_numpy(edge_index[:, edge_start:edge_start + e].copy()),
                     edge_attr=torch.from_numpy(edge_attr[edge_start:edge_start + e].copy()))
        if e and (int(graph.edge_index.min()) < 0 or int(graph.edge_index.max()) >= n):
            raise ValueError(f"{path}: edge index out of range in sample {i}")
        samples.append(NestSample(str(f["program"]), str(f["group"]), int(f["position"]), str(f["nest_hash"]), graph,
                                  torch.from_numpy(y[i].copy()), torch.from_numpy(mask[i].copy()),
                                  _speedups(f["speedups"]), {str(k): str(v) for k, v in f["best"].items()},
                                  [float(v) for v in f["loopinfo"]]))
        node_start, edge_start = node_start + n, edge_start + e
    return samples


def _array(data: Any, key: str, kind: str, ndim: int) -> np.ndarray:
    """Array `key` of the archive, checked to be numeric of `kind` ('f' float, 'i' signed,
    'u' unsigned integer) with `ndim` dimensions (an object array fails to load already:
    allow_pickle=False)."""
    array = data[key]
    if array.dtype.kind != kind or array.ndim != ndim:
        raise ValueError(f"cache array {key!r} has dtype {array.dtype} and {array.ndim} dimensions")
    return array


def _speedups(value: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {str(t): {str(r): float(v) for r, v in table.items()} for t, table in value.items()}
