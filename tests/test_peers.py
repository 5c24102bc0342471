"""Peers beside the project's own variants: PolyBench/C sources (from a checkout the
user names; here a stand-in written in PolyBench's conventions) and NumPy."""

import csv

import numpy as np
import pytest

from transfertune.commands import baseline, run
from transfertune.ir.target import local_target
from transfertune.measure.peers import peers_for
from transfertune.measure.variants import Settings, Variant, measure_variants, suite_workload
from transfertune.suites import get_kernel
from transfertune.suites.corpus import all_kernels as corpus_kernels
from transfertune.suites.polybench import all_kernels
from transfertune.suites.polybench.c_source import CSourceError, benchmark_file

HEADER = """#ifndef POLYBENCH_H
#define POLYBENCH_H
#define POLYBENCH_2D(var, dim1, dim2, ddim1, ddim2) var[dim1][dim2]
#endif
"""
GEMM = """#include <polybench.h>
#ifdef DATA_TYPE_IS_DOUBLE
#define DATA_TYPE double
#endif
static void kernel_gemm(int ni, int nj, int nk, DATA_TYPE alpha, DATA_TYPE beta,
                        DATA_TYPE POLYBENCH_2D(C,NI,NJ,ni,nj), DATA_TYPE POLYBENCH_2D(A,NI,NK,ni,nk),
                        DATA_TYPE POLYBENCH_2D(B,NK,NJ,nk,nj))
{
  for (int i = 0; i < ni; i++) {
    for (int j = 0; j < nj; j++) C[i][j] *= beta;
    for (int k = 0; k < nk; k++)
      for (int j = 0; j < nj; j++) C[i][j] += SCALE * A[i][k] * B[k][j];
  }
}
int main(void) { return 0; }
"""


def checkout(root, scale="alpha"):
    """A stand-in PolyBench/C checkout holding gemm (`scale` lets a test break it)."""
    (root / "utilities").mkdir(parents=True)
    (root / "utilities" / "polybench.h").write_text(HEADER)
    (root / "utilities" / "polybench.c").write_text('#include "polybench.h"\nint polybench_stand_in;\n')
    folder = root / "linear-algebra" / "blas" / "gemm"
    folder.mkdir(parents=True)
    (folder / "gemm.c").write_text(GEMM.replace("SCALE", scale))
    return root


def test_c_peers_are_verified_and_timed_with_the_others(tmp_path):
    root = checkout(tmp_path / "pb")
    kernel = get_kernel("gemm")
    workload = suite_workload(kernel, "MINI", "SMALL", str(root))
    names = peers_for(kernel, ["baseline", "clang_c", "polly_c", "numpy"], str(root))
    assert names == ("baseline", "clang_c", "polly_c", "numpy")
    results = measure_variants(workload, local_target("cpu-omp"), "MINI", [Variant(n) for n in names],
                               Settings(repetitions=2, check_size="SMALL"))
    for name in names:
        assert results[name].status == "ok", (name, results[name].message)
        assert len(results[name].samples) == 2 and results[name].max_error < 1e-12


def test_c_peers_get_constant_sizes_as_polybench_main_passes_them(tmp_path):
    """PolyBench's main passes its sizes as constants, which Polly's tiling and matrix
    kernels rely on; the peer does the same and refuses arrays of other extents."""
    from transfertune.suites.polybench.c_source import c_reference

    root = checkout(tmp_path / "pb")
    kernel = get_kernel("gemm")
    program = suite_workload(kernel, "MINI", "MINI").program
    ref = c_reference(program, benchmark_file(root, kernel), {"NI": 20, "NJ": 25, "NK": 30})
    call = ref.code.strip().splitlines()[-1]
    assert "kernel_gemm(NI, NJ, NK, " in call and "abort()" in call and "-DNI=20" in ref.flags
    # Verification data shaped otherwise (Kernel.check_init) gets a build of its own extents.
    inputs = kernel.init(NI=7, NJ=25, NK=30)
    assert "-DNI=7" in c_reference(program, benchmark_file(root, kernel), {"NI": 20, "NJ": 25, "NK": 30}, inputs).flags


def test_a_wrong_c_peer_is_a_status_not_a_number(tmp_path):
    root = checkout(tmp_path / "pb", scale="1.0")  # drops alpha: wrong
    workload = suite_workload(get_kernel("gemm"), "MINI", "MINI", str(root))
    results = measure_variants(workload, local_target("cpu-seq"), "MINI", [Variant("clang_c")],
                               Settings(repetitions=1, check_size="MINI"))
    assert results["clang_c"].status == "wrong" and not results["clang_c"].samples


def test_peers_are_absent_without_a_checkout_and_errors_are_clear(tmp_path):
    gemm, jacobi = get_kernel("gemm"), get_kernel("jacobi-1d")
    assert peers_for(gemm, ["baseline", "clang_c", "polly_c", "numpy"], None) == ("baseline", "numpy")
    assert peers_for(jacobi, ["numpy", "polly"], None) == ("polly",)  # no one-call NumPy formulation
    with pytest.raises(ValueError, match="unknown peer"):
        peers_for(gemm, ["icc"], None)
    with pytest.raises(CSourceError, match="no utilities/polybench.c"):
        benchmark_file(tmp_path, gemm)
    root = checkout(tmp_path / "pb")
    with pytest.raises(CSourceError, match="has no stencils/jacobi-1d/jacobi-1d.c"):
        benchmark_file(root, jacobi)


def test_run_and_baseline_show_the_c_peers(config, tmp_path, capsys):
    root = checkout(tmp_path / "pb")
    code = run.main(config("run", "kernel=gemm", "size=MINI", "target=cpu-seq", "repetitions=2", "check_size=MINI",
                           f"reference.polybench_c={root}"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "x vs clang_c" in out and "x vs polly_c" in out
    assert any(line.strip().startswith("numpy ") for line in out.splitlines())
    cfg = config("baseline", "size=MINI", "target=cpu-seq", "kernels=[gemm]", "repetitions=2",
                 f"output_dir={tmp_path / 'out'}", "check_size=MINI", f"reference.polybench_c={root}")
    assert baseline.main(cfg) == 0
    row = next(csv.DictReader((tmp_path / "out" / "cpu-seq-MINI.csv").open()))
    assert all(row[f"{p}_status"] == "ok" for p in ("baseline", "clang_c", "polly_c", "numpy"))
    assert "C, Polly speedup" in (tmp_path / "out" / "cpu-seq-MINI.md").read_text()


def test_a_wrong_checkout_path_is_one_clear_line(tmp_path, capsys):
    from transfertune.cli import main as cli_main

    assert cli_main(["run", "kernel=gemm", "size=MINI", f"reference.polybench_c={tmp_path}"]) == 2
    assert "not a PolyBench/C 4.2.1 checkout" in capsys.readouterr().err


class _DeviceArray(np.ndarray):
    """Stands in for a CuPy array: arithmetic that mixes it with a host array is refused,
    as CuPy refuses it (`TypeError: Unsupported type <class 'numpy.ndarray'>`)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(type(x) is np.ndarray for x in inputs):
            raise TypeError(f"{ufunc.__name__} mixes a host array with device arrays")
        plain = [x.view(np.ndarray) if isinstance(x, _DeviceArray) else x for x in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(o.view(np.ndarray) for o in kwargs["out"])
        return _to_device(getattr(ufunc, method)(*plain, **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        if any(type(x) is np.ndarray for x in _leaves((args, kwargs))):
            raise TypeError(f"{func.__name__} mixes a host array with device arrays")
        return _to_device(func(*_to_host(args), **_to_host(kwargs)))


def _leaves(value):
    if isinstance(value, (list, tuple)):
        return [leaf for v in value for leaf in _leaves(v)]
    if isinstance(value, dict):
        return _leaves(list(value.values()))
    return [value]


def _to_host(value):
    if isinstance(value, (list, tuple)):
        return type(value)(_to_host(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    return value.view(np.ndarray) if isinstance(value, _DeviceArray) else value


def _to_device(value):
    if isinstance(value, tuple):
        return tuple(_to_device(v) for v in value)
    return value.view(_DeviceArray) if type(value) is np.ndarray else value


@pytest.mark.parametrize("kernel", [k for k in [*all_kernels(), *corpus_kernels()] if k.numpy_peer],
                         ids=lambda k: k.name)
def test_numpy_peers_run_on_device_arrays_without_host_arrays(kernel):
    """The CuPy peer calls the NumPy peer's `reference` on device arrays: an array it makes
    itself (np.eye, np.ones) lives on the host and breaks there (trmm's crashed on the
    H200). Each reference runs on stand-in device arrays and computes what it does on host ones."""
    host = kernel.arguments("MINI")
    device = {k: v.copy().view(_DeviceArray) if isinstance(v, np.ndarray) else v for k, v in host.items()}
    kernel.reference(**host)
    kernel.reference(**device)
    for name in kernel.outputs:
        np.testing.assert_allclose(device[name].view(np.ndarray), host[name], rtol=1e-12, atol=1e-12)
