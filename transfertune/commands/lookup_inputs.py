"""What query and transfer read from the command line: a PolyBench kernel, a loop
function from a file with saved arguments, or an SDFG JSON file."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from transfertune.db import open_store
from transfertune.index.lookup import RecipeLookup
from transfertune.paths import ROOT


def load_function(spec: str) -> Any:
    """``FILE.py:NAME`` -> the function (its file must stay readable: docc reads source)."""
    path, _, name = spec.rpartition(":")
    if not path or not Path(path).is_file():
        raise ValueError(f"function={spec!r}: expected FILE.py:NAME with an existing file")
    module_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    if module_spec is None or module_spec.loader is None:
        raise ValueError(f"function={spec!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: any error in it is bad input, said in one line
        raise ValueError(f"function={spec!r}: importing {path} failed: {type(err).__name__}: {err}") from None
    if not callable(getattr(module, name, None)):
        raise ValueError(f"{path} defines no function {name!r}")
    return getattr(module, name)


def load_arguments(func: Any, npz: str | None, scalars: dict[str, Any]) -> list[Any]:
    """Arguments in signature order from an .npz of arrays and a dict of scalars."""
    import inspect

    arrays = {}
    if npz:
        if not Path(npz).is_file():
            raise ValueError(f"args={npz!r}: file not found")
        with np.load(npz, allow_pickle=False) as saved:
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
    """The store (``db=``, else `TRANSFERTUNE_DB`, else the user's default store, seeded on
    first use) and the embedder of ``checkpoint=``."""
    from transfertune.index.embedder import Embedder  # torch: only for commands that embed

    storage = open_store(cfg.db or None)
    checkpoint = Path(str(cfg.checkpoint))
    return RecipeLookup(storage, Embedder.from_checkpoint(checkpoint if checkpoint.is_absolute() else ROOT / checkpoint))
