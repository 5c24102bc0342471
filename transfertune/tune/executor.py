"""Where measurements run: a `concurrent.futures` executor, in this process, in a local
worker process, or on a Dask cluster.

The unit of work is `run_batch`: build, verify and time some variants of one workload
on the executing machine, returning that machine's target (its fingerprint) with the
results. Workloads travel by value (suite kernels by name, see `Kernel.__reduce__`);
a user program's inputs travel as file paths, so Dask workers measuring user programs
need the submitting machine's file system. Locally, timed batches run one at a time
(two timed jobs on one small machine would disturb each other); on Dask each batch goes
to a worker advertising the resource named after the target
(``dask worker --resources "cpu-omp=1"``).
"""

from __future__ import annotations

import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import asdict
from multiprocessing import get_context
from typing import Any

from transfertune.ir.recipe import load_recipe
from transfertune.ir.target import local_target
from transfertune.isolated import die_with_parent
from transfertune.measure.variants import Settings, Variant, Workload, measure_variants

EXECUTORS = ("inline", "local", "dask")


def run_batch(workload: Workload, target: str, variants: list[tuple[str, dict[str, Any] | None]],
              settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Measure `variants` (name, recipe JSON or None for a peer) of `workload` here."""
    here = local_target(target)
    chosen = [Variant(name, load_recipe(recipe) if recipe is not None else None) for name, recipe in variants]
    results = measure_variants(workload, here, "", chosen, Settings(**settings))
    return here.to_json(), {name: m.to_json() for name, m in results.items()}


class InlineExecutor(Executor):
    """Runs each task in this process when submitted (measuring still happens in child
    processes): what a single `transfer()` call uses, with no worker to start."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # handed to the caller through the future, as any executor does
            future.set_exception(err)
        return future


def make_executor(kind: str = "local", address: str | None = None, target: str = "cpu-seq",
                  cluster: Any = None) -> Executor:
    """``inline``: this process; ``local``: a one-worker process pool; ``dask``: an
    executor on the cluster at `address` (or the given `cluster` object) whose tasks need
    resource `target`."""
    if kind == "inline":
        return InlineExecutor()
    if kind == "local":
        # The worker dies with this process: a killed tuning run leaves nothing measuring.
        return ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn"), initializer=die_with_parent,
                                   initargs=(os.getpid(),))
    if kind == "dask":
        from distributed import Client

        client = Client(cluster if cluster is not None else address)
        return client.get_executor(resources={target: 1}, pure=False)
    raise ValueError(f"unknown executor {kind!r}; known: {', '.join(EXECUTORS)}")


def settings_dict(settings: Settings) -> dict[str, Any]:
    return asdict(settings)
