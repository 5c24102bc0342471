"""Search strategies on a replaying context (no compiler), and the tuning loop for real
on small sizes, locally and on a Dask LocalCluster."""

import json
import random

import pytest

from transfertune.commands import report
from transfertune.db import Storage
from transfertune.ir.recipe import Recipe, Step
from transfertune.measure.variants import Settings
from transfertune.suites.polybench import get_kernel
from transfertune.tune.executor import make_executor
from transfertune.tune.strategy import Budget, Candidate, get_strategy
from transfertune.tune.tuner import TuneOptions, Tuner


class ReplayContext:
    """Recipes are 'tile the root by s'; their speedup is a fixed table (a recorded search)."""

    def __init__(self, seeds=()):
        self.rng = random.Random(0)
        self.seeds = list(seeds)
        self.table = {s: 1.0 + s / 100 - (s / 256) ** 2 for s in (4, 8, 16, 32, 64, 128, 256)}
        self.measured: list[Candidate] = []

    @staticmethod
    def recipe(size):
        return Recipe((Step("tile", (), {"size": size}),))

    def sample(self, count):
        return [self.recipe(self.rng.choice(list(self.table))) for _ in range(count)]

    def mutate(self, recipe):
        return self.recipe(self.rng.choice(list(self.table)))

    def evaluate(self, recipes):
        out = [Candidate(r, self.table[r.steps[0].params["size"]]) for r in recipes]
        self.measured += out
        return out

    @property
    def results(self):
        return self.measured


@pytest.mark.parametrize("name", ["random", "evolutionary"])
def test_strategies_respect_the_budget(name):
    context = ReplayContext()
    get_strategy(name).tune(context, Budget(variants=10))
    assert 1 <= len(context.results) <= 10


def test_evolutionary_search_starts_from_the_seeds():
    seed = ReplayContext.recipe(128)
    context = ReplayContext(seeds=[seed])
    get_strategy("evolutionary", population=2).tune(context, Budget(variants=6))
    assert context.results[0].recipe == seed
    assert max(c.speedup for c in context.results) >= context.table[128]


def test_a_tie_goes_to_the_recipe_with_fewer_steps():
    from transfertune.tune.trials import simplest_fastest

    blas = Recipe((Step("blas", ()),))
    both = Recipe((Step("parallelize", ()), Step("blas", ())))
    tile = Recipe((Step("tile", (), {"size": 32}),))
    assert simplest_fastest([Candidate(both, 34.2), Candidate(blas, 33.1)]).recipe == blas  # within 5%: simpler
    assert simplest_fastest([Candidate(both, 40.0), Candidate(blas, 33.1)]).recipe == both  # clearly faster
    assert simplest_fastest([Candidate(tile, 2.0), Candidate(blas, 0.0, "error")]).recipe == tile


def test_unknown_strategy():
    with pytest.raises(ValueError, match="unknown strategy 'annealing'"):
        get_strategy("annealing")


def _tuner(url, executor, target="cpu-omp", remeasure=frozenset(), budget=2, retune=False):
    options = TuneOptions(size="SMALL", budget=Budget(variants=budget),
                          settings=Settings(repetitions=2, check_size="MINI", early_stop=2.0),
                          final_repetitions=2, remeasure=remeasure, retune=retune)
    return Tuner(Storage(url), executor, target, get_strategy("random", batch=2), options)


def test_tune_records_everything_and_resumes(tmp_path):
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    executor = make_executor("local")
    try:
        result = _tuner(url, executor).tune_kernel(get_kernel("gemm"))
    finally:
        executor.shutdown()
    assert not result.resumed and result.variants_tried >= 1
    assert set(result.measurements) >= {"baseline", "polly", "docc", "tuned"}
    assert all(m.ok for m in result.measurements.values())
    storage = Storage(url)
    count = len(storage.measurements())
    assert len(storage.measurements(whole_program=False)) >= 3  # baseline + candidates per nest
    # a second run finds the finished kernel in the database and measures nothing
    again = _tuner(url, make_executor("local")).tune_kernel(get_kernel("gemm"))
    assert again.resumed and len(storage.measurements()) == count
    # ... unless its stride order changed (a step it takes learnt more): it is tuned again
    novel = Recipe((Step("tile", (), {"size": 4}),))
    executor = make_executor("local")
    try:
        changed = _tuner(url, executor)
        changed.derived = lambda program, nest: [novel]
        retuned = changed.tune_kernel(get_kernel("gemm"))
    finally:
        executor.shutdown()
    assert not retuned.resumed and novel.to_json() in [m.recipe for m in storage.measurements(whole_program=False)]
    # ... unless a step learnt more since: its recipes are measured again, the kernel tuned again
    nests = len(storage.measurements(whole_program=False))
    executor = make_executor("local")
    try:
        fresh = _tuner(url, executor, remeasure=frozenset({"blas"})).tune_kernel(get_kernel("gemm"))
    finally:
        executor.shutdown()
    blas = [m for m in storage.measurements(whole_program=False)[nests:] if m.recipe and "blas" in json.dumps(m.recipe)]
    assert not fresh.resumed and blas
    # ... or when asked to tune again: a larger budget searches on from what was measured
    executor = make_executor("local")
    try:
        deeper = _tuner(url, executor, budget=fresh.variants_tried + 3, retune=True).tune_kernel(get_kernel("gemm"))
    finally:
        executor.shutdown()
    assert not deeper.resumed and deeper.variants_tried > fresh.variants_tried
    table, source = report.rows(storage, "cpu-omp", "SMALL")
    assert [r["kernel"] for r in table] == ["gemm"] and "this machine" in source
    assert table[0]["tuned_speedup"] > 0 and table[0]["variants_tried"] == deeper.variants_tried


def test_report_json(tmp_path, config, capsys):
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    executor = make_executor("local")
    try:
        _tuner(url, executor, "cpu-seq").tune_kernel(get_kernel("jacobi-1d"))
    finally:
        executor.shutdown()
    assert report.main(config("report", "target=cpu-seq", "size=SMALL", f"db={url}", "format=json",
                              f"output_dir={tmp_path}")) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"kernels", "geomean"}
    assert set(data["geomean"]) == {"tuned", "polly", "docc", "clang_c", "polly_c", "numpy"}
    assert data["geomean"]["numpy"] is None  # jacobi-1d has no one-call NumPy formulation
    assert data["kernels"][0]["kernel"] == "jacobi-1d"
    assert (tmp_path / "cpu-seq-SMALL.md").exists()


def test_tuning_through_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                       resources={"cpu-seq": 1}, dashboard_address=None)
    executor = make_executor("dask", target="cpu-seq", cluster=cluster)
    try:
        result = _tuner(f"sqlite:///{tmp_path / 'tune.db'}", executor, "cpu-seq").tune_kernel(
            get_kernel("jacobi-1d"))
    finally:
        executor.shutdown()
        cluster.close()
    assert result.measurements["baseline"].ok and result.measurements["tuned"].ok


def test_split_swap_turns_the_covariance_column_walk_into_a_row_walk():
    """Distribute the `j` loop fully, then swap the accumulation loop below `k`: the
    three-step move the search needs where Polly wins (covariance, correlation)."""
    from transfertune.ir.program import build_program
    from transfertune.ir.transform import apply_recipe
    from transfertune.tune.probes import PROBES
    from transfertune.tune.space import split_swap

    grown = []
    for seed in range(6):
        sdfg = build_program(get_kernel("covariance")).sdfg()
        assert apply_recipe(sdfg, Recipe((Step("distribute", (0,)),)), nest=2)[1][0].applied
        grown.append(split_swap(sdfg, 2, (0,), random.Random(seed)))
    assert all(steps[0] == Step("distribute", (1,)) for steps in grown)
    assert Step("interchange", (1,), {"inner": (1, 0)}) in {s for steps in grown for s in steps}
    sdfg = build_program(get_kernel("covariance")).sdfg()
    _, results = apply_recipe(sdfg, PROBES["split_swap"], nest=2)
    assert all(r.applied for r in results), results


def test_the_tuner_measures_each_nest_stride_order_beside_the_probes(tmp_path):
    """The stride order is read off the nest's code (`transfertune.ir.stride`): trmm's
    column walk gets one, gemm (already walking rows, and sequential on cpu-seq) none."""
    from transfertune.ir.loopnest import loop_nests
    from transfertune.ir.program import build_program
    from transfertune.ir.stride import stride_recipe

    tuner = _tuner(f"sqlite:///{tmp_path / 'tune.db'}", make_executor("inline"), "cpu-seq")
    for name, expected in (("trmm", 1), ("gemm", 0)):
        program = build_program(get_kernel(name))
        (nest,) = loop_nests(name, program.sdfg())
        derived = tuner.derived(program, nest)
        assert len(derived) == expected
        assert derived == ([stride_recipe(program.sdfg_json, 0, openmp=False)] if expected else [])
