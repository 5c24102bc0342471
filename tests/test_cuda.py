"""The gpu-cuda backend without a GPU: generation, nvcc builds, recipe steps, statuses.
What needs a GPU to run skips with the reason (the device checks are
benchmarks/gpu_session.sh)."""

import subprocess

import pytest

from transfertune.backends.cuda import Device, has_nvcc, local_device, target_for
from transfertune.ir import codegen
from transfertune.ir.program import build_program
from transfertune.ir.recipe import ProgramRecipe, Recipe, Step
from transfertune.ir.target import local_target
from transfertune.suites import get_kernel

H100 = Device("NVIDIA H100 80GB HBM3", "9.0", 81559, 132, "580.65.06", "13.0")
needs_nvcc = pytest.mark.skipif(not has_nvcc(), reason="nvcc not installed (CUDA toolkit)")


def test_target_fingerprint_is_the_device():
    target = target_for(H100)
    assert target.name == "gpu-cuda" and target.march == "sm_90"
    fp = target.fingerprint
    assert fp.cpu_model == H100.name and fp.cores == 132
    assert fp.caches == {"memory": "81559MiB", "compute_capability": "9.0", "driver": "580.65.06", "cuda": "13.0",
                         "arguments": "device-resident"}
    other = target_for(Device("NVIDIA A100-SXM4-40GB", "8.0", 40960, 108, "580.65.06", "13.0"))
    assert target.key != other.key and target.key.startswith("gpu-cuda-")


@pytest.mark.skipif(local_device() is not None, reason="this machine has a GPU")
def test_without_a_gpu_the_target_is_a_clear_error():
    with pytest.raises(ValueError, match="no NVIDIA GPU"):
        local_target("gpu-cuda")


def test_steps_a_backend_does_not_build_are_skipped():
    from transfertune.ir.transform import apply_program_recipe

    gpu, cpu = target_for(H100), local_target("cpu-seq")
    from transfertune.ir.target import backend_of

    sdfg = build_program(get_kernel("gemm")).sdfg()
    recipe = Recipe((Step("parallelize", ()), Step("offload", (), {"block": 64})))
    _, on_gpu = apply_program_recipe(sdfg, recipe, ops=backend_of(gpu).ops(gpu))
    assert [r.applied for r in on_gpu] == [False, True] and "does not build parallelize" in on_gpu[0].reason
    _, on_cpu = apply_program_recipe(build_program(get_kernel("gemm")).sdfg(), recipe, ops=backend_of(cpu).ops(cpu))
    assert [r.applied for r in on_cpu] == [False, False] and "does not build offload" in on_cpu[1].reason


@needs_nvcc
def test_plain_offload_and_a_gpu_recipe_compile_with_nvcc():
    target = target_for(H100)
    program = build_program(get_kernel("gemm"))
    baseline = codegen.generate(program, target, "baseline")
    files = [line.split(": ", 1)[1] for line in baseline.code.splitlines() if line.startswith("//@@ transfertune file: ")]
    assert files[0] == "gemm_sdfg.h" and "gemm_sdfg.cpp" in files and any(f.startswith("kernel_") for f in files)
    # Every nest offloaded: docc keeps the arrays on the device (the caller copies them).
    assert "<<<" in baseline.code and "cudaDeviceSynchronize" in baseline.code
    assert "int tt_device_resident = 1;" in baseline.code and "cudaMemcpy" not in baseline.code
    recipe = Recipe((Step("distribute", ()), Step("offload", (), {"block": 64})))
    mapped = codegen.generate(program, target, "recipe", ProgramRecipe({0: recipe}))
    assert [(r.nest, r.applied) for r in mapped.steps] == [(0, True), (0, True), (1, True)]  # both parts offloaded
    for source in (baseline, mapped):
        build = codegen.build_source(source, target)
        assert build.status == "ok", build.log[-2000:]
        symbols = subprocess.run(["nm", "-D", "--defined-only", build.library], capture_output=True, text=True).stdout
        assert " T gemm_sdfg" in symbols  # docc's entry point, called like the CPU build's
        linked = subprocess.run(["ldd", build.library], capture_output=True, text=True).stdout
        assert "libcudart" in linked


@needs_nvcc
@pytest.mark.skipif(local_device() is not None, reason="this machine has a GPU: the device checks run it")
def test_running_without_a_gpu_is_a_status():
    from transfertune.measure.variants import Variant, measure_variants

    results = measure_variants(get_kernel("gemm"), target_for(H100), "MINI", [Variant("baseline")], benchmark=False)
    assert results["baseline"].status in ("crash", "error") and not results["baseline"].samples
    assert "CUDA" in results["baseline"].message or "cuda" in results["baseline"].message.lower()


def test_gpu_peers_probes_and_moves():
    from transfertune.measure.peers import peers_for
    from transfertune.tune.probes import probes_for
    from transfertune.tune.space import legal_moves

    target = target_for(H100)
    assert peers_for(get_kernel("gemm"), ["baseline", "polly", "docc", "numpy"], None, target) == ("baseline", "docc")
    probes = probes_for(target)
    assert probes and all(any(s.op == "offload" for s in r.steps) for r in probes.values())
    moves = legal_moves(build_program(get_kernel("jacobi-2d")).sdfg(), 0, target)
    ops = {m.op for m in moves}
    assert "offload" in ops and not ops & {"parallelize", "vectorize", "blas"}


def test_a_gpu_target_is_never_answered_by_cpu_recipes(store):
    from transfertune.db import Storage
    from transfertune.index.lookup import resolve_target

    with pytest.raises(ValueError, match="no measured recipes for a cuda target"):
        resolve_target(Storage(store), target_for(H100))


@needs_nvcc
def test_gpu_session_build_stage_on_a_described_device():
    """The first stage of benchmarks/gpu_session.py, with this machine's nvcc standing in
    for the GPU machine's (the device itself is only needed to run)."""
    import importlib.util
    from pathlib import Path

    from transfertune.backends import cuda

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_session.py"
    spec = importlib.util.spec_from_file_location("gpu_session", path)
    session = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(session)
    result = session.build_kernel("jacobi-1d", cuda.target_for(H100))
    builds = result["builds"]
    assert builds["baseline"] == "ok" and builds["docc"] == "ok", builds
    assert sum(status == "ok" for label, status in builds.items() if "@" in label) >= 2, builds


@needs_nvcc
def test_gpu_builds_time_their_kernels_with_cuda_events():
    """Every launch in docc's host code is bracketed by CUDA events summed into an exported
    counter (device time, copies excluded); host-only code gets no counter."""
    from transfertune.backends.cuda import DEVICE_SECONDS, instrument_launches

    target = target_for(H100)
    source = codegen.generate(build_program(get_kernel("gemm")), target, "baseline")
    launches = source.code.count("<<<")
    assert launches and source.code.count("tt_launch_begin(); kernel_") == launches
    assert source.code.count("tt_launch_end();") == launches
    build = codegen.build_source(source, target)
    assert build.status == "ok", build.log[-2000:]
    symbols = subprocess.run(["nm", "-D", "--defined-only", build.library], capture_output=True, text=True).stdout
    assert f" {DEVICE_SECONDS}" in symbols
    host_only = "#include \"x.h\"\nextern \"C\" void f(double *a) { a[0] = 1.0; }\n"
    assert instrument_launches(host_only) == host_only


def test_the_cupy_peer_exists_on_gpus_only_for_array_formulations():
    from transfertune.measure.peers import peers_for

    gpu, cpu = target_for(H100), local_target("cpu-seq")
    assert peers_for(get_kernel("gemm"), ["baseline", "docc", "numpy", "cupy"], None, gpu) == ("baseline", "docc", "cupy")
    assert "cupy" not in peers_for(get_kernel("gemm"), ["numpy", "cupy"], None, cpu)
    assert peers_for(get_kernel("jacobi-1d"), ["docc", "cupy"], None, gpu) == ("docc",)  # no one-call formulation


@pytest.mark.skipif(local_device() is not None, reason="this machine has a GPU: the device checks run it")
def test_the_cupy_peer_without_a_gpu_is_a_status():
    from transfertune.measure.variants import Variant, measure_variants

    results = measure_variants(get_kernel("gemm"), target_for(H100), "MINI", [Variant("cupy")], benchmark=False)
    assert results["cupy"].status in ("crash", "error") and "cupy" in results["cupy"].message.lower()


def test_gpu_responses_are_the_gpu_probes():
    from transfertune.train.dataset import response_layout
    from transfertune.tune.probes import GPU_PROBES, PROBES

    layout = response_layout({"cpu-seq": "LARGE", "gpu-cuda": "LARGE"})
    assert [r for t, r in layout if t == "gpu-cuda"] == [*GPU_PROBES, "best"]
    assert [r for t, r in layout if t == "cpu-seq"] == [*PROBES, "best"]


@needs_nvcc
def test_where_the_plain_offload_is_wrong_the_fallback_is_the_code_as_written(store):
    """docc 0.8.1 offloads trmm's outer loop although it carries a dependence (measured
    wrong on an H200). The fallback of tuning and transfer there is every nest left where
    it is written: host code with no launch, which runs and verifies even without a GPU."""
    from transfertune.db import Storage
    from transfertune.measure.variants import Settings, Variant, measure_variants, suite_workload
    from transfertune.tune.executor import InlineExecutor
    from transfertune.tune.trials import Trials

    target = target_for(H100)
    workload = suite_workload(get_kernel("trmm"), "MINI", "MINI")
    written = Trials(Storage(store), InlineExecutor(), workload, target, "MINI").as_written()
    assert written is not None and all(not r.steps for r in written.nests.values())
    source = codegen.generate(workload.program, target, "recipe", written)
    assert "<<<" not in source.code
    result = measure_variants(workload, target, "MINI", [Variant("as_written", written)], Settings(repetitions=1))
    assert result["as_written"].ok, result["as_written"].message
    cpu = Trials(Storage(store), InlineExecutor(), workload, local_target("cpu-seq"), "MINI")
    assert cpu.as_written() is None  # on a CPU the untouched program is the code as written


def test_gemm_maps_one_thread_to_each_output_element():
    """The GPU issue's three-step gemm mapping (reduction loop sunk below the output's inner
    loop, the nest split, both parts on X and Y) as a probe: two launches, the product's
    kernel indexed by both grid dimensions with the k loop inside each thread."""
    from transfertune.tune.probes import GPU_PROBES

    program = build_program(get_kernel("gemm"))
    source = codegen.generate(program, target_for(H100), "recipe", ProgramRecipe({0: GPU_PROBES["gpu_sink_xy"]}))
    assert all(r.applied for r in source.steps) and source.code.count("<<<") == 2
    product = next(c for c in source.code.split("//@@ transfertune file: ") if c.startswith("kernel_") and "for(k" in c)
    assert "__daisy_cuda_indvar_x;" in product and "__daisy_cuda_indvar_y;" in product


@needs_nvcc
def test_a_time_stepped_stencil_keeps_its_data_on_the_device(tmp_path):
    """jacobi-2d's time loop stays on the host; gpu_inner offloads the two maps inside it,
    and docc's residency pass makes every launch work on device pointers: no copy in the
    host code at all, and the built library says so (``tt_device_resident``)."""
    from transfertune.tune.probes import GPU_PROBES

    target = target_for(H100)
    program = build_program(get_kernel("jacobi-2d"))
    baseline = codegen.generate(program, target, "baseline")
    assert "<<<" not in baseline.code and "tt_device_resident" not in baseline.code  # a time loop is no map
    inner = codegen.generate(program, target, "recipe", ProgramRecipe({0: GPU_PROBES["gpu_inner"]}))
    assert [r.applied for r in inner.steps][:2] == [True, True]
    assert inner.code.count("<<<") == 2 and "cudaMemcpy" not in inner.code
    built = codegen.build_source(inner, target)
    assert built.status == "ok", built.log
    symbols = subprocess.run(["nm", "-D", "--defined-only", built.library], capture_output=True, text=True).stdout
    assert "tt_device_resident" in symbols and "tt_device_seconds" in symbols


def test_a_device_resident_build_gets_device_arrays_and_returns_its_outputs(tmp_path, monkeypatch):
    """The callers' side of residency, with a host library and a stand-in for CuPy: in the
    measuring child the entry point sees copies (the 'device' arrays), the outputs come
    back into the caller's arrays, and an input the program scribbled on does not; a
    user's compiled program gets every array back."""
    import ctypes
    import sys
    import types

    import numpy as np

    from transfertune.measure.child import _Loaded

    source = tmp_path / "resident.c"
    source.write_text("int tt_device_resident = 1;\n"
                      "void entry(double *A, double *B, long n) {\n"
                      "  for (long i = 0; i < n; i++) { B[i] = 2.0 * A[i]; A[i] = -1.0; }\n}\n")
    library = tmp_path / "resident.so"
    subprocess.run(["clang-19", "-shared", "-fPIC", "-O1", str(source), "-o", str(library)], check=True)
    seen: list[int] = []

    class DeviceArray:
        def __init__(self, host: np.ndarray) -> None:
            self.array = host.copy()
            self.data = types.SimpleNamespace(ptr=self.array.ctypes.data)
            seen.append(self.data.ptr)

    fake = types.SimpleNamespace(asarray=DeviceArray, asnumpy=lambda d: d.array.copy())
    monkeypatch.setitem(sys.modules, "cupy", fake)
    a, b = np.arange(5.0), np.zeros(5)
    job = {"entry": "entry", "arguments": ["A", "B", "n"], "symbols": {"n": ["A", 0]}, "outputs": ["B"]}
    loaded = _Loaded(job, str(library), {"A": a, "B": b})
    assert loaded.resident and isinstance(loaded.fn, ctypes._CFuncPtr)
    loaded.call({"A": a, "B": b})()
    assert np.array_equal(b, 2.0 * np.arange(5.0)) and np.array_equal(a, np.arange(5.0))
    assert len(seen) == 2 and a.ctypes.data not in seen and b.ctypes.data not in seen
    # A user's compiled program: every array is an in-place output, so A's scribbles come back too.
    from transfertune.porting.user import call_library

    program = types.SimpleNamespace(call_values=lambda args: [args["A"], args["B"], 5])
    out = call_library(str(library), "entry", program, {"A": np.arange(5.0), "B": np.zeros(5)})
    assert np.array_equal(out["B"], 2.0 * np.arange(5.0)) and np.array_equal(out["A"], -np.ones(5))
    assert len(seen) == 4


def test_a_stencil_can_run_its_rows_along_x():
    """gpu_inner_swap: each map inside heat-3d's time loop swapped before it is offloaded,
    so j (the row within a plane) runs along X and i along Y, still device-resident."""
    from transfertune.tune.probes import GPU_PROBES

    source = codegen.generate(build_program(get_kernel("heat-3d")), target_for(H100), "recipe",
                              ProgramRecipe({0: GPU_PROBES["gpu_inner_swap"]}))
    assert [r.applied for r in source.steps] == [True] * 6 + [False] * 6  # two maps in the time loop
    kernel = next(c for c in source.code.split("//@@ transfertune file: ") if c.startswith("kernel_"))
    assert "int j1 = __daisy_cuda_indvar_x;" in kernel and "int i1 = __daisy_cuda_indvar_y;" in kernel
    assert "tt_device_resident" in source.code and "cudaMemcpy" not in source.code


def test_a_later_gpu_session_starts_where_the_published_one_stopped(tmp_path):
    """On a GPU of the published run's fingerprint (the H200 of 2026-11-27), the session
    loads the seed's measurements of that target, so tuning skips the kernels they
    tuned, and the published leave-one-out rows, so the experiment skips those too."""
    import importlib.util
    import json
    from pathlib import Path

    from transfertune.db import Storage

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_session.py"
    spec = importlib.util.spec_from_file_location("gpu_session", path)
    session = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(session)
    published = json.loads((session.RESULTS / "gpu-cuda" / "target.json").read_text())
    h200 = target_for(Device(published["fingerprint"]["cpu_model"], "9.0", 143771, 132, "580.159.04", "13.0"))
    assert h200.to_json() == published
    session._resume_published(tmp_path, h200)
    tuned = Storage(f"sqlite:///{tmp_path / 'gpu.db'}").latest_runs(target_name="gpu-cuda", size="LARGE",
                                                                   variant="tuned")
    assert {"gemm", "2mm", "jacobi-2d", "heat-3d"} <= set(tuned)
    rows = (tmp_path / "loo" / "results.csv").read_text().splitlines()
    published_rows = (session.RESULTS / "gpu-cuda" / "results.csv").read_text().splitlines()
    assert rows[0].startswith("kernel,target") and len(rows) == len(published_rows) > 10
    session._resume_published(tmp_path, h200)  # once per work folder
    assert json.loads((tmp_path / "resumed.json").read_text())["measurements"] > 100
    other = target_for(H100)
    fresh = tmp_path / "other"
    fresh.mkdir()
    session._resume_published(fresh, other)  # no such target in the seed: nothing
    assert not (fresh / "resumed.json").exists()


def test_inner_probes_only_under_a_sequential_outer_loop():
    """gpu_inner* map the loops inside a nest's outermost loop: measured under a time loop
    (jacobi-2d), not under a map (gemm), where they only launch once per row."""
    from transfertune.ir.loopnest import loop_nests
    from transfertune.tune.probes import UNDER_SEQUENTIAL, probes_for

    target = target_for(H100)
    (gemm,) = loop_nests("gemm", build_program(get_kernel("gemm")).sdfg())
    (stencil,) = loop_nests("jacobi-2d", build_program(get_kernel("jacobi-2d")).sdfg())
    assert (gemm.outermost, stencil.outermost) == ("map", "for")
    assert not UNDER_SEQUENTIAL & set(probes_for(target, gemm))
    assert UNDER_SEQUENTIAL <= set(probes_for(target, stencil)) and UNDER_SEQUENTIAL <= set(probes_for(target))
