"""What query and transfer read from the command line: a PolyBench kernel, a loop
function from a file with saved arguments, or an SDFG JSON file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from transfertune.db import Storage
from transfertune.index.embedder import Embedder
from transfertune.index.lookup import RecipeLookup
from transfertune.train.train import open_storage

ROOT = Path(__file__).resolve().parents[2]


def load_function(spec: str) -> Any:
    """``FILE.py:NAME`` -> the function (its file must stay readable: docc reads source)."""
    path, _, name = spec.rpartition(":")
    if not path or not Path(path).is_file():
        raise ValueError(f"function={spec!r}: expected FILE.py:NAME with an existing file")
    module_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, name):
        raise ValueError(f"{path} defines no {name!r}")
    return getattr(module, name)


def load_arguments(func: Any, npz: str | None, scalars: dict[str, Any]) -> list[Any]:
    """Arguments in signature order from an .npz of arrays and a dict of scalars."""
    import inspect

    arrays = {}
    if npz:
        if not Path(npz).is_file():
            raise ValueError(f"args={npz!r}: file not found")
        with np.load(npz) as saved:
            arrays = {n: saved[n].copy() for n in saved.files}
    out = []
    for name in inspect.signature(func).parameters:
        if name in arrays:
            out.append(arrays[name])
        elif name in scalars:
            out.append(scalars[name])
        else:
            raise ValueError(f"no value for argument {name!r}: put it in args= (arrays) or scalars=")
    return out


def lookup_for(cfg: DictConfig) -> RecipeLookup:
    storage = Storage(cfg.db) if cfg.db else open_storage(cfg)
    checkpoint = Path(str(cfg.checkpoint))
    return RecipeLookup(storage, Embedder.from_checkpoint(checkpoint if checkpoint.is_absolute() else ROOT / checkpoint))
