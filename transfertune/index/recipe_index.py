"""A thin FAISS wrapper: vectors keyed by database nest ids, exact or approximate.

`IndexIDMap2` around the real index keeps our own ids (never -1, which FAISS uses for
"no result"). Small collections use exact search; from `APPROXIMATE_FROM` vectors on an
HNSW graph, whose recall is measured against exact search in the benchmark.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

APPROXIMATE_FROM = 50_000


@dataclass
class RecipeIndex:
    """Vectors -> nest ids; `manifest` records what the index was built from."""

    dim: int
    kind: str = "exact"
    manifest: dict[str, Any] = field(default_factory=dict)
    index: Any = None

    def __post_init__(self) -> None:
        if self.index is None:
            base = faiss.IndexFlatL2(self.dim) if self.kind == "exact" else faiss.IndexHNSWFlat(self.dim, 32)
            if self.kind == "hnsw":
                # Measured (benchmarks/index_benchmark.py): construction 40 gave recall@10
                # 0.46 at 100k clustered vectors, 200 makes the search effort the knob.
                base.hnsw.efConstruction = 200
            self.index = faiss.IndexIDMap2(base)

    @classmethod
    def for_size(cls, dim: int, count: int, manifest: dict[str, Any] | None = None) -> RecipeIndex:
        """Exact below `APPROXIMATE_FROM` vectors, HNSW above, searching harder the larger
        it is: efSearch 512 keeps recall@10 at 0.975 on 100k clustered vectors (0.93 at 256)
        and 1024 keeps 0.955 on a million (0.78 at 256), both at a few milliseconds."""
        if count < APPROXIMATE_FROM:
            return cls(dim, "exact", dict(manifest or {}))
        index = cls(dim, "hnsw", dict(manifest or {}))
        index.ef_search = 512 if count < 500_000 else 1024
        return index

    @property
    def ef_search(self) -> int | None:
        """HNSW only: candidates visited per query (None for exact search)."""
        return self._hnsw().efSearch if self.kind == "hnsw" else None

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        # Recall against latency, a query-time choice: the benchmark sweeps it per size.
        if self.kind != "hnsw":
            raise ValueError(f"ef_search applies to HNSW indexes, not to {self.kind!r} ones")
        self._hnsw().efSearch = int(value)

    def _hnsw(self) -> Any:
        """The HNSW graph under the id map (its search settings live there)."""
        return faiss.downcast_index(self.index.index).hnsw

    def __len__(self) -> int:
        return self.index.ntotal

    def add(self, vectors: np.ndarray, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if (ids < 0).any():
            raise ValueError("ids must be non-negative (-1 means 'no result' to FAISS)")
        self.index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(squared L2 distances, ids); id -1 where fewer than k vectors exist."""
        return self.index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)

    def save(self, path: str | Path) -> None:
        """One file (index bytes + manifest in an .npz), written under a temporary name in
        the same directory and renamed: a reader, even in another process, sees the old file
        or the new one whole, and a write that fails leaves the old file and no temporary."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"dim": self.dim, "kind": self.kind, "count": len(self), **self.manifest}, sort_keys=True)
        tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name, suffix=".tmp", delete=False)
        try:
            with tmp:
                np.savez(tmp, index=faiss.serialize_index(self.index), meta=np.frombuffer(meta.encode(), dtype=np.uint8))
            os.replace(tmp.name, path)
        except BaseException:
            Path(tmp.name).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | Path) -> RecipeIndex:
        path = Path(path)
        if not path.exists():
            raise ValueError(f"no index at {path}: build one with `transfertune index`")
        try:
            with np.load(path, allow_pickle=False) as saved:
                meta = json.loads(saved["meta"].tobytes().decode())
                index = faiss.deserialize_index(saved["index"])
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise ValueError(f"{path} is not a recipe index: {err}") from None
        manifest = {k: v for k, v in meta.items() if k not in ("dim", "kind", "count")}
        return cls(meta["dim"], meta["kind"], manifest, index)

    def describe(self) -> dict[str, Any]:
        """The manifest with size and kind, as the index command prints it."""
        return {"dim": self.dim, "kind": self.kind, "count": len(self), **self.manifest}
