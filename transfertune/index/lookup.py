"""Nearest-recipe queries: which measured nests are closest to these, on which target."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transfertune.backends import TARGETS
from transfertune.db import Storage
from transfertune.index.build import IndexedNest, add_nests, build_index, index_path, measured_nests
from transfertune.index.embedder import Embedder
from transfertune.index.recipe_index import RecipeIndex
from transfertune.ir.loopnest import LoopNest
from transfertune.ir.target import Target, backend_of


@dataclass(frozen=True)
class ResolvedTarget:
    """The target whose measurements answer a query, and why that one."""

    name: str
    key: str | None
    note: str = ""


def resolve_target(storage: Storage, target: Target) -> ResolvedTarget:
    """The requested target if it has measured recipes, else the most similar one that has
    by fingerprint and options (and a note saying so), of the same backend (a GPU's
    recipes never answer for a CPU, nor the other way round). A target with only untouched
    or whole-program runs (a user's transfers that found nothing) cannot answer a query."""
    known = storage.targets(with_recipes=True)
    if any(key == target.key for key, _, _ in known):
        return ResolvedTarget(target.name, target.key)
    if not known:
        raise ValueError("the database has no measured recipes: import data/seed or run `transfertune tune`")
    backend = backend_of(target).name
    known = [k for k in known if k[1] in TARGETS and backend_of(k[1]).name == backend]
    if not known:
        raise ValueError(f"the database has no measured recipes for a {backend} target: run `transfertune tune "
                         f"target={target.name}` on such a machine, or import a seed that has them")
    mine = target.to_json()

    def similarity(spec: dict[str, Any]) -> float:
        fp, other = mine["fingerprint"], spec.get("fingerprint", {})
        score = 4.0 * (spec.get("openmp") == mine["openmp"]) + 2.0 * (spec.get("name") == mine["name"])
        score += len(set(fp["isa"]) & set(other.get("isa", []))) / max(1, len(fp["isa"]))
        score += (other.get("machine") == fp["machine"]) + (other.get("cpu_model") == fp["cpu_model"])
        score += 1.0 / (1 + abs(other.get("cores", 0) - fp["cores"]))
        return score

    key, name, _ = max(known, key=lambda k: similarity(k[2]))
    return ResolvedTarget(name, key, f"target {target.key} has no measured recipes: answering from {key}, the most "
                                     "similar known target by fingerprint and options")


@dataclass
class RecipeLookup:
    """An embedder, the store and one index per (target, size), kept up to date."""

    storage: Storage
    embedder: Embedder
    cache: Path = field(default_factory=lambda: Path(os.environ.get("TRANSFERTUNE_CACHE")
                                                     or Path.home() / ".cache" / "transfertune") / "index")
    exclude: frozenset[str] = frozenset()
    _indexes: dict[tuple[str, str], tuple[RecipeIndex, dict[int, IndexedNest]]] = field(default_factory=dict)
    _states: dict[tuple[str, str], str] = field(default_factory=dict)
    _recipes: dict[tuple[str, str], dict[tuple[str, str], list[tuple[dict, float]]]] = field(default_factory=dict)
    """(target, size) -> (program, nest hash) -> recipes best first: read with the index,
    so a query reads only the store's state (a snapshot, renewed when that changes)."""

    def index(self, target: str, size: str) -> tuple[RecipeIndex, dict[int, IndexedNest]]:
        """The index for (target, size): loaded from the cache if built from this store (by
        identity) and checkpoint, topped up with nests measured since, else built. Index ids
        are the store's own nest ids, so two stores never share a cached index. Rebuilt from
        the cache whenever the store gained measurements since (a long-running service sees
        what the farm measured)."""
        state = self.storage.state()
        if (target, size) in self._indexes and self._states.get((target, size)) == state:
            return self._indexes[(target, size)]
        store = hashlib.sha256(self.storage.identity.encode()).hexdigest()[:12]
        excluded = hashlib.sha256("\0".join(sorted(self.exclude)).encode()).hexdigest()[:12]
        tag = f"{target}-{size}-{self.embedder.checkpoint_hash}-{store}" + (f"-x{excluded}" if self.exclude else "")
        path = index_path(self.cache, tag)
        index = RecipeIndex.load(path) if path.exists() else None
        if index is not None and not _same_store(index, self.storage):
            index = None
        nests = measured_nests(self.storage, target, size, self.exclude)
        if index is None:
            index, nests = build_index(self.storage, self.embedder, target, size, self.exclude)
            index.save(path)
        elif index.manifest.get("store_state") != state:
            add_nests(index, self.embedder, nests, self.storage.canonical_nests())
            index.manifest["store_state"] = state
            index.save(path)
        by_id = {n.nest_id: n for n in nests}
        self._indexes[(target, size)] = (index, by_id)
        self._states[(target, size)] = state
        # Only recipes that beat the untouched program on their own nest are lent: one that
        # lost there would spend a variant of the borrower's small budget on a likely loss.
        self._recipes[(target, size)] = {
            key: sorted(((r.to_json(), v) for r, v in table.items() if v > 1.0), key=lambda kv: -kv[1])
            for key, table in self.storage.nest_speedups(target_name=target, size=size).items()}
        return index, by_id

    def query(self, nests: list[LoopNest], target: ResolvedTarget, size: str, k: int = 3,
              recipes: int = 3) -> list[dict[str, Any]]:
        """Per nest: its k nearest measured nests with distance and ranked recipes."""
        index, by_id = self.index(target.name, size)
        ranked = self._recipes[(target.name, size)]
        if not len(index):
            return [{"nest": n.index, "hash": n.nest_hash, "neighbours": []} for n in nests]
        distances, ids = index.search(self.embedder.embed([n.canonical_json for n in nests]), k)
        out = []
        for nest, row_d, row_i in zip(nests, distances, ids, strict=True):
            neighbours = []
            for d, i in zip(row_d, row_i, strict=True):
                if i < 0:
                    continue
                hit = by_id[int(i)]
                neighbours.append({"kernel": hit.program, "position": hit.position, "hash": hit.nest_hash,
                                   "distance": float(d),
                                   "recipes": [{"recipe": r, "speedup": s}
                                               for r, s in ranked.get((hit.program, hit.nest_hash), [])[:recipes]]})
            out.append({"nest": nest.index, "hash": nest.nest_hash, "neighbours": neighbours})
        return out


def _same_store(index: RecipeIndex, storage: Storage) -> bool:
    """Whether `index` was built from this store: same identity, and every id it holds is
    still that nest's id there (a store deleted and made anew at the same URL is not)."""
    if index.manifest.get("store") != storage.identity:
        return False
    ids = storage.nest_ids()
    return all(ids.get(n["nest_hash"]) == n["nest_id"] for n in index.manifest.get("nests", []))
