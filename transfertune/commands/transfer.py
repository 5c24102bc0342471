"""``transfertune transfer``: transfer recipes onto a kernel and print the report."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from transfertune.commands.lookup_inputs import load_arguments, load_function, lookup_for
from transfertune.commands.render import emit, transfer_text
from transfertune.ir.target import local_target
from transfertune.measure.variants import Settings, suite_workload
from transfertune.porting.api import transfer, transfer_program
from transfertune.suites import get_kernel
from transfertune.tune.executor import make_executor


def main(cfg: DictConfig) -> int:
    if bool(cfg.kernel) == bool(cfg.function):
        raise ValueError("give exactly one of kernel= or function= (with args=)")
    lookup = lookup_for(cfg)
    target = local_target(str(cfg.target))
    settings = Settings(repetitions=int(cfg.repetitions), early_stop=1.5)
    size = str(cfg.data.sizes.get(target.name, "LARGE"))
    executor = make_executor(str(cfg.executor), cfg.dask_address, target.name)
    try:
        if cfg.kernel:
            kernel = get_kernel(str(cfg.kernel))
            workload = suite_workload(kernel, str(cfg.size), "SMALL")
            result = transfer_program(workload, target, str(cfg.size), lookup, size=size, k=int(cfg.k),
                                      recipes_per_neighbour=int(cfg.recipes_per_neighbour),
                                      max_variants=cfg.max_variants, settings=settings, suite="transfer",
                                      executor=executor)
        else:
            func = load_function(str(cfg.function))
            args = load_arguments(func, cfg.args, OmegaConf.to_container(cfg.scalars) if cfg.scalars else {})
            result = transfer(func, *args, target=str(cfg.target), k=int(cfg.k), size=size,
                              recipes_per_neighbour=int(cfg.recipes_per_neighbour), max_variants=cfg.max_variants,
                              settings=settings, lookup=lookup, executor=executor, generic=bool(cfg.generic))
    finally:
        executor.shutdown()
    emit(result.report, str(cfg.format), transfer_text)
    return 0
