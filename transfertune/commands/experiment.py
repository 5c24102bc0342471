"""``transfertune experiment name=polybench_loo``."""

from __future__ import annotations

import json
from pathlib import Path

from omegaconf import DictConfig


def main(cfg: DictConfig) -> int:
    if cfg.name != "polybench_loo":
        raise ValueError(f"unknown experiment {cfg.name!r}; known: polybench_loo")
    from transfertune.transfer.experiment import run

    summary = run(cfg)
    print((Path(str(cfg.output_dir)) / "results.md").read_text())
    print(json.dumps(summary, indent=2))
    return 0
