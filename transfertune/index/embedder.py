"""Turn loop nests into vectors with a trained checkpoint."""

from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch_geometric.loader import DataLoader

from transfertune.embed.encoder import EncoderEnsemble, NestEncoder
from transfertune.embed.featurize import FEATURE_VERSION, featurize


@dataclass
class Embedder:
    """A trained encoder and the identity of the checkpoint it came from."""

    encoder: NestEncoder | EncoderEnsemble
    checkpoint_hash: str

    @classmethod
    def from_checkpoint(cls, path: str | Path) -> Embedder:
        """The encoder of a checkpoint written by `transfertune train`; ValueError (one line,
        naming the file) for anything that is not a loadable checkpoint of this build.

        The file is read with ``weights_only=True``: only tensors and plain containers are
        unpickled, so a crafted file cannot run code."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"checkpoint not found: {path}")
        raw = path.read_bytes()
        try:
            data = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(f"{path} is not a safe checkpoint (only tensors and plain data are loaded): "
                             f"{_unpickler_reason(err)}") from None
        except Exception as err:  # noqa: BLE001 - zip/format errors, truncated files, ...
            raise ValueError(f"{path} is not a loadable checkpoint ({_describe(err)})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path} is not a checkpoint: it holds a {type(data).__name__}, not a dict")
        missing = [k for k in ("state_dict", "model", "feature_version") if k not in data]
        if missing:
            raise ValueError(f"{path} is not a checkpoint: missing {', '.join(missing)}")
        version = data["feature_version"]
        if type(version) is not int:
            raise ValueError(f"{path} is not a checkpoint: feature_version is a {type(version).__name__}, not an int")
        if version != FEATURE_VERSION:
            raise ValueError(f"{path} was trained on features v{version}, this build makes "
                             f"v{FEATURE_VERSION}: retrain (transfertune train)")
        if not isinstance(data["model"], dict) or not isinstance(data["state_dict"], dict):
            raise ValueError(f"{path} is not a checkpoint: 'model' and 'state_dict' must be dicts")
        options = {k: v for k, v in data["model"].items() if k not in ("_target_", "members")}
        members = data["model"].get("members", 1)
        if type(members) is not int or members < 1:
            raise ValueError(f"{path} is not a checkpoint: 'members' must be a positive int, not {members!r}")
        try:
            encoder: NestEncoder | EncoderEnsemble = (
                EncoderEnsemble([NestEncoder(**options) for _ in range(members)]) if members > 1
                else NestEncoder(**options))
            encoder.load_state_dict({k.removeprefix("encoder."): v for k, v in data["state_dict"].items()
                                     if isinstance(k, str) and k.startswith("encoder.")})
        except Exception as err:  # noqa: BLE001 - bad options, missing/unexpected keys, wrong shapes, ...
            raise ValueError(f"{path} does not fit the encoder ({_describe(err)})") from None
        encoder.eval()
        return cls(encoder, hashlib.sha256(raw).hexdigest()[:16])

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


def _describe(err: BaseException) -> str:
    """`TypeName: first line of the message` (just the type name for an empty message)."""
    text = _first_line(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _first_line(err: BaseException | str) -> str:
    """The first non-empty line of an error's message, shortened (torch's are long)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    text = lines[0] if lines else ""
    return text if len(text) <= 200 else text[:197] + "..."


def _unpickler_reason(err: BaseException) -> str:
    """What torch's weights-only unpickler objected to, without its boilerplate (which
    advises loading with weights_only=False: exactly what must not happen here)."""
    for line in str(err).splitlines():
        line = line.replace("WeightsUnpickler error:", "").strip()
        if line and not line.startswith(("Weights only load failed", "Please file an issue", "Check the documentation")):
            return _first_line(line)
    return "unsupported content"
