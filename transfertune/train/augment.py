"""Views of a loop nest that compute the same thing: the positives of the contrastive term.

A programmer could have written the same nest with its loops in another legal order or
with a loop's statements split into separate loops. docc applies exactly those
(`LoopInterchange`, `LoopDistribute`, each only where it proves them legal); each view is
the transformed nest's canonical JSON, featurised like any nest. Training asks a nest and
its views to embed close together and apart from other nests, so that an unseen kernel
written in another loop order still lands near the nests it behaves like.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from transfertune.ir.recipe import Recipe, Step
from transfertune.isolated import run_isolated

MOVES: tuple[Recipe, ...] = (
    *(Recipe((Step("interchange", path),)) for path in ((), (0,), (1,), (0, 0), (0, 1), (1, 0))),
    *(Recipe((Step("distribute", path),)) for path in ((0,), (1,))),
    Recipe((Step("interchange", ()), Step("interchange", (0,)))),
)
"""Single legal reorderings and splits below the nest's root (a split at the root would
make two nests of one)."""


def views(sdfg_json: str) -> list[str]:
    """Canonical JSON of every distinct view docc can make of the nest (none on failure)."""
    outcome = run_isolated(_views, sdfg_json, timeout=120)
    return outcome.value if outcome.ok else []


def _views(sdfg_json: str) -> list[str]:
    from docc.sdfg import StructuredSDFG

    from transfertune.ir.loopnest import loop_nests
    from transfertune.ir.transform import apply_recipe

    original = loop_nests("view", StructuredSDFG.parse(sdfg_json))[0].canonical_json
    out: list[str] = []
    for move in MOVES:
        sdfg = StructuredSDFG.parse(sdfg_json)
        sdfg, results = apply_recipe(sdfg, move)
        if not all(r.applied for r in results):
            continue
        nests = loop_nests("view", sdfg)
        if len(nests) == 1 and nests[0].canonical_json not in (original, *out):
            out.append(nests[0].canonical_json)
    return out


def cached_views(nests: dict[str, str], cache_dir: str | Path) -> dict[str, list[str]]:
    """`views` of every nest (hash -> docc JSON), cached on disk per nest hash as JSON (no
    pickle), written atomically."""
    folder = Path(cache_dir) / "views"
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for nest_hash, sdfg_json in nests.items():
        key = hashlib.sha256(f"{nest_hash}-{[m.canonical() for m in MOVES]}".encode()).hexdigest()[:24]
        path = folder / f"{key}.json"
        try:
            out[nest_hash] = json.loads(path.read_text())
            continue
        except (OSError, ValueError):
            pass
        out[nest_hash] = views(sdfg_json)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as tmp:
            json.dump(out[nest_hash], tmp)
        os.replace(tmp.name, path)
    return out
