"""``transfertune index``: build, top up or rebuild the recipe index of a target."""

from __future__ import annotations

import json

from omegaconf import DictConfig

from transfertune.commands.lookup_inputs import lookup_for


def main(cfg: DictConfig) -> int:
    lookup = lookup_for(cfg)
    size = str(cfg.data.sizes.get(str(cfg.target), "LARGE"))
    if cfg.rebuild:
        for path in lookup.cache.glob(f"{cfg.target}-{size}-{lookup.embedder.checkpoint_hash}-*"):
            path.unlink()
    index, nests = lookup.index(str(cfg.target), size)
    manifest = {k: v for k, v in index.manifest.items() if k != "nests"}
    print(json.dumps({"vectors": len(index), "kind": index.kind, "programs": sorted({n.program for n in
                                                                                      nests.values()}),
                      **manifest}, indent=2))
    return 0
