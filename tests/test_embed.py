"""Featuriser, encoder, training runs and the embedding evaluation (on a small store
filled with recorded measurements, so no compiler runs here)."""

import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from docc.python import native
from omegaconf import OmegaConf

from transfertune.db import Storage
from transfertune.embed.encoder import NestEncoder
from transfertune.embed.featurize import EDGE_DIM, FEATURE_VERSION, NODE_DIM, STRIDE_SLOTS, STRIDES, featurize
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program, untouched_sdfg
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import local_target
from transfertune.measure.measurement import Measurement
from transfertune.suites import family_of
from transfertune.suites import get_kernel as find_kernel
from transfertune.suites.polybench import NEST_COMPUTATIONS
from transfertune.train import evaluate as evaluation
from transfertune.train.app import evaluate_embeddings
from transfertune.train.dataset import build_samples
from transfertune.train.train import train
from transfertune.tune.probes import probes_for

KERNELS = ("gemm", "syrk", "2mm", "jacobi-1d", "jacobi-2d", "atax", "bicg", "mvt")
CORPUS = ("gram-matrix", "laplacian-2d", "row-sums", "batched-matmul")
VARIANTS = ("gemm@interchange", "jacobi-2d@shift", "gram-matrix@rename", "laplacian-2d@shift")


def nests(name):
    return loop_nests(name, build_program(find_kernel(name)).sdfg())


def test_featurizer_is_deterministic_and_sized():
    nest = nests("gemm")[0]
    a, b = featurize(nest.canonical_json), featurize(nest.canonical_json)
    assert torch.equal(a.x, b.x) and torch.equal(a.edge_index, b.edge_index) and torch.equal(a.edge_attr, b.edge_attr)
    assert a.x.shape[1] == NODE_DIM and a.edge_attr.shape[1] == EDGE_DIM and FEATURE_VERSION >= 1


@pytest.mark.parametrize("name", sorted(NEST_COMPUTATIONS))
def test_nest_labels_follow_docc_cut(name):
    """`NEST_COMPUTATIONS` is by position as docc cuts the kernel: one label per nest,
    at least one unlike the kernel's, and a variant's nests carry its base's."""
    positions = range(len(NEST_COMPUTATIONS[name]))
    assert len(nests(name)) == len(positions)
    assert any(family_of(name, p) != family_of(name) for p in positions)
    assert [family_of(f"{name}@rename", p) for p in positions] == [family_of(name, p) for p in positions]


def test_a_nest_family_is_what_the_nest_computes():
    assert family_of("covariance", 0) == family_of("row-sums") == "reduction" != family_of("covariance")
    assert family_of("covariance", 2) == family_of("covariance") == family_of("gemm")
    assert family_of("gemm", 0) == family_of("gemm", None) == family_of("gemm")  # one nest: the kernel's


def row_walk(A: np.ndarray, B: np.ndarray) -> None:
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            B[i, j] = A[i, j] * 2.0


def column_walk(A: np.ndarray, B: np.ndarray) -> None:
    for i in range(A.shape[1]):
        for j in range(A.shape[0]):
            B[j, i] = A[j, i] * 2.0


def _graph(func, *args):
    """The graph of `func`'s first nest, parsed by docc for `args`."""
    sdfg = untouched_sdfg(native(func, target="none").to_sdfg(*args))
    return featurize(loop_nests(func.__name__, sdfg)[0].canonical_json)


def _inner_strides(func):
    attr = _graph(func, np.zeros((11, 13)), np.zeros((11, 13))).edge_attr
    memlets = attr[(attr[:, 2] > 0) & (attr[:, STRIDE_SLOTS].sum(dim=1) > 0)][:, STRIDE_SLOTS].reshape(-1, 6, len(STRIDES))
    return {STRIDES[int(c)] for c in memlets[:, 1, :].argmax(dim=1)}  # category at depth 1 (inner loop)


def test_strides_tell_a_row_walk_from_a_column_walk():
    assert _inner_strides(row_walk) == {"unit"}
    assert _inner_strides(column_walk) == {"symbolic"}


def sliding_sum(A: np.ndarray, B: np.ndarray) -> None:
    for i in range(B.shape[0]):
        for j in range(B.shape[1]):
            for a in range(3):
                B[i, j] += A[i + a, j]


def product(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            for k in range(A.shape[1]):
                C[i, j] += A[i, k] * B[k, j]


def band(A: np.ndarray, B: np.ndarray) -> None:
    for i in range(B.shape[0]):
        for k in range(i + 1, A.shape[0]):
            B[i] += A[k]


def _windows(func, *args) -> int:
    return int(_graph(func, *args).edge_attr[:, STRIDE_SLOTS.stop + 1].sum())


def test_a_sliding_window_is_told_from_a_product_and_a_band():
    """Two loops moving one dimension of the read (`A[i + a, j]`) mark a window; a
    product's loops each move their own dimension, and a triangular loop's band (`A[k]`
    for k > i) is no window either, so none of their memlets is marked."""
    assert _windows(sliding_sum, np.zeros((13, 11)), np.zeros((11, 11))) > 0
    assert _windows(product, np.zeros((11, 13)), np.zeros((13, 11)), np.zeros((11, 11))) == 0
    assert _windows(band, np.zeros(13), np.zeros(11)) == 0


def test_encoder_shapes_and_reset():
    graph = featurize(nests("jacobi-2d")[0].canonical_json)
    model = NestEncoder(hidden_channels=16, out_channels=8, num_layers=2)
    z = model(graph.x, graph.edge_index, graph.edge_attr)
    assert z.shape == (1, 8)
    model.reset_parameters()
    assert "NestEncoder(53, 16, 8, num_layers=2)" == repr(model)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Recorded measurements: stencils gain from tiling, the rest from parallelising."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'tt.db'}"
    storage = Storage(url)
    for target_name, size in (("cpu-omp", "MEDIUM"), ("cpu-seq", "MEDIUM")):
        target = local_target(target_name)
        for name in KERNELS + CORPUS + VARIANTS:
            kernel = find_kernel(name)
            for nest in nests(name):
                run = f"{name}-{nest.index}-{target_name}"
                storage.record(Measurement("baseline", "ok", (1.0, 1.0)), kernel=kernel, target=target, size=size,
                               run=run, nest=nest)
                for probe, recipe in probes_for(target).items():
                    stencil = name.startswith(("jacobi", "laplacian-2d"))
                    gain = 2.0 if (probe == "tile") == stencil else 1.1
                    storage.record(Measurement("recipe", "ok", (1 / gain, 1 / gain)), kernel=kernel, target=target,
                                   size=size, run=run, nest=nest, recipe=recipe)
    return url


def test_dataset_responses(store):
    samples = build_samples(Storage(store), {"cpu-omp": "MEDIUM", "cpu-seq": "MEDIUM"})
    assert {s.program for s in samples} == set(KERNELS + CORPUS + VARIANTS)
    jacobi = next(s for s in samples if s.program == "jacobi-1d")
    probes = len(probes_for(local_target("cpu-omp"))) + len(probes_for(local_target("cpu-seq")))
    assert jacobi.mask.sum() == probes + 2  # every probe on both targets, and the best of each
    assert jacobi.y.max().item() == pytest.approx(torch.log(torch.tensor(2.0)).item())
    assert len(jacobi.loopinfo) == len(evaluation.loopinfo_features(jacobi)) > 0


def test_train_writes_config_metrics_and_checkpoint(store, config, tmp_path):
    cfg = config("train", f"db={store}", "model=small", "epochs=30", f"output_dir={tmp_path}",
                 f"data.cache_dir={tmp_path / 'cache'}")
    metrics = train(cfg)
    assert (tmp_path / "config.yaml").exists()
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,train_loss,val_loss") and len(rows) == 31
    first = float(rows[1].split(",")[1])
    assert metrics["train_loss"] < first
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert checkpoint["feature_version"] == FEATURE_VERSION and checkpoint["model"]["out_channels"] == 8


def test_an_ensemble_is_its_members_read_as_one(store, config, tmp_path):
    """ensemble=3: three seeds' encoders side by side; its squared distances are the members'
    mean, its head predicts their mean response, and its checkpoint loads back as one encoder."""
    from torch_geometric.loader import DataLoader

    from transfertune.porting.experiment import fold_embedder
    from transfertune.train.train import fit, predict, samples

    cfg = config("train", f"db={store}", "model=small", "epochs=5", "ensemble=3", "val_fraction=0",
                 f"output_dir={tmp_path}", f"data.cache_dir={tmp_path / 'cache'}")
    data = samples(cfg)[:12]
    model, history = fit(cfg, data)
    assert len(history) == 5 and all(np.isfinite(r["train_loss"]) for r in history)
    members = [fit(OmegaConf.merge(cfg, {"ensemble": 1, "seed": i}), data)[0] for i in range(3)]
    z, y = predict(model, data)
    parts = [predict(m, data) for m in members]
    assert z.shape[1] == 3 * parts[0][0].shape[1]
    assert np.allclose(y, np.mean([p[1] for p in parts], axis=0), atol=1e-5)

    def squared(e):
        return ((e[:, None] - e[None]) ** 2).sum(-1)

    assert np.allclose(squared(z), np.mean([squared(p[0]) for p in parts], axis=0), atol=1e-4)
    assert not np.allclose(parts[0][0], parts[1][0])  # the seeds differ
    loaded = fold_embedder(cfg, data, tmp_path / "fold")  # fits again (same seeds), saves, loads back
    assert torch.load(tmp_path / "fold" / "checkpoint.pt", weights_only=True)["model"]["members"] == 3
    assert loaded.dim == z.shape[1]
    batch = next(iter(DataLoader([s.graph for s in data], batch_size=len(data))))
    with torch.no_grad():
        again = loaded.encoder(batch.x, batch.edge_index, batch.edge_attr, batch.batch).numpy()
    assert np.allclose(again, z, atol=1e-5)
    with pytest.raises(ValueError, match="ensemble must be at least 1"):
        fit(OmegaConf.merge(cfg, {"ensemble": 0}), data)


def test_evaluation_json_and_map(store, config, tmp_path, capsys):
    cfg = config("evaluate-embeddings", f"db={store}", "model=small", "epochs=20", "folds=3", "format=json",
                 "measure=false", f"output_dir={tmp_path}", f"plot={tmp_path / 'map.png'}",
                 f"data.cache_dir={tmp_path / 'cache'}")
    assert evaluate_embeddings(cfg) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"polybench", "corpus", "polybench_to_corpus"}
    for setting in result.values():
        assert set(setting) == {"gnn", "random", "handmade_knn", "loopinfo_knn"}
        for method in setting.values():
            # Only probes were measured in this store, so every neighbour's best is one of them.
            assert 0.0 < method["mean"] <= 1.0 and method["std"] >= 0.0
    saved = json.loads((tmp_path / "evaluation.json").read_text())
    for methods in saved["settings"].values():  # the lead is taken fold by fold over the same folds
        for other, lead in methods["gnn"]["lead"].items():
            assert lead["mean"] == pytest.approx(methods["gnn"]["mean"] - methods[other]["mean"]) and lead["std"] >= 0
    for methods in saved["settings"].values():  # the measured-response reference sits beside the methods
        assert 0.0 < methods["responses"]["mean"] <= 1.0 and 0.0 <= methods["responses"]["same_family"] <= 1.0
    assert {r["kernel"] for r in saved["sanity"]} == set(CORPUS)
    assert all(r["same_family"] or not r["same_computation"] for r in saved["sanity"])
    assert all(isinstance(r["same_family"], bool) and r["neighbour"] in KERNELS + CORPUS
               and r["neighbour"] != r["kernel"] for r in saved["sanity"])
    assert all(r["same_nest_family"] == (r["family"] == family_of(r["neighbour"], r["neighbour_nest"]))
               and r["neighbour_nest"] < len(nests(r["neighbour"])) for r in saved["sanity"])
    assert (tmp_path / "map.png").stat().st_size > 10_000
    page = (tmp_path / "map.html").read_text()
    originals = len(KERNELS) + len(CORPUS)
    assert page.count("<title>") == 1 + sum(len(nests(k)) for k in KERNELS + CORPUS) and originals > 0
    assert "gemm[0] - matrix-product (polybench)" in page and "@" not in page  # variants train, originals are shown


def test_picks_are_judged_against_the_oracle_timed_in_the_same_run(tmp_path):
    """measure=true: a pick and the held-out nest's best stored recipes are timed together,
    recorded like tuning measurements, and the pick is judged on that run alone (not on a
    lucky stored best); the run's table is kept, so a second evaluation resumes from it."""
    storage = Storage(f"sqlite:///{tmp_path / 'tt.db'}")
    nest = nests("jacobi-1d")[0]
    pick = Recipe((Step("tile", (), {"size": 8}),))
    reference = Recipe((Step("tile", (), {"size": 16}),))
    sample = evaluation.NestSample("jacobi-1d", "stencils", nest.index, nest.nest_hash, graph=None,
                                   y=torch.zeros(1), mask=torch.zeros(1),
                                   speedups={"cpu-seq": {reference.canonical(): 50.0}})
    choice = evaluation.Choice(0, "gnn", sample, "cpu-seq", [pick.canonical()], "heat-3d", 0, "MINI")
    assert sample.fraction_reached(pick.canonical(), "cpu-seq") is None
    judged_alone = replace(sample, speedups={"cpu-seq": {pick.canonical(): 0.0, reference.canonical(): 4.0}})
    assert judged_alone.fraction_reached(pick.canonical(), "cpu-seq") == 0.25  # a failed pick leaves the untouched code
    progress = tmp_path / "measured.json"
    [judged] = evaluation.measure_together(storage, [choice], {"cpu-seq": "MINI"}, 2, progress)
    table = judged.sample.speedups["cpu-seq"]
    assert set(table) == {pick.canonical(), reference.canonical()} and 0 < table[reference.canonical()] < 50
    reached = judged.sample.fraction_reached(pick.canonical(), "cpu-seq")
    assert reached == min(1.0, max(table[pick.canonical()], 1.0) / max(*table.values(), 1.0)) > 0.05
    assert sample.speedups["cpu-seq"] == {reference.canonical(): 50.0}  # the stored sample is left as it was
    stored = storage.nest_speedups(target_name="cpu-seq", size="MINI")
    assert {pick, reference} <= set(stored[("jacobi-1d", nest.nest_hash)])
    rows = len(storage.measurements())
    [again] = evaluation.measure_together(storage, [choice], {"cpu-seq": "MINI"}, 2, progress)
    assert again.sample.speedups == judged.sample.speedups and len(storage.measurements()) == rows
    # The table is this machine's: under another machine's target key it is measured again.
    mine = local_target("cpu-seq").key
    assert list(json.loads(progress.read_text())) == [f"{mine}|jacobi-1d|{nest.index}"]
    progress.write_text(progress.read_text().replace(mine, "cpu-seq-0123456789ab"))
    evaluation.measure_together(storage, [choice], {"cpu-seq": "MINI"}, 2, progress)
    assert len(storage.measurements()) > rows


def test_the_response_reference_borrows_from_the_nest_that_responds_most_alike():
    """The nearest training nest by measured responses: the least RMS difference of log
    speedups over the responses measured for both; a nest sharing none is never picked,
    and a held-out nest sharing none with any gets no neighbour."""
    def sample(name, y, mask):
        return evaluation.NestSample(name, "g", 0, "h", graph=None, y=torch.tensor(y), mask=torch.tensor(mask),
                                     speedups={})

    train = [sample("a", [0.0, 2.0, 0.0], [1.0, 1.0, 0.0]), sample("b", [0.5, 0.4, 9.0], [1.0, 1.0, 1.0]),
             sample("c", [0.6, 0.3, 0.0], [0.0, 0.0, 1.0])]
    test = [sample("x", [0.4, 0.5, 0.0], [1.0, 1.0, 0.0]), sample("y", [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]),
            sample("z", [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]), sample("w", [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])]
    assert evaluation.response_neighbours(train, test) == [1, 2, 1, None]
    assert evaluation.response_neighbours([], test) == [None] * 4


def test_the_response_lookup_fills_unmeasured_responses_with_predictions(monkeypatch):
    """`lookup=responses` matches a held-out nest's predicted responses against training
    nests' responses, measured ones as measured and the others as predicted."""
    from transfertune.train import train as training

    def sample(y, mask):
        return evaluation.NestSample("a", "g", 0, "h", graph=None, y=torch.tensor(y), mask=torch.tensor(mask),
                                     speedups={})

    prediction = np.array([[9.0, 9.0, 9.0], [8.0, 8.0, 8.0]])
    monkeypatch.setattr(training, "predict", lambda model, data: (np.zeros((len(data), 2)), prediction))
    data = [sample([1.0, 2.0, 0.0], [1.0, 1.0, 0.0]), sample([0.0, 0.0, 3.0], [0.0, 0.0, 1.0])]
    assert training.known_responses(None, data).tolist() == [[1.0, 2.0, 9.0], [8.0, 8.0, 3.0]]
    with pytest.raises(ValueError, match="unknown lookup 'nearest'"):
        evaluation.neighbours("gnn", data, data, OmegaConf.create({"neighbours": 1, "lookup": "nearest"}), None)


def test_multirun_sweep(store, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "transfertune.cli", "train", "-m", "model=small", "epochs=2",
         "model.hidden_channels=8,16", f"db={store}", f"hydra.sweep.dir={tmp_path}",
         f"data.cache_dir={tmp_path / 'cache'}"],
        capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert len(list(tmp_path.glob("[0-9]/checkpoint.pt"))) == 2


def test_distance_alignment_asks_embedding_distances_to_match_response_distances():
    from transfertune.train.train import distance_alignment

    y = torch.tensor([[0.0, 0.0], [3.0, 4.0], [9.0, 9.0]])
    mask = torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])  # the third nest has no responses
    rms = torch.sqrt(torch.tensor((9.0 + 16.0) / 2))
    matching = torch.tensor([[0.0, 0.0], [rms.item(), 0.0], [100.0, 0.0]])
    assert distance_alignment(matching, y, mask).item() == pytest.approx(0.0, abs=1e-6)
    too_close = torch.tensor([[0.0, 0.0], [0.5, 0.0], [0.0, 0.0]], requires_grad=True)
    loss = distance_alignment(too_close, y, mask)
    assert loss.item() == pytest.approx((rms.item() - 0.5) ** 2, rel=1e-4)
    loss.backward()
    assert torch.isfinite(too_close.grad).all() and too_close.grad[2].abs().sum() == 0


def test_views_are_legal_rewrites_of_the_same_nest():
    from transfertune.train.augment import views

    nest = nests("2mm")[0]  # docc can reorder its loops
    rewrites = views(nest.sdfg_json)
    assert rewrites and all(r != nest.canonical_json for r in rewrites)
    for r in rewrites:
        assert featurize(r).x.shape[1] == NODE_DIM


def test_contrastive_training_pulls_views_in(store, config, tmp_path):
    from transfertune.train.train import embed, fit, samples

    cfg = config("train", f"db={store}", "model=small", "epochs=30", "contrastive=1.0", "docc_views=true", "alignment=0",
                 f"data.cache_dir={tmp_path / 'cache'}", f"output_dir={tmp_path}")
    data = samples(cfg)
    with_views = [s for s in data if s.views]
    assert len(with_views) >= 3
    model, history = fit(cfg, data)
    assert all(np.isfinite(r["train_loss"]) for r in history)
    # each nest lies closer to its own view than to the average other nest
    anchors = embed(model, with_views)
    rewritten = embed(model, [replace(s, graph=s.views[0]) for s in with_views])
    own = np.linalg.norm(anchors - rewritten, axis=1)
    other = np.array([np.linalg.norm(anchors[i] - np.delete(rewritten, i, axis=0), axis=1).mean()
                      for i in range(len(anchors))])
    assert (own < other).mean() >= 0.7


def test_splits_keep_augmented_variants_on_their_base_kernels_side(store):
    data = build_samples(Storage(store), {"cpu-omp": "MEDIUM", "cpu-seq": "MEDIUM"})
    for setting in evaluation.SETTINGS:
        folds = evaluation.split(setting, data, 3, 0)
        assert folds
        for train_set, test_set in folds:
            held = {s.program for s in test_set}
            assert held and all("@" not in p for p in held)
            assert not {s.program.split("@")[0] for s in train_set} & held
        trained = {s.program for s in folds[0][0]}
        assert any("@" in p for p in trained)  # variants of kernels not held out are learned from


def test_same_nest_partners_and_the_family_term(store, config, tmp_path):
    from transfertune.train.train import embed, family_labels, fit, same_nest_partners

    data = build_samples(Storage(store), {"cpu-omp": "MEDIUM", "cpu-seq": "MEDIUM"})
    partners = same_nest_partners(data)
    gemm = next(i for i, s in enumerate(data) if s.program == "gemm" and s.position == 0)
    variant = next(s for s in data if s.program == "gemm@interchange" and s.position == 0)
    assert any(g is variant.graph for g in partners[gemm])
    assert not partners[next(i for i, s in enumerate(data) if s.program == "atax")]

    cfg = config("train", f"db={store}", "model=small", "epochs=40", "alignment=0", "family=1.0",
                 f"data.cache_dir={tmp_path / 'cache'}", f"output_dir={tmp_path}")
    model, history = fit(cfg, data)
    assert all(np.isfinite(r["train_loss"]) for r in history)
    labels = family_labels(data).numpy()
    labelled = labels >= 0
    assert labelled.all()  # every nest here computes a known family
    atax = {s.position: label for s, label in zip(data, labels, strict=True) if s.program == "atax"}
    product, mvt = (next(label for s, label in zip(data, labels, strict=True) if s.program == k) for k in ("gemm", "mvt"))
    assert atax[1] == mvt != product and atax[0] != atax[1]  # atax zeroes y (elementwise) before its products
    z = embed(model, data)[labelled]
    distance = np.linalg.norm(z[:, None] - z[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    assert np.mean(labels[labelled][distance.argmin(axis=1)] == labels[labelled]) >= 0.8


def test_a_measured_evaluation_leaves_the_seed_store_as_shipped(config, tmp_path, monkeypatch):
    """measure=true without db= records its timings beside the results, not in the store
    it read (the seed's cached store, which the next run trains on)."""
    from transfertune.train import train as training

    seed = Storage(f"sqlite:///{tmp_path / 'seed.db'}")
    monkeypatch.setattr(training, "research_store", lambda cfg: seed)
    monkeypatch.setattr(training, "samples", lambda cfg, storage: [])
    monkeypatch.setattr(evaluation, "choose", lambda cfg, data, setting: [])
    recorded = []
    monkeypatch.setattr(evaluation, "measure_together", lambda storage, choices, *rest: recorded.append(storage) or [])
    cfg = config("evaluate-embeddings", "measure=true", f"output_dir={tmp_path / 'out'}", "plot=null")
    evaluation.evaluate_settings(cfg, ["polybench"])
    [storage] = recorded
    assert storage is not seed and str(tmp_path / "out" / "measurements.db") in str(storage.engine.url)
