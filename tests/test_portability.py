"""One recipe, written for gemm, applied to similar kernels: it must port (steps apply)
and the results must stay correct."""

from pathlib import Path

import pytest

from transfertune.ir.recipe import load_recipe
from transfertune.ir.target import local_target
from transfertune.measure.variants import Variant, measure_variants
from transfertune.suites.polybench import get_kernel

GEMM_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "gemm-omp.json"


@pytest.mark.parametrize("name", ["gemm", "syrk", "syr2k", "2mm"])
def test_gemm_recipe_ports_correctly(name):
    recipe = load_recipe(GEMM_RECIPE)
    results = measure_variants(get_kernel(name), local_target("cpu-omp"), "SMALL",
                               [Variant("recipe", recipe)], benchmark=False)
    m = results["recipe"]
    assert m.status == "ok", m.message
    assert m.max_error is not None and m.max_error < 1e-9
    assert "parallelize []: applied" in m.message
