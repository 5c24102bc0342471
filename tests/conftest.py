"""Shared fixtures: configs composed from the real configs/ directory, and an
isolated build cache per test session so tests never reuse a developer's cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from transfertune.cli import load_config
from transfertune.db import Storage
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe, Step, load_recipe
from transfertune.ir.target import local_target
from transfertune.measure.measurement import Measurement
from transfertune.suites import get_kernel
from transfertune.train.train import train


@pytest.fixture(scope="session", autouse=True)
def _build_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Builds, the default store and the seed cache live in the test session's own
    directories: tests never read or write a developer's (or user's) store."""
    os.environ["TRANSFERTUNE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data-home"))
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache-home"))
    os.environ.pop("TRANSFERTUNE_DB", None)


@pytest.fixture
def config():
    """Compose a command's config with overrides: ``config("verify", "size=MINI")``."""
    return lambda command, *overrides: load_config(command, list(overrides))


REDUCED = bool(os.environ.get("TT_REDUCED"))
"""CI runs the slow checks on fewer kernels."""


GEMM_RECIPE = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "gemm-omp.json")
TILE = Recipe((Step("tile", (), {"size": 8}),))


def measured_store(url: str, gains: dict[str, dict[Recipe, float]]) -> str:
    """A store at `url` in which every nest of each kernel has an untouched run and each
    of its recipes the given speedup (made-up times on this machine's cpu-omp target, at
    LARGE): what the lookup lends from, without measuring anything."""
    storage = Storage(url)
    target = local_target("cpu-omp")
    for name, recipes in gains.items():
        for nest in loop_nests(name, build_program(get_kernel(name)).sdfg()):
            run = f"{name}-{nest.index}"
            storage.record(Measurement("baseline", "ok", (1.0, 1.0)), kernel=get_kernel(name), target=target,
                           size="LARGE", run=run, nest=nest)
            for recipe, gain in recipes.items():
                storage.record(Measurement("recipe", "ok", (1 / gain,)), kernel=get_kernel(name), target=target,
                               size="LARGE", run=run, nest=nest, recipe=recipe)
    storage.engine.dispose()
    return url


@pytest.fixture(scope="session")
def store(tmp_path_factory):
    return measured_store(f"sqlite:///{tmp_path_factory.mktemp('store') / 'tt.db'}",
                          {"gemm": {GEMM_RECIPE: 2.0, TILE: 1.1}, "syrk": {GEMM_RECIPE: 1.8, TILE: 1.05},
                           "jacobi-2d": {TILE: 1.3}, "atax": {TILE: 1.2}, "2mm": {GEMM_RECIPE: 1.9}})


@pytest.fixture(scope="session")
def lending_store(tmp_path_factory):
    """The same measurements as `store`, for tests that assert what a query lends: nothing
    else writes here (other tests record timed transfers into `store`, whose winners
    depend on how loaded the machine was)."""
    return measured_store(f"sqlite:///{tmp_path_factory.mktemp('lending') / 'tt.db'}",
                          {"gemm": {GEMM_RECIPE: 2.0, TILE: 1.1}, "syrk": {GEMM_RECIPE: 1.8, TILE: 1.05},
                           "jacobi-2d": {TILE: 1.3}, "atax": {TILE: 1.2}, "2mm": {GEMM_RECIPE: 1.9}})


@pytest.fixture(scope="session")
def checkpoint(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("ckpt")
    train(load_config("train", [f"db={store}", "model=small", "epochs=10", f"output_dir={out}", "val_fraction=0",
                                f"data.cache_dir={out / 'cache'}", "~data.sizes.cpu-seq",
                                "data.sizes.cpu-omp=LARGE"]))
    return out / "checkpoint.pt"


