"""``transfertune experiment name=polybench_loo`` (PolyBench leave-one-out) or ``name=unseen``
(the corpus beyond PolyBench, recipes from the PolyBench seed only)."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig


def main(cfg: DictConfig) -> int:
    if cfg.name == "polybench_loo":
        from transfertune.porting.experiment import run
    elif cfg.name == "unseen":
        from transfertune.porting.unseen import run
    else:
        raise ValueError(f"unknown experiment {cfg.name!r}; known: polybench_loo, unseen")

    summary = run(cfg)
    print((Path(str(cfg.output_dir)) / "results.md").read_text())
    print(json.dumps(summary, indent=2))
    return 0
