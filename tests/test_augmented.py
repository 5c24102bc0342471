"""The augmented suite: rewrites keep meaning and change the graph; variants build and
verify like any kernel; splits keep a variant on its base kernel's side."""

import ast
import inspect
import json

import pytest

from transfertune.embed.featurize import featurize
from transfertune.ir.loopnest import loop_nests
from transfertune.ir.program import build_program
from transfertune.ir.target import local_target
from transfertune.measure.variants import Variant, measure_variants
from transfertune.suites import family_of, get_kernel, suite_names, suite_of
from transfertune.suites.augmented import NAMES, VARIANTS_FILE, base_of, rewritten
from transfertune.suites.augmented.generate import choose, recorded_of, same_outputs
from transfertune.suites.augmented.rewrites import REWRITES


def test_every_base_kernel_has_variants_and_names_say_their_base():
    recorded = json.loads(VARIANTS_FILE.read_text())
    bases = {*suite_names("polybench"), *suite_names("corpus")}
    assert set(NAMES) == set(recorded) and {v["base"] for v in recorded.values()} == bases
    assert all(base_of(n) == v["base"] and n.endswith("@" + v["rewrite"]) for n, v in recorded.items())
    assert suite_of("gemm@interchange") == "augmented" and family_of("gemm@shift") == family_of("gemm")


def test_a_suites_recorded_variants_list_as_a_kernels_value():
    listed = recorded_of("corpus")[1:-1].split(",")
    assert listed and all(suite_of(base_of(n)) == "corpus" and n in NAMES for n in listed)
    assert len(listed) + len(recorded_of("polybench")[1:-1].split(",")) == len(NAMES)
    with pytest.raises(ValueError, match="unknown suite"):
        recorded_of("nope")


@pytest.mark.parametrize("name", NAMES)
def test_variants_compute_what_their_base_computes(name):
    variant = get_kernel(name)
    base = get_kernel(base_of(name))
    assert inspect.getsource(variant.func) != inspect.getsource(base.func)
    assert same_outputs(base, variant, "MINI")


def test_a_variant_is_verified_against_the_reference_by_the_one_measuring_path():
    results = measure_variants(get_kernel("gemm@interchange"), local_target("cpu-seq"), "SMALL",
                               [Variant("baseline")], benchmark=False)
    assert results["baseline"].status == "ok"


def test_rewrites_change_the_graph():
    def nest_graphs(name):
        return [featurize(n.canonical_json) for n in loop_nests(name, build_program(get_kernel(name)).sdfg())]

    base = nest_graphs("gemm")
    for rewrite in ("interchange", "shift"):
        variant = nest_graphs(f"gemm@{rewrite}")
        assert len(variant) == len(base)
        assert any(not (a.x.shape == b.x.shape and (a.x == b.x).all() and a.edge_attr.shape == b.edge_attr.shape
                        and (a.edge_attr == b.edge_attr).all()) for a, b in zip(base, variant, strict=True))


def test_a_rewrite_that_changes_the_result_is_refused():
    # Gauss-Seidel reads values updated in the same sweep: swapping its loops changes the result.
    seidel = get_kernel("seidel-2d")
    candidates = [rewritten(seidel, "interchange", c) for c in range(2)]
    assert all(c is not None and not same_outputs(seidel, c) for c in candidates)
    assert choose(seidel, "interchange") is None and "seidel-2d@interchange" not in NAMES
    scan = ast.parse("def f(x):\n    for i in range(1, 9):\n        x[i] += x[i - 1]\n").body[0]
    shifted = ast.unparse(next(REWRITES["shift"](scan)))
    assert "range(1 + 1, 9 + 1)" in shifted and "x[i - 1] += x[i - 1 - 1]" in shifted
