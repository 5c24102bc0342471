"""The recipe format: an ordered list of loop transformations, portable between nests.

Format (version 1), as JSON::

    {"format": "transfertune-recipe", "version": 1,
     "steps": [{"op": "tile", "loop": [], "size": 32},
               {"op": "parallelize", "loop": []},
               {"op": "interchange", "loop": [0, 1]}]}

A step's ``loop`` is a *path* in the nest's loop tree: ``[]`` is the nest's outermost
loop, ``[1]`` its second child loop (program order), ``[1, 0]`` that loop's first child.
Paths never mention docc element ids, so a recipe written for one nest can be tried on
any other; paths are resolved against the tree *as it is when the step runs* (tiling
``[]`` makes the new tile loop ``[]`` and the original loop ``[0]``).

Operations and parameters:

=============  ====================================================================
tile           ``size`` (int >= 2): strip-mine the loop, the tile loop goes outside.
interchange    ``inner`` (path, default ``loop + [0]``): swap two nested loops.
distribute     split the loop around each statement group of its body.
parallelize    run the loop on all cores with OpenMP (the loop must be a parallel map).
vectorize      mark the loop for SIMD code (docc VectorizeTransform).
unroll         fully unroll a constant-trip loop (e.g. the inner loop of a tile).
local_storage  ``container`` (name), ``direction`` ("in" | "out"): buffer the data the
               loop touches in a local (stack) buffer.
blas           replace the matrix (and matrix-vector) products and symmetric rank updates
               computed under the loop by calls into an optimised BLAS (distributing the
               loop first where needed; see `transfertune.ir.blas`). It ends its nest's
               recipe: later steps are skipped.
offload        ``block`` (int): run the map on the GPU, its iterations on the grid's X
               dimension, ``block`` threads a block (docc CUDATransform).
offload_nested ``block`` (int): map a map nested in an offloaded one to the next grid
               dimension (docc CUDAParallelizeNestedMap).
shared_storage ``container`` (name): stage what the loop reads of the container in GPU
               shared memory (docc InLocalStorage, NV_Shared).
=============  ====================================================================

Which operations a target builds is its backend's (`transfertune.backends`): CPU targets
the first eight, ``gpu-cuda`` the loop-order ones and the three GPU ones; the others are
skipped there with the reason.

A program recipe maps nest indices to recipes: ``{"format":
"transfertune-program-recipe", "version": 1, "nests": {"0": <recipe>, ...}}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "transfertune-recipe"
PROGRAM_FORMAT = "transfertune-program-recipe"
VERSION = 1

_PARAMS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "tile": {"size": int},
    "interchange": {"inner": list},
    "distribute": {},
    "parallelize": {},
    "vectorize": {},
    "unroll": {},
    "local_storage": {"container": str, "direction": str},
    "blas": {},
    "offload": {"block": int},
    "offload_nested": {"block": int},
    "shared_storage": {"container": str},
}
"""Each operation's parameters besides ``loop``, with their types; the table both
validates recipes and documents the format."""
_OPTIONAL = {("interchange", "inner")}
OPERATIONS = tuple(_PARAMS)


class RecipeError(ValueError):
    """A recipe that does not follow the format; the message names the problem."""


Path_ = tuple[int, ...]


@dataclass(frozen=True)
class Step:
    """One transformation applied to the loop at `loop` (a loop-tree path)."""

    op: str
    loop: Path_ = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.op, self.loop, tuple(sorted(self.params.items()))))

    def to_json(self) -> dict[str, Any]:
        return {"op": self.op, "loop": list(self.loop), **{k: _plain(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: Any, where: str = "step") -> Step:
        if not isinstance(data, dict):
            raise RecipeError(f"{where}: expected an object, got {type(data).__name__}")
        op = data.get("op")
        if op not in _PARAMS:
            raise RecipeError(f"{where}: unknown op {op!r}; known: {', '.join(OPERATIONS)}")
        loop = _path(data.get("loop", []), f"{where}.loop")
        spec = _PARAMS[op]
        extra = set(data) - {"op", "loop"} - set(spec)
        if extra:
            raise RecipeError(f"{where}: {op} takes no parameter(s) {sorted(extra)}")
        params: dict[str, Any] = {}
        for name, kind in spec.items():
            if name not in data:
                if (op, name) in _OPTIONAL:
                    continue
                raise RecipeError(f"{where}: {op} needs parameter {name!r}")
            value = data[name]
            if kind is list:
                value = _path(value, f"{where}.{name}")
            elif not isinstance(value, kind) or isinstance(value, bool):
                raise RecipeError(f"{where}: {name} must be {kind.__name__}, got {value!r}")
            params[name] = value
        if op == "tile" and params["size"] < 2:
            raise RecipeError(f"{where}: tile size must be >= 2, got {params['size']}")
        if op in ("offload", "offload_nested") and not 1 <= params["block"] <= 1024:
            raise RecipeError(f"{where}: block must be 1..1024 threads, got {params['block']}")
        if op == "local_storage" and params["direction"] not in ("in", "out"):
            raise RecipeError(f"{where}: direction must be 'in' or 'out'")
        return cls(op, loop, params)


@dataclass(frozen=True)
class Recipe:
    """An ordered list of steps for one loop nest."""

    steps: tuple[Step, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": VERSION, "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, data: Any) -> Recipe:
        if not isinstance(data, dict):
            raise RecipeError("recipe: expected a JSON object")
        _check_header(data, FORMAT)
        steps = data.get("steps")
        if not isinstance(steps, list):
            raise RecipeError("recipe: 'steps' must be a list")
        return cls(tuple(Step.from_json(s, f"steps[{i}]") for i, s in enumerate(steps)))

    def canonical(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @property
    def recipe_hash(self) -> str:
        return hashlib.sha256(self.canonical().encode()).hexdigest()


@dataclass(frozen=True)
class ProgramRecipe:
    """Recipes for some of a program's nests, by nest index; other nests stay untouched."""

    nests: Mapping[int, Recipe] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"format": PROGRAM_FORMAT, "version": VERSION,
                "nests": {str(i): r.to_json() for i, r in sorted(self.nests.items())}}

    @classmethod
    def from_json(cls, data: Any) -> ProgramRecipe:
        if not isinstance(data, dict):
            raise RecipeError("program recipe: expected a JSON object")
        _check_header(data, PROGRAM_FORMAT)
        nests = data.get("nests")
        if not isinstance(nests, dict):
            raise RecipeError("program recipe: 'nests' must be an object")
        out = {}
        for key, value in nests.items():
            if not (isinstance(key, str) and key.isdigit()):
                raise RecipeError(f"program recipe: nest key {key!r} is not an index")
            out[int(key)] = Recipe.from_json(value)
        return cls(out)

    def canonical(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))


def load_recipe(source: str | Path | Mapping[str, Any]) -> Recipe | ProgramRecipe:
    """A recipe or program recipe from a file path or parsed JSON, by its format field."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise RecipeError(f"recipe file not found: {path}")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise RecipeError(f"{path}: invalid JSON ({err})") from None
    kind = data.get("format") if isinstance(data, dict) else None
    if kind == PROGRAM_FORMAT:
        return ProgramRecipe.from_json(data)
    return Recipe.from_json(data)


def _check_header(data: dict[str, Any], expected: str) -> None:
    if data.get("format") != expected:
        raise RecipeError(f"format must be {expected!r}, got {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise RecipeError(f"unsupported version {data.get('version')!r}; this build reads {VERSION}")


def _path(value: Any, where: str) -> Path_:
    if not isinstance(value, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value):
        raise RecipeError(f"{where}: a loop path is a list of non-negative integers, got {value!r}")
    return tuple(value)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
