"""``transfertune farm``: tune what the service's clients asked about and the store knows least."""

from __future__ import annotations

import tempfile
from pathlib import Path

from omegaconf import DictConfig

from transfertune.db import open_store
from transfertune.measure.variants import Settings
from transfertune.serve.farm import farm
from transfertune.tune.executor import make_executor
from transfertune.tune.strategy import Budget, get_strategy
from transfertune.tune.tuner import TuneOptions, Tuner


def main(cfg: DictConfig) -> int:
    storage = open_store(cfg.db or None)
    executor = make_executor(str(cfg.executor), cfg.dask_address, str(cfg.target))
    options = TuneOptions(size=str(cfg.size), budget=Budget(variants=int(cfg.budget)),
                          settings=Settings(repetitions=int(cfg.repetitions), early_stop=1.5), final_repetitions=5,
                          replayable_only=True)  # the service lends only what docc's client replays
    tuner = Tuner(storage, executor, str(cfg.target), get_strategy("evolutionary"), options, progress=print)
    try:
        with tempfile.TemporaryDirectory(prefix="tt-farm-") as tmp:
            done = farm(storage, tuner, str(cfg.target), str(cfg.size), int(cfg.limit), int(cfg.extent), Path(tmp))
    finally:
        executor.shutdown()
    print(f"farm: tuned {len(done)} requested program(s) on {tuner.target.key}")
    return 0
