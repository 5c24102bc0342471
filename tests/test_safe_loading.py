"""No pickle runs on files a user may be handed: checkpoints load with weights_only=True
and the dataset cache is a plain .npz (no object arrays) read with allow_pickle=False."""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

import transfertune.train.dataset as dataset
from transfertune.cli import load_config, main
from transfertune.db import Storage
from transfertune.index.embedder import Embedder
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe, Step, load_recipe
from transfertune.ir.target import local_target
from transfertune.measure.measurement import Measurement
from transfertune.suites.polybench import get_kernel
from transfertune.train.dataset import cached_samples
from transfertune.train.train import fit, train

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "data" / "checkpoint" / "checkpoint.pt"
SIZES = {"cpu-omp": "LARGE"}
TILE = Recipe((Step("tile", (), {"size": 8}),))
GEMM_RECIPE = load_recipe(ROOT / "recipes" / "gemm-omp.json")


class Payload:
    """Unpickling this runs a shell command that creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def nests(name):
    return loop_nests(name, build_program(get_kernel(name)).sdfg())


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'tt.db'}"
    storage = Storage(url)
    target = local_target("cpu-omp")
    # jacobi-1d: the gemm recipe only ever crashed (speedup 0.0 in the samples)
    for name, recipes in (("gemm", {TILE: 1.1, GEMM_RECIPE: 2.0}), ("atax", {TILE: 1.2}),
                          ("jacobi-1d", {TILE: 1.3, GEMM_RECIPE: 0.0})):
        for nest in nests(name):
            run = f"{name}-{nest.index}"
            storage.record(Measurement("baseline", "ok", (1.0, 1.0)), kernel=get_kernel(name), target=target,
                           size="LARGE", run=run, nest=nest)
            for recipe, gain in recipes.items():
                measurement = Measurement("recipe", "ok", (1 / gain,)) if gain else Measurement("recipe", "crash", ())
                storage.record(measurement, kernel=get_kernel(name), target=target, size="LARGE", run=run, nest=nest,
                               recipe=recipe)
    return url


# --- checkpoints ---------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_crafted_checkpoint_runs_nothing(tmp_path):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "model": {}, "feature_version": Payload(marker)}, path)
    with pytest.raises(ValueError, match="evil.pt") as err:
        Embedder.from_checkpoint(path)
    assert "\n" not in str(err.value)
    assert not marker.exists()
    # the same file as a bare pickle (torch's legacy, non-zip format)
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="evil.pt"):
        Embedder.from_checkpoint(path)
    assert not marker.exists()


def test_crafted_checkpoint_through_the_cli(tmp_path, capsys):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pt"
    torch.save(Payload(marker), path)
    code = main(["query", "kernel=gemm", f"db=sqlite:///{tmp_path / 'empty.db'}", f"checkpoint={path}"])
    err = capsys.readouterr().err
    assert code == 2 and "evil.pt" in err and len(err.strip().splitlines()) == 1
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated zip"])
def test_garbage_checkpoint_is_a_value_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad.pt"):
        Embedder.from_checkpoint(path)


def test_checkpoint_missing_keys_or_wrong_version(tmp_path):
    data = torch.load(SHIPPED, map_location="cpu", weights_only=True)
    for name, broken in (("nokeys.pt", {"state_dict": data["state_dict"]}),
                         ("version.pt", {**data, "feature_version": -1}),
                         ("shape.pt", {**data, "model": {**data["model"], "hidden_channels": 7}}),
                         ("list.pt", [1, 2, 3])):
        torch.save(broken, tmp_path / name)
        with pytest.raises(ValueError, match=name):
            Embedder.from_checkpoint(tmp_path / name)


def test_shipped_checkpoint_loads_safely_and_embeds():
    torch.load(SHIPPED, map_location="cpu", weights_only=True)
    embedder = Embedder.from_checkpoint(SHIPPED)
    vectors = embedder.embed([n.canonical_json for n in nests("gemm")])
    assert vectors.shape == (len(nests("gemm")), embedder.dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()


def test_trained_checkpoint_is_weights_only(store, tmp_path):
    out = tmp_path / "run"
    train(load_config("train", [f"db={store}", "model=small", "epochs=2", f"output_dir={out}", "val_fraction=0",
                                f"data.cache_dir={tmp_path / 'cache'}", "~data.sizes.cpu-seq",
                                "data.sizes.cpu-omp=LARGE"]))
    data = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert data["sizes"] == SIZES and type(data["sizes"]) is dict and type(data["model"]) is dict
    assert Embedder.from_checkpoint(out / "checkpoint.pt").embed([nests("atax")[0].canonical_json]).shape[0] == 1
    assert list((tmp_path / "cache").glob("samples-*.npz"))


# --- dataset cache -------------------------------------------------------------------------


def _cache_file(folder: Path) -> Path:
    files = list(folder.glob("samples-*"))
    assert len(files) == 1, files
    return files[0]


def _assert_same(a, b):
    assert len(a) == len(b) and a
    for s, t in zip(a, b, strict=True):
        assert (s.program, s.group, s.position, s.nest_hash) == (t.program, t.group, t.position, t.nest_hash)
        assert type(t.position) is int
        assert s.speedups == t.speedups and s.best == t.best and s.loopinfo == t.loopinfo
        assert set(t.graph.keys()) == set(s.graph.keys()) == {"x", "edge_index", "edge_attr"}
        for key in ("x", "edge_index", "edge_attr"):
            u, v = getattr(s.graph, key), getattr(t.graph, key)
            assert u.dtype == v.dtype and u.shape == v.shape and torch.equal(u, v), key
        for u, v in ((s.y, t.y), (s.mask, t.mask)):
            assert u.dtype == v.dtype and u.shape == v.shape and torch.equal(u, v)


@pytest.fixture(scope="module")
def built(store, tmp_path_factory):
    """Samples built once and the cache folder they were written to."""
    folder = tmp_path_factory.mktemp("cache")
    return cached_samples(Storage(store), SIZES, folder), folder


def test_cache_round_trip(store, built, tmp_path, monkeypatch):
    fresh, folder = built
    assert {s.program for s in fresh} == {"gemm", "atax", "jacobi-1d"}
    assert any(0.0 in table.values() for s in fresh for table in s.speedups.values())  # failed recipes kept
    path = _cache_file(folder)
    assert path.suffix == ".npz"
    assert not list(folder.glob("*.tmp"))
    monkeypatch.setattr(dataset, "build_samples", lambda *a: pytest.fail("the cache was not read"))
    again = cached_samples(Storage(store), SIZES, folder)
    _assert_same(fresh, again)
    # the samples train as before
    cfg = load_config("train", ["model=small", "epochs=2", "~data.sizes.cpu-seq", "data.sizes.cpu-omp=LARGE"])
    _, history = fit(cfg, again)
    assert len(history) == 2 and np.isfinite(history[-1]["train_loss"])


def test_cache_holds_no_pickle(built):
    _, folder = built
    path = _cache_file(folder)
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            assert data[key].dtype != object
    assert path.read_bytes()[:4] == b"PK\x03\x04"  # a zip of .npy members, nothing else


@pytest.mark.parametrize("kind", ["pickle", "torch", "garbage", "truncated", "empty", "npy", "object-npz"])
def test_bad_cache_is_rebuilt_not_run(store, built, tmp_path, kind):
    fresh, folder = built
    good = _cache_file(folder).read_bytes()
    target = tmp_path / _cache_file(folder).name
    marker = tmp_path / "MARKER"
    if kind == "pickle":
        target.write_bytes(pickle.dumps(Payload(marker)))
    elif kind == "torch":
        torch.save([Payload(marker)], target)
    elif kind == "garbage":
        target.write_bytes(os.urandom(4096))
    elif kind == "truncated":
        target.write_bytes(good[: len(good) // 2])
    elif kind == "empty":
        target.write_bytes(b"")
    elif kind == "npy":
        with target.open("wb") as f:
            np.save(f, np.arange(3))
    else:
        with target.open("wb") as f:
            np.savez(f, meta=np.array([Payload(marker)], dtype=object))
    again = cached_samples(Storage(store), SIZES, tmp_path)
    assert not marker.exists()
    _assert_same(fresh, again)
    with np.load(target, allow_pickle=False) as data:  # rewritten as a good cache
        assert "meta" in data.files
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_write_is_atomic(built, tmp_path, monkeypatch):
    """A failed write leaves neither a partial cache nor a temp file behind."""
    fresh, _ = built
    path = tmp_path / "samples-x.npz"

    def broken(file, **arrays):
        file.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(dataset.np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        dataset.save_samples(fresh, path)
    assert list(tmp_path.iterdir()) == []
