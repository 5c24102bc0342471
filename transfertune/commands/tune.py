"""``transfertune tune``: fill the database with tuned recipes for a suite."""

from __future__ import annotations

from omegaconf import DictConfig
from tqdm import tqdm

from transfertune.commands.common import kernels, polybench_c, settings
from transfertune.db import open_store
from transfertune.tune.executor import make_executor
from transfertune.tune.strategy import Budget, get_strategy
from transfertune.tune.tuner import TuneOptions, Tuner


def main(cfg: DictConfig) -> int:
    storage = open_store(cfg.db or None)
    options = TuneOptions(
        size=str(cfg.size),
        budget=Budget(int(cfg.budget), float(cfg.budget_seconds) if cfg.budget_seconds else None),
        settings=settings(cfg), final_repetitions=int(cfg.final_repetitions), top=int(cfg.top),
        seed=int(cfg.seed), polybench_c=polybench_c(cfg), retune=bool(cfg.retune),
        remeasure=frozenset(cfg.remeasure or ()))
    executor = make_executor(str(cfg.executor), cfg.dask_address, str(cfg.target))
    selected = kernels(cfg)
    bar = tqdm(selected, desc=f"tune {cfg.size} {cfg.target}", unit="kernel")
    tuner = Tuner(storage, executor, str(cfg.target), get_strategy(str(cfg.strategy)), options,
                  progress=lambda msg: bar.set_postfix_str(msg))
    try:
        for kernel in bar:
            result = tuner.tune_kernel(kernel)
            m = result.measurements
            line = f"{kernel.name:16s} " + ("(from database) " if result.resumed else "")
            if m["baseline"].ok and m["tuned"].ok:
                line += f"tuned {m['baseline'].median / m['tuned'].median:.2f}x"
                for peer in ("polly", "polly_c", "numpy", "cupy"):
                    if peer in m and m[peer].ok:
                        line += f", {peer} {m['baseline'].median / m[peer].median:.2f}x"
            else:
                line += f"baseline {m['baseline'].status}, tuned {m['tuned'].status}"
            bar.write(line + f", {result.variants_tried} variants, {result.seconds:.0f} s")
    finally:
        executor.shutdown()
    return 0
