"""Turn loop nests into vectors with a trained checkpoint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch_geometric.loader import DataLoader

from transfertune.embed.encoder import NestEncoder
from transfertune.embed.featurize import FEATURE_VERSION, featurize


@dataclass
class Embedder:
    """A trained encoder and the identity of the checkpoint it came from."""

    encoder: NestEncoder
    checkpoint_hash: str

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Embedder:
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"checkpoint not found: {path}")
        data = torch.load(path, weights_only=False)
        if data.get("feature_version") != FEATURE_VERSION:
            raise ValueError(f"{path} was trained on features v{data.get('feature_version')}, this build makes "
                             f"v{FEATURE_VERSION}: retrain (transfertune train)")
        options = {k: v for k, v in data["model"].items() if k != "_target_"}
        encoder = NestEncoder(**options)
        encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in data["state_dict"].items()
                                 if k.startswith("encoder.")})
        encoder.eval()
        return cls(encoder, hashlib.sha256(path.read_bytes()).hexdigest()[:16])

    @property
    def dim(self) -> int:
        return self.encoder.out_channels

    @torch.no_grad()
    def embed(self, canonical_jsons: list[str]) -> np.ndarray:
        """One float32 row per nest."""
        if not canonical_jsons:
            return np.zeros((0, self.dim), dtype=np.float32)
        batch = next(iter(DataLoader([featurize(c) for c in canonical_jsons], batch_size=len(canonical_jsons))))
        z = self.encoder(batch.x, batch.edge_index, batch.edge_attr, batch.batch)
        return z.numpy().astype(np.float32)
