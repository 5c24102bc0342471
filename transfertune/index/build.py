"""Build, persist and extend the per-target recipe index from the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from transfertune.db import Storage
from transfertune.index.embedder import Embedder
from transfertune.index.recipe_index import RecipeIndex


@dataclass(frozen=True)
class IndexedNest:
    """What an index id stands for."""

    nest_id: int
    program: str
    position: int
    nest_hash: str


def index_path(root: str | Path, tag: str) -> Path:
    return Path(root) / f"{tag}.index.npz"


def measured_nests(storage: Storage, target: str, size: str, exclude: frozenset[str] = frozenset()
                   ) -> list[IndexedNest]:
    """Nests with at least one successful recipe on `target` (by name) at `size`."""
    ids = storage.nest_ids()
    tables = storage.nest_speedups(target_name=target, size=size)
    positions = {(p, h): pos for p, h, pos, _, _ in storage.nests()}
    out = [IndexedNest(ids[h], p, positions.get((p, h), 0), h) for (p, h), table in sorted(tables.items())
           if p not in exclude and any(v > 0 for v in table.values())]
    seen, unique = set(), []
    for nest in out:  # one vector per nest id (a nest recurring in programs is stored once)
        if nest.nest_id not in seen:
            seen.add(nest.nest_id)
            unique.append(nest)
    return unique


def build_index(storage: Storage, embedder: Embedder, target: str, size: str,
                exclude: frozenset[str] = frozenset()) -> tuple[RecipeIndex, list[IndexedNest]]:
    """A fresh index over the measured nests (minus the `exclude`d programs)."""
    nests = measured_nests(storage, target, size, exclude)
    canonical = storage.canonical_nests()
    vectors = embedder.embed([canonical[n.nest_hash] for n in nests])
    manifest = {"checkpoint": embedder.checkpoint_hash, "target": target, "size": size,
                "store": storage.identity, "store_state": storage.state(), "excluded": sorted(exclude),
                "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "nests": [n.__dict__ for n in nests]}
    index = RecipeIndex.for_size(embedder.dim, len(nests), manifest)
    if nests:
        index.add(vectors, np.array([n.nest_id for n in nests]))
    return index, nests


def add_nests(index: RecipeIndex, embedder: Embedder, nests: list[IndexedNest], canonical: dict[str, str]) -> None:
    """Incremental add of newly measured nests (ids already present are skipped)."""
    known = {n["nest_id"] for n in index.manifest.get("nests", [])}
    fresh = [n for n in nests if n.nest_id not in known]
    if not fresh:
        return
    index.add(embedder.embed([canonical[n.nest_hash] for n in fresh]), np.array([n.nest_id for n in fresh]))
    index.manifest.setdefault("nests", []).extend(n.__dict__ for n in fresh)
