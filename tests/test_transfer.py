"""Index, nearest-recipe queries and transfer() on a store with recorded measurements
(the recorded numbers stand in for a tuning run; transfer itself measures for real)."""

from pathlib import Path

import numpy as np
import pytest

from tests.user_kernels import matmul_acc, not_parseable
from transfertune.db import Storage
from transfertune.index.embedder import Embedder
from transfertune.index.lookup import RecipeLookup, resolve_target
from transfertune.index.recipe_index import RecipeIndex
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.polybench import get_kernel
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe, Step, load_recipe
from transfertune.ir.target import local_target
from transfertune.measure.measurement import Measurement
from transfertune.measure.variants import Settings
from transfertune.train.train import train
from transfertune.transfer.api import transfer
from transfertune.transfer.user import bind_arguments, parse_user_program, user_kernel

GEMM_RECIPE = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "gemm-omp.json")
TILE = Recipe((Step("tile", (), {"size": 8}),))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'tt.db'}"
    storage = Storage(url)
    target = local_target("cpu-omp")
    for name, recipes in (("gemm", {GEMM_RECIPE: 2.0, TILE: 1.1}), ("syrk", {GEMM_RECIPE: 1.8, TILE: 1.05}),
                          ("jacobi-2d", {TILE: 1.3}), ("atax", {TILE: 1.2}), ("2mm", {GEMM_RECIPE: 1.9})):
        for nest in loop_nests(name, build_program(get_kernel(name)).sdfg()):
            run = f"{name}-{nest.index}"
            storage.record(Measurement("baseline", "ok", (1.0, 1.0)), kernel=get_kernel(name), target=target,
                           size="LARGE", run=run, nest=nest)
            for recipe, gain in recipes.items():
                storage.record(Measurement("recipe", "ok", (1 / gain,)), kernel=get_kernel(name), target=target,
                               size="LARGE", run=run, nest=nest, recipe=recipe)
    return url


@pytest.fixture(scope="module")
def checkpoint(store, tmp_path_factory):
    from transfertune.cli import load_config

    out = tmp_path_factory.mktemp("ckpt")
    train(load_config("train", [f"db={store}", "model=small", "epochs=10", f"output_dir={out}", "val_fraction=0",
                                f"data.cache_dir={out / 'cache'}", "~data.sizes.cpu-seq"]))
    return out / "checkpoint.pt"


def test_index_round_trip(tmp_path):
    index = RecipeIndex.for_size(4, 3, {"checkpoint": "abc"})
    vectors = np.eye(4, dtype=np.float32)[:3]
    index.add(vectors, np.array([7, 8, 9]))
    index.save(tmp_path / "i.faiss")
    again = RecipeIndex.load(tmp_path / "i.faiss")
    assert len(again) == 3 and again.manifest == {"checkpoint": "abc"}
    assert again.search(vectors[1:2], 1)[1][0, 0] == 8
    with pytest.raises(ValueError, match="non-negative"):
        index.add(vectors[:1], np.array([-1]))
    assert RecipeIndex.for_size(4, 10**6).kind == "hnsw"


def test_query_returns_neighbours_and_ranked_recipes(store, checkpoint, tmp_path):
    lookup = RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint), cache=tmp_path)
    args = bind_arguments(matmul_acc, (np.zeros((8, 9)), np.zeros((8, 10)), np.zeros((10, 9))))
    program = parse_user_program(user_kernel(matmul_acc, args), args)
    answer = lookup.query(loop_nests("m", program.sdfg()), resolve_target(Storage(store), local_target("cpu-omp")),
                          "LARGE", k=3)
    (nest,) = answer
    assert len(nest["neighbours"]) == 3
    assert [n["distance"] for n in nest["neighbours"]] == sorted(n["distance"] for n in nest["neighbours"])
    for neighbour in nest["neighbours"]:
        speedups = [r["speedup"] for r in neighbour["recipes"]]
        assert speedups == sorted(speedups, reverse=True) and speedups[0] > 1
    # incremental: a second lookup object loads the persisted index instead of rebuilding it
    assert list(tmp_path.glob("*.faiss")) and list(tmp_path.glob("*.json"))


def test_unknown_target_falls_back_and_says_so(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'seq.db'}")
    nest = loop_nests("gemm", build_program(get_kernel("gemm")).sdfg())[0]
    storage.record(Measurement("baseline", "ok", (1.0,)), kernel=get_kernel("gemm"), target=local_target("cpu-seq"),
                   size="LARGE", run="r", nest=nest)
    resolved = resolve_target(storage, local_target("cpu-omp"))
    assert resolved.name == "cpu-seq" and "never measured" in resolved.note


def test_transfer_is_correct_recorded_and_answered_from_the_database(store, checkpoint, tmp_path):
    rng = np.random.default_rng(0)
    A, B = rng.random((96, 80)), rng.random((80, 112))
    C = rng.random((96, 112))
    expected = C + A @ B
    settings = Settings(repetitions=2, early_stop=1.5)
    lookup = RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint), cache=tmp_path)
    before = len(Storage(store).measurements())
    result = transfer(matmul_acc, C.copy(), A, B, target="cpu-omp", size="LARGE", settings=settings, lookup=lookup)
    report = result.report
    assert report["from_database"] is False and report["variants_tried"] >= 1
    assert report["nests"][0]["neighbours"] and report["nests"][0]["tried"]
    if report["recipe"]["nests"]:  # a recipe is kept only when measured faster than the untouched code
        assert report["speedup"] > 1.0
    out = C.copy()
    result.run(out, A, B)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    recorded = len(Storage(store).measurements())
    assert recorded > before
    again = transfer(matmul_acc, C.copy(), A, B, target="cpu-omp", size="LARGE", settings=settings, lookup=lookup)
    assert again.report["from_database"] is True and len(Storage(store).measurements()) == recorded
    assert again.run.recipe == result.run.recipe


def test_bad_input_is_a_clear_error(store, checkpoint):
    with pytest.raises(ValueError, match="docc cannot parse"):
        transfer(not_parseable, np.zeros(4), db=store, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="arguments do not match"):
        transfer(matmul_acc, np.zeros((2, 2)), db=store, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="arrays must be float64"):
        transfer(matmul_acc, np.zeros((2, 2), dtype=np.float32), np.zeros((2, 2)), np.zeros((2, 2)), db=store)
    with pytest.raises(ValueError, match="unknown target 'tpu'"):
        transfer(matmul_acc, np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)), target="tpu", db=store)
    with pytest.raises(ValueError, match="checkpoint not found"):
        transfer(matmul_acc, np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)), db=store,
                 checkpoint="/nonexistent.pt")
