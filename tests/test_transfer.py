"""Index, nearest-recipe queries and transfer() on a store with recorded measurements
(the recorded numbers stand in for a tuning run; transfer itself measures for real)."""

import csv
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TILE
from tests.user_kernels import matmul_acc, matmul_acc_renamed, matmul_acc_scaled, not_parseable
from transfertune.db import Storage
from transfertune.index.embedder import Embedder
from transfertune.index.lookup import RecipeLookup, resolve_target
from transfertune.index.recipe_index import RecipeIndex
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import local_target
from transfertune.measure.measurement import Measurement
from transfertune.measure.variants import Settings
from transfertune.porting.api import transfer
from transfertune.porting.user import bind_arguments, parse_user_program
from transfertune.suites.polybench import get_kernel


def test_index_round_trip(tmp_path):
    index = RecipeIndex.for_size(4, 3, {"checkpoint": "abc"})
    vectors = np.eye(4, dtype=np.float32)[:3]
    index.add(vectors, np.array([7, 8, 9]))
    index.save(tmp_path / "i.index.npz")
    again = RecipeIndex.load(tmp_path / "i.index.npz")
    assert len(again) == 3 and again.manifest == {"checkpoint": "abc"}
    assert again.search(vectors[1:2], 1)[1][0, 0] == 8
    with pytest.raises(ValueError, match="non-negative"):
        index.add(vectors[:1], np.array([-1]))
    assert RecipeIndex.for_size(4, 10**6).kind == "hnsw"


def test_index_save_is_atomic(tmp_path, monkeypatch):
    """A reader never sees a partial file: save writes a temporary in the same directory
    (so the rename is atomic) and renames it; a crash mid-write leaves the old file whole."""
    import os

    path = tmp_path / "i.index.npz"
    old = RecipeIndex(4, manifest={"version": "old"})
    old.add(np.eye(4, dtype=np.float32), np.array([1, 2, 3, 4]))
    old.save(path)
    renamed = []
    real_replace = os.replace

    def replace(src, dst):
        renamed.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    old.save(path)
    assert renamed == [(renamed[0][0], path)] and renamed[0][0].parent == path.parent
    monkeypatch.setattr(os, "replace", real_replace)

    def torn(file, **arrays):  # half the bytes written, then the process "dies"
        file.write(b"PK\x03\x04 half an npz")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", torn)
    new = RecipeIndex(4, manifest={"version": "new"})
    with pytest.raises(KeyboardInterrupt):
        new.save(path)
    monkeypatch.undo()
    again = RecipeIndex.load(path)
    assert again.manifest == {"version": "old"} and len(again) == 4
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind


def test_index_benchmark_sweeps_hnsw_search_effort(tmp_path, monkeypatch):
    import importlib.util

    import transfertune.index.recipe_index as recipe_index

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "index_benchmark.py"
    spec = importlib.util.spec_from_file_location("index_benchmark", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(recipe_index, "APPROXIMATE_FROM", 500)  # HNSW at a size a test can build
    rows = bench.measure(2000, 8, 20, np.random.default_rng(0))
    assert [r["ef_search"] for r in rows] == list(bench.EF_SEARCH) and {r["kind"] for r in rows} == {"hnsw"}
    assert sum(r["default"] for r in rows) == 1 and rows[-1]["recall_at_10"] >= 0.95
    exact = bench.measure(300, 8, 20, np.random.default_rng(0))
    assert len(exact) == 1 and exact[0]["kind"] == "exact" and exact[0]["recall_at_10"] == 1.0
    bench.plot(rows + exact, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").stat().st_size > 5_000
    index = RecipeIndex(4)
    with pytest.raises(ValueError, match="HNSW"):
        index.ef_search = 64


def test_query_returns_neighbours_and_ranked_recipes(lending_store, checkpoint, tmp_path):
    store = lending_store
    lookup = RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint), cache=tmp_path)
    args = bind_arguments(matmul_acc, (np.zeros((8, 9)), np.zeros((8, 10)), np.zeros((10, 9))))
    program = parse_user_program(matmul_acc, args).program
    answer = lookup.query(loop_nests("m", program.sdfg()), resolve_target(Storage(store), local_target("cpu-omp")),
                          "LARGE", k=3)
    (nest,) = answer
    assert len(nest["neighbours"]) == 3
    assert [n["distance"] for n in nest["neighbours"]] == sorted(n["distance"] for n in nest["neighbours"])
    for neighbour in nest["neighbours"]:  # winners only, best first
        speedups = [r["speedup"] for r in neighbour["recipes"]]
        assert speedups == sorted(speedups, reverse=True) and all(s > 1 for s in speedups)
    assert any(neighbour["recipes"] for neighbour in nest["neighbours"])
    # incremental: a second lookup object loads the persisted index instead of rebuilding it
    assert list(tmp_path.glob("*.index.npz"))


def test_unknown_target_falls_back_and_says_so(tmp_path):
    storage = Storage(f"sqlite:///{tmp_path / 'seq.db'}")
    nest = loop_nests("gemm", build_program(get_kernel("gemm")).sdfg())[0]
    gemm = get_kernel("gemm")
    storage.record(Measurement("baseline", "ok", (1.0,)), kernel=gemm, target=local_target("cpu-seq"),
                   size="LARGE", run="r", nest=nest)
    storage.record(Measurement("recipe", "ok", (0.5,)), kernel=gemm, target=local_target("cpu-seq"),
                   size="LARGE", run="r", nest=nest, recipe=TILE)
    # cpu-omp has runs, but no measured recipe: it cannot answer, so it falls back too
    storage.record(Measurement("baseline", "ok", (1.0,)), kernel=gemm, target=local_target("cpu-omp"),
                   size="LARGE", run="q")
    resolved = resolve_target(storage, local_target("cpu-omp"))
    assert resolved.name == "cpu-seq" and "no measured recipes" in resolved.note


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
    assert again.run.recipe == result.run.recipe and again.report["speedup"] == report["speedup"]
    renamed = transfer(matmul_acc_renamed, C.copy(), A, B, target="cpu-omp", size="LARGE", settings=settings,
                       lookup=lookup)  # the same code under another name: the same program
    assert renamed.report["from_database"] is True and len(Storage(store).measurements()) == recorded
    edited = parse_user_program(matmul_acc_scaled, bind_arguments(matmul_acc_scaled, (C, A, B)))
    assert edited.content != parse_user_program(matmul_acc, bind_arguments(matmul_acc, (C, A, B))).content
    small = (rng.random((21, 33)), rng.random((21, 17)), rng.random((17, 33)))  # another shape, same class
    want = small[0] + small[1] @ small[2]
    again.run(*small)
    np.testing.assert_allclose(small[0], want, rtol=1e-12)


def test_bad_input_is_a_clear_error(store, checkpoint):
    with pytest.raises(ValueError, match="docc cannot parse"):
        transfer(not_parseable, np.zeros(4), db=store, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="arguments do not match"):
        transfer(matmul_acc, np.zeros((2, 2)), db=store, checkpoint=checkpoint)
    with pytest.raises(ValueError, match="arrays must be one of float64"):
        transfer(matmul_acc, np.zeros((2, 2), dtype=np.complex128), np.zeros((2, 2)), np.zeros((2, 2)), db=store)
    with pytest.raises(ValueError, match="empty array"):
        transfer(matmul_acc, np.zeros((0, 2)), np.zeros((0, 2)), np.zeros((2, 2)), db=store)
    with pytest.raises(ValueError, match="unknown target 'tpu'"):
        transfer(matmul_acc, np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)), target="tpu", db=store)
    with pytest.raises(ValueError, match="checkpoint not found"):
        transfer(matmul_acc, np.zeros((2, 2)), np.zeros((2, 2)), np.zeros((2, 2)), db=store,
                 checkpoint="/nonexistent.pt")


def test_polybench_loo_experiment_and_notebook(store, config, tmp_path, capsys):
    import json
    import os

    import nbformat
    from nbclient import NotebookClient

    from transfertune.commands import experiment

    out = tmp_path / "loo"
    keys = ("experiment", "kernels=[gemm,syrk]", "targets=[cpu-omp]", "size=MINI", "check_size=MINI",
            "folds=2", "epochs=5", "model=small", "repetitions=2", f"db={store}", f"output_dir={out}",
            f"data.cache_dir={tmp_path / 'cache'}", "~data.sizes.cpu-seq", "data.sizes.cpu-omp=LARGE")
    # A bounded session (the GPU's): the first transfer (an encoder trained, two measuring
    # children started) takes well over half of 1 s, so a second would end past it.
    # Its copy of the database is kept at scratch_db (a new machine's first measurements).
    scratch = tmp_path / "kept" / "scratch.db"
    seed_count = len(Storage(store).measurements())
    assert experiment.main(config(*keys, "time_budget=1", f"scratch_db={scratch}")) == 0
    assert len((out / "results.csv").read_text().splitlines()) == 2
    assert "time budget of 1 s: stopping before" in capsys.readouterr().out
    first = len(Storage(f"sqlite:///{scratch}").measurements())
    assert first > seed_count and not scratch.with_suffix(".partial").exists()
    # The next call resumes the same copy, and times only the peers it is asked for.
    assert experiment.main(config(*keys, f"scratch_db={scratch}", "peers=[numpy]")) == 0
    assert len(Storage(f"sqlite:///{scratch}").measurements()) > first
    second = list(csv.DictReader((out / "results.csv").open()))[1]
    assert float(second["numpy"]) > 0 and second["polly"] == second["docc"] == ""
    from benchmarks.experiment_spreads import spreads_table

    table = spreads_table(Storage(f"sqlite:///{scratch}"), "cpu-omp", "MINI")
    assert "| gemm |" in table and "| syrk |" in table and "(n=5)" in table and "| **largest** |" in table
    with pytest.raises(ValueError, match="unknown peer 'icc'"):
        experiment.main(config(*keys, "output_dir=" + str(tmp_path / "other"), "peers=[icc]"))
    cfg = config(*keys)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["geomean"]) == {"transfer", "polly", "docc", "clang_c", "polly_c", "numpy", "oracle"}
    assert summary["geomean"]["numpy"] > 0  # both kernels have a NumPy formulation
    assert summary["geomean"]["clang_c"] is None  # no PolyBench/C checkout configured: no C peers
    assert summary["kernels"] == 2 and "cpu" in summary["machine"] and "commit" in summary
    by_target = summary["by_target"]["cpu-omp"]
    assert by_target["geomean"] == summary["geomean"] and by_target["kernels"] == 2
    assert by_target["transfer_over"]["numpy"] > 0 and by_target["transfer_over"]["polly_c"] is None
    assert isinstance(summary["regressions"], list) and summary["max_variants_per_kernel"] >= 1
    assert (out / "speedups.png").stat().st_size > 5_000 and "| gemm | cpu-omp |" in (out / "results.md").read_text()
    before = (out / "results.csv").read_text()
    assert experiment.main(cfg) == 0  # resumed: both kernels are done, nothing is measured again
    assert (out / "results.csv").read_text() == before
    assert json.loads((out / "summary.json").read_text())["geomean"] == summary["geomean"]
    notebook = nbformat.read(Path(__file__).resolve().parents[1] / "notebooks" / "polybench_loo.ipynb", as_version=4)
    os.environ["TT_RESULTS"] = str(out)
    try:
        NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    finally:
        del os.environ["TT_RESULTS"]
    assert (out / "notebook_speedups.png").exists()


def test_unseen_experiment_writes_its_tables_and_resumes(store, config, tmp_path, capsys):
    """Two corpus kernels on cpu-seq with a tiny budget: CSV, Markdown and summary.json
    (with the commit) in the experiment's own output directory; a second call resumes."""
    import json

    from transfertune.cli import main as cli_main
    from transfertune.commands import experiment

    assert str(config("experiment", "name=unseen").output_dir) == "outputs/unseen"
    out = tmp_path / "unseen"
    overrides = ["name=unseen", "kernels=[row-sums,col-means]", "targets=[cpu-seq]", "size=MINI", "check_size=SMALL",
                 "repetitions=2", "max_variants=2", "k=1", "recipes_per_neighbour=1", f"db={store}",
                 "epochs=5", f"output_dir={out}", "data.sizes.cpu-omp=LARGE", "data.sizes.cpu-seq=LARGE"]
    assert experiment.main(config("experiment", *overrides)) == 0
    rows = (out / "results.csv").read_text().splitlines()
    assert rows[0].startswith("kernel,family,target,baseline_s,transfer,numpy_s") and len(rows) == 3
    assert "| row-sums |" in (out / "results.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["by_target"]["cpu-seq"]["kernels"] == 2 and summary["wrong"] == []
    assert summary["commit"] is None or len(summary["commit"].removesuffix("-dirty")) == 40
    before = (out / "results.csv").read_text()
    assert experiment.main(config("experiment", *overrides)) == 0  # resumed: nothing is transferred again
    assert (out / "results.csv").read_text() == before
    # a directory another experiment wrote (polybench_loo's table) is a one-line error, not a KeyError
    other = tmp_path / "loo"
    other.mkdir()
    (other / "results.csv").write_text("kernel,target,baseline_s,transfer,oracle,variants,seconds,recipe\n"
                                       "gemm,cpu-seq,0.1,1.5,2.0,3,1.0,{}\n")
    capsys.readouterr()
    assert cli_main(["experiment", *(o for o in overrides if not o.startswith("output_dir=")),
                     f"output_dir={other}"]) == 2
    err = capsys.readouterr().err
    assert "holds another table" in err and "numpy_s" in err and len(err.splitlines()) == 1


def test_query_and_transfer_commands(lending_store, checkpoint, config, tmp_path, capsys):
    import json

    from transfertune.commands import query
    from transfertune.commands import transfer as transfer_command

    common = [f"db={lending_store}", f"checkpoint={checkpoint}", "~data.sizes.cpu-seq", "data.sizes.cpu-omp=LARGE"]
    common.append("format=json")
    assert query.main(config("query", "kernel=3mm", *common)) == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["nests"]) == 3 and answer["query_ms_median_of_5"] > 0
    assert all(any(nb["recipes"] for nb in n["neighbours"]) for n in answer["nests"])  # lenders: winners only
    np.savez(tmp_path / "in.npz", C=np.ones((20, 30)), A=np.ones((20, 25)), B=np.ones((25, 30)))
    function = f"function={Path(__file__).parent / 'user_kernels.py'}:matmul_acc"
    assert query.main(config("query", function, f"args={tmp_path / 'in.npz'}", *common)) == 0
    assert json.loads(capsys.readouterr().out)["program"] == "matmul_acc"
    assert transfer_command.main(config("transfer", function, f"args={tmp_path / 'in.npz'}", "repetitions=2",
                                        *common)) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["nests"][0]["tried"] and "speedup" in report
    bad = tmp_path / "bad.json"
    bad.write_text('{"nodes": []}')
    with pytest.raises(ValueError, match="not an SDFG"):
        query.main(config("query", f"sdfg={bad}", *common))
    with pytest.raises(ValueError, match="exactly one of"):
        query.main(config("query", *common))


def test_index_command_builds_and_rebuilds(store, checkpoint, config, capsys, tmp_path, monkeypatch):
    import json

    from transfertune.commands import index

    monkeypatch.setenv("TRANSFERTUNE_CACHE", str(tmp_path))
    common = [f"db={store}", f"checkpoint={checkpoint}", "~data.sizes.cpu-seq", "data.sizes.cpu-omp=LARGE"]
    assert index.main(config("index", *common)) == 0
    built = json.loads(capsys.readouterr().out)
    assert built["kind"] == "exact" and built["vectors"] >= 5 and "gemm" in built["programs"]
    assert built["checkpoint"] and built["store"] == Storage(store).identity and built["store_state"]
    assert index.main(config("index", "rebuild=true", *common)) == 0
    assert json.loads(capsys.readouterr().out)["vectors"] == built["vectors"]


def test_variants_are_shared_round_robin_across_nests():
    from transfertune.porting.lending import share_variants

    a, b, c = (Recipe((Step("tile", (), {"size": s}),)) for s in (8, 16, 32))
    assert share_variants([[a, b, c], [b], [c, a]], 4) == [[a, b], [b], [c]]
    assert share_variants([[a, b, c], [b]], None) == [[a, b, c], [b]]
    assert share_variants([[a], []], 9) == [[a], []]
    assert share_variants([[a, b, c], [b], [c, a]], 4, [2, 0, 1]) == [[a, b, c], [], [c]]


def test_variants_go_where_the_work_is():
    """correlation: 99% of its statements are in its last nest; that nest gets every
    variant, including the recipes that won on neighbours' own dominant nests."""
    from transfertune.ir.program import build_program
    from transfertune.ir.work import nest_work, shares, suite_values
    from transfertune.measure.variants import suite_workload
    from transfertune.porting.lending import dominant_nest, plan_candidates, work_shares

    kernel = get_kernel("correlation")
    fractions = work_shares(suite_workload(kernel, "LARGE", "MINI"))
    assert len(fractions) == 3 and fractions[2] > 0.99 and abs(sum(fractions) - 1) < 1e-9
    # syrk is triangular: per (i, j <= i) one scaling tasklet and per k three (two products, a sum).
    program = build_program(get_kernel("syrk"))
    n, m = 13, 7
    assert nest_work(program, suite_values(program, {"N": n, "M": m})) == [n * (n + 1) / 2 * (1 + 3 * m)]
    assert shares([1.0, 3.0]) == [0.25, 0.75]
    assert dominant_nest("covariance", "LARGE") == 2 and dominant_nest("3mm", "LARGE") is None
    assert dominant_nest("my_function", "LARGE") is None
    a, b, c = (Recipe((Step("tile", (), {"size": s}),)) for s in (8, 16, 32))

    def answer(kernel: str, position: int, recipe: Recipe) -> dict:
        return {"neighbours": [{"kernel": kernel, "position": position, "distance": 0.1,
                                "recipes": [{"recipe": recipe.to_json()}]}]}

    # The neighbours of nests 0 and 1 are their programs' dominant nests (covariance's
    # accumulation, gemm's only nest): their recipes are offered to nest 2, after its own.
    planned = plan_candidates([answer("covariance", 2, a), answer("gemm", 0, b), answer("3mm", 1, c)],
                              fractions, 9, "LARGE")
    assert planned == [[], [], [c, a, b]]
    # A nest that computes a matrix product gets the library call first, whatever was lent.
    from transfertune.ir.target import local_target
    from transfertune.porting.lending import LIBRARY_CALL, product_nests

    assert product_nests(build_program(get_kernel("2mm")), local_target("cpu-omp")) == {0, 1}
    assert product_nests(build_program(get_kernel("syrk")), local_target("cpu-omp")) == {0}  # a rank update
    assert product_nests(build_program(get_kernel("trmm")), local_target("cpu-omp")) == frozenset()
    planned = plan_candidates([answer("gemm", 0, b), answer("3mm", 1, c)], [0.58, 0.42], 3, "LARGE", frozenset({0, 1}))
    assert planned[0][0] == LIBRARY_CALL and planned[1][0] == LIBRARY_CALL
    # The nest's stride order, also read off its own code, comes right after the library call.
    ordered = Recipe((Step("interchange", ()),))
    planned = plan_candidates([answer("gemm", 0, b), answer("3mm", 1, c)], [0.58, 0.42], 5, "LARGE", frozenset({0}),
                              {0: ordered, 1: ordered})
    assert planned == [[LIBRARY_CALL, ordered, b], [ordered, c]]
