"""The corpus suite: kernels beyond PolyBench, their metadata, inputs and correctness."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tests.conftest import REDUCED
from transfertune.ir.kernel import copy_args
from transfertune.ir.program import probe_params
from transfertune.ir.target import local_target
from transfertune.measure.variants import Variant, measure_variants
from transfertune.suites import get_kernel as find_kernel
from transfertune.suites import polybench
from transfertune.suites.corpus import NAMES, all_kernels, get_kernel

PEERS = ("baseline", "polly", "docc")
"""The peers built from the program itself (no PolyBench/C source, no NumPy formulation here)."""

FAMILIES = {"matrix-product", "tensor-contraction", "convolution", "stencil", "reduction",
            "row-wise", "pooling", "all-pairs", "signal"}
DATASETS = ["MINI", "SMALL", "MEDIUM", "LARGE"]
STEP_PARAMS = ("TSTEPS",)


def _arrays(args: dict) -> dict[str, np.ndarray]:
    return {name: value for name, value in args.items() if isinstance(value, np.ndarray)}


def _extents(kernel, params: dict[str, int]) -> dict[tuple[str, int], int]:
    """(array, dimension) -> extent of the kernel's inputs at `params`."""
    return {(name, dim): extent for name, value in _arrays(kernel.init(**params)).items()
            for dim, extent in enumerate(value.shape)}


def test_corpus_has_many_unique_kernels_none_of_them_polybench():
    kernels = all_kernels()
    assert len(kernels) >= 24
    assert [k.name for k in kernels] == list(NAMES)
    assert len(set(NAMES)) == len(NAMES)
    assert not set(NAMES) & set(polybench.NAMES)
    for name in NAMES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name), name
        assert find_kernel(name) is get_kernel(name)  # found through the suite registry


def test_families_come_from_the_vocabulary_and_cover_most_of_it():
    groups = [k.group for k in all_kernels()]
    assert set(groups) <= FAMILIES
    assert len(set(groups)) >= 8
    # NAMES lists kernels grouped by family: each family is one contiguous run
    runs = [g for i, g in enumerate(groups) if i == 0 or groups[i - 1] != g]
    assert len(runs) == len(set(groups))


def test_unknown_corpus_kernel_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown kernel 'softmaxx'; the corpus has: "):
        get_kernel("softmaxx")
    with pytest.raises(ValueError, match="unknown kernel 'softmaxx'"):
        find_kernel("softmaxx")


@pytest.mark.parametrize("name", NAMES)
def test_sizes_flops_outputs_and_deterministic_inputs(name):
    k = get_kernel(name)
    assert list(k.sizes) == DATASETS
    params = list(k.params("MINI"))
    assert 1 <= len(params) <= 8
    assert all(p.isupper() for p in params)
    for size in DATASETS:
        assert list(k.params(size)) == params
        assert k.flops(**k.params(size)) > 0 and isinstance(k.flops(**k.params(size)), int)
    assert k.flops(**k.params("LARGE")) > k.flops(**k.params("MEDIUM")) > k.flops(**k.params("SMALL")) \
        > k.flops(**k.params("MINI"))
    args = k.arguments("MINI")
    assert list(args) == list(k.func.__code__.co_varnames[:k.func.__code__.co_argcount])
    assert k.outputs and set(k.outputs) <= set(_arrays(args))
    again = k.arguments("MINI")
    for arg, value in args.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float64 and value.flags.c_contiguous, arg
            assert np.array_equal(value, again[arg]), arg
        else:
            assert type(value) in (int, float) and value == again[arg], arg


@pytest.mark.parametrize("name", NAMES)
def test_every_size_parameter_is_an_extent_and_probing_merges_no_extents(name):
    k = get_kernel(name)
    probe = probe_params(k)
    at_probe = _extents(k, probe)
    for param in probe:
        if param in STEP_PARAMS:
            continue
        grown = _extents(k, probe | {param: probe[param] + 2})
        assert grown != at_probe, f"{param} sizes no array"
    # docc gives equal extents one symbol: extents equal at probe sizes must be equal everywhere
    for size in DATASETS:
        real = _extents(k, k.params(size))
        for a, extent in at_probe.items():
            for b, other in at_probe.items():
                if extent == other:
                    assert real[a] == real[b], (size, a, b)


@pytest.mark.parametrize("name", NAMES)
def test_loops_run_as_python_agree_with_the_reference_and_change_every_output(name):
    k = get_kernel(name)
    args = k.arguments("MINI")
    got, want = copy_args(args), copy_args(args)
    k.func(**got)
    k.reference(**want)
    for out in k.outputs:
        np.testing.assert_allclose(got[out], want[out], rtol=1e-9, atol=1e-9 * max(1.0, np.abs(want[out]).max()))
        assert not np.array_equal(want[out], args[out]), f"{out} is left as it was"
    for arg in set(_arrays(args)) - set(k.outputs):
        assert np.array_equal(got[arg], args[arg]), f"{arg} is written but not an output"


def _sample() -> list[str]:
    """Every kernel, or under REDUCED about six spread over families."""
    if not REDUCED:
        return list(NAMES)
    return ["mlp-layer", "tensor-contract-4d", "conv2d-nchw", "poisson-3d", "softmax", "dft"]


@pytest.mark.slow
@pytest.mark.parametrize("name", _sample())
def test_corpus_kernel_verifies_on_cpu_seq(name):
    results = measure_variants(get_kernel(name), local_target("cpu-seq"), "MINI", [Variant(p) for p in PEERS],
                               benchmark=False)
    for peer, m in results.items():
        assert m.status == "ok", (peer, m.status, m.message[-500:])
        assert m.max_error is not None and m.max_error < 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("name", ["conv2d", "softmax", "pairwise-distance"] if REDUCED
                         else ["conv2d", "softmax", "pairwise-distance", "batched-matmul", "poisson-3d", "dft"])
def test_transferred_corpus_kernel_is_right_at_another_shape(name, store, checkpoint, tmp_path):
    """A user's view: transfer at MINI, then call the returned program at SMALL (other
    extents) and compare with the NumPy reference."""
    import inspect

    import transfertune
    from transfertune.db import Storage
    from transfertune.index.embedder import Embedder
    from transfertune.index.lookup import RecipeLookup
    from transfertune.measure.child import max_error
    from transfertune.measure.variants import Settings

    kernel = get_kernel(name)
    order = list(inspect.signature(kernel.func).parameters)
    at = {n: kernel.arguments("MINI")[n] for n in order}
    result = transfertune.transfer(kernel.func, *at.values(), target="cpu-omp", size="LARGE",
                                   settings=Settings(repetitions=2, early_stop=1.5),
                                   lookup=RecipeLookup(Storage(store), Embedder.from_checkpoint(checkpoint), cache=tmp_path))
    other = {n: kernel.arguments("SMALL")[n] for n in order}
    want = copy_args(other)
    kernel.reference(**want)
    result.run(*other.values())
    assert max(max_error(other[o], want[o]) for o in kernel.outputs) <= 1e-9
