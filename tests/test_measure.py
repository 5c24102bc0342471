"""Failures are statuses of exactly the variant that failed; nothing else is lost."""

import ctypes
import os

import pytest

from transfertune.ir import codegen
from transfertune.ir.program import build_program
from transfertune.ir.recipe import Recipe, Step
from transfertune.ir.target import backend_of, local_target
from transfertune.measure import placement
from transfertune.measure.child import LIBOMP_SPIN_MS, MAX_ROUNDS, rounds_for
from transfertune.measure.measurement import Measurement
from transfertune.measure.runner import base_job, run_resilient
from transfertune.measure.variants import Settings, Variant, measure_variants
from transfertune.suites.polybench import get_kernel

SIGNATURE = ('extern "C" void gemm_sdfg(double alpha, double beta, double *C, double *A, double *B, '
             "long s0, long s1, long s2)")
BODIES = {
    "crash": "{ volatile double *p = 0; *p = 1.0; }",
    "hang": "{ volatile int x = 1; while (x) {} }",
    "wrong": "{ C[0] += 1.0; }",
    "abort": "{ __builtin_trap(); }",
}


@pytest.fixture(scope="module")
def target():
    return local_target("cpu-seq")


def _library(code, target):
    build = codegen.build(code, codegen.compile_flags(target, "baseline"))
    assert build.status == "ok", build.log
    return build.library


def test_crash_hang_and_wrong_variants_are_contained(target):
    program = build_program(get_kernel("gemm"))
    good = codegen.generate(program, target, "baseline")
    libraries = {"good": _library(good.code, target)}
    for name, body in BODIES.items():
        libraries[name] = _library(f"{SIGNATURE}\n{body}\n", target)
    libraries["good2"] = libraries["good"]
    job = base_job(program, "verify", libraries, good.entry) | {"kernel": "gemm", "params": {"NI": 6, "NJ": 7, "NK": 8}}
    results = run_resilient(job | {"tolerance": 1e-6}, target, timeout=10)
    status = {name: r["status"] for name, r in results.items()}
    assert status == {"good": "ok", "crash": "crash", "hang": "time-out", "wrong": "wrong",
                      "abort": "crash", "good2": "ok"}
    assert "signal 11" in results["crash"]["message"]


def test_one_call_past_its_limit_costs_that_limit_not_the_run(target):
    """A variant that hangs is stopped once its call runs past `call_timeout`, long
    before the run's whole budget, and the others are still measured."""
    import time

    program = build_program(get_kernel("gemm"))
    good = codegen.generate(program, target, "baseline")
    libraries = {"good": _library(good.code, target), "hang": _library(f"{SIGNATURE}\n{BODIES['hang']}\n", target)}
    job = base_job(program, "verify", libraries, good.entry) | {"kernel": "gemm", "params": {"NI": 6, "NJ": 7, "NK": 8}}
    begin = time.monotonic()
    results = run_resilient(job | {"tolerance": 1e-6}, target, timeout=120, call_timeout=3)
    assert time.monotonic() - begin < 60
    assert results["good"]["status"] == "ok" and results["hang"]["status"] == "time-out"
    assert "one call ran over 3 s" in results["hang"]["message"]


def test_compile_error_is_a_status_with_the_log(target):
    build = codegen.build("this is not C++", codegen.compile_flags(target, "baseline"))
    assert build.status == "compile-error"
    assert "error" in build.log


def test_compile_time_out_is_a_status(target):
    build = codegen.build("int f() { return 1; }\n", codegen.compile_flags(target, "baseline"), timeout=0.001)
    assert build.status == "time-out"


def test_build_cache_returns_the_same_library(target):
    code = "extern \"C\" int forty_two() { return 42; }\n"
    first = codegen.build(code, codegen.compile_flags(target, "baseline"))
    second = codegen.build(code, codegen.compile_flags(target, "baseline"))
    assert first.status == second.status == "ok"
    assert second.cached and second.library == first.library


def test_measure_variants_times_verified_variants_and_reports_skipped_steps(target):
    recipe = Recipe((Step("tile", (), {"size": 4}), Step("parallelize", (9,))))
    results = measure_variants(get_kernel("gemm"), target, "SMALL",
                               [Variant("baseline"), Variant("tiled", recipe)],
                               Settings(repetitions=3, check_size="MINI", min_seconds=0.0))
    for m in results.values():
        assert m.status == "ok" and len(m.samples) == 3 and m.median > 0
        assert set(m.phases) >= {"generate", "compile", "verify", "benchmark"}
    assert "tile []: applied" in results["tiled"].message
    assert "parallelize [9]: skipped" in results["tiled"].message


def test_short_calls_are_timed_in_more_rounds(target):
    """One call of a sub-millisecond kernel is at the mercy of a single interrupt: its
    variants are timed in rounds until each had about `min_seconds`, every variant in
    every round."""
    results = measure_variants(get_kernel("atax"), target, "MINI", [Variant("baseline"), Variant("numpy")],
                               Settings(repetitions=3, check_size="MINI", min_seconds=0.05))
    counts = {len(m.samples) for m in results.values()}
    assert len(counts) == 1 and 3 < counts.pop() <= MAX_ROUNDS


def test_rounds_for_counts_the_pause_before_each_call():
    assert rounds_for(5, 0.0, 1e-4, 0.0) == 5
    assert rounds_for(5, 0.2, 1e-4, 0.0) == MAX_ROUNDS
    assert rounds_for(5, 0.2, 0.02, 0.0) == 10
    assert rounds_for(5, 0.2, 0.5, 0.0) == 5
    assert rounds_for(2, 0.2, 1e-4, 0.25) == 2  # a multi-threaded target's settle pause


def test_a_recipe_that_changes_nothing_is_unchanged_and_never_timed(target):
    """All steps skipped (a library call on trmm, a loop that is not there): the program is
    the untouched one, so timing it could only let noise make it a winner."""
    noop = Recipe((Step("blas", ()), Step("tile", (5,), {"size": 8})))
    results = measure_variants(get_kernel("trmm"), target, "SMALL", [Variant("baseline"), Variant("noop", noop)],
                               Settings(repetitions=3, check_size="MINI"))
    assert results["baseline"].ok
    unchanged = results["noop"]
    assert unchanged.status == "unchanged" and not unchanged.samples and not unchanged.ok
    assert unchanged.message.startswith("no step changed the program: nest 0 blas []: skipped")


def test_measurement_statistics():
    m = Measurement("x", "ok", (3.0, 1.0, 2.0))
    assert m.median == 2.0 and m.spread == 1.0 and m.ok
    assert not Measurement("x", "wrong").ok
    with pytest.raises(ValueError):
        Measurement("x", "fast")


def test_early_stop_times_a_far_slower_variant_once(target):
    program = build_program(get_kernel("gemm"))
    good = codegen.generate(program, target, "baseline")
    slow = f'#include <unistd.h>\n{SIGNATURE}\n{{ usleep(200000); }}\n'
    libraries = {"good": _library(good.code, target), "slow": _library(slow, target)}
    job = base_job(program, "benchmark", libraries, good.entry) | {"kernel": "gemm", "params": {"NI": 30, "NJ": 30, "NK": 30}}
    results = run_resilient(job | {"repetitions": 4, "early_stop": 3.0}, target, timeout=30)
    assert len(results["good"]["samples"]) == 4
    assert len(results["slow"]["samples"]) == 1 and "stopped early" in results["slow"]["message"]


def test_a_slow_first_call_alone_does_not_stop_a_variant_early(target):
    """A library's one-time set-up on its first call (OpenBLAS's thread pool, say) must
    not make a fast variant look slow: only a variant slow on a second warm-up stops."""
    program = build_program(get_kernel("gemm"))
    good = codegen.generate(program, target, "baseline")
    cold = (f"#include <unistd.h>\nstatic int calls = 0;\n{SIGNATURE}\n"
            "{ if (calls++ == 0) usleep(200000); C[0] = C[0]; }\n")
    libraries = {"good": _library(good.code, target), "cold": _library(cold, target)}
    # The fastest warm-up must be long against scheduling noise (a 30^3 gemm takes
    # microseconds, and a 0.2 ms hiccup on the cold variant's second call stopped it).
    job = base_job(program, "benchmark", libraries, good.entry) | {"kernel": "gemm", "params": {"NI": 200, "NJ": 200, "NK": 200}}
    results = run_resilient(job | {"repetitions": 4, "early_stop": 3.0}, target, timeout=30)
    assert len(results["cold"]["samples"]) == 4 and "stopped early" not in (results["cold"].get("message") or "")
    assert max(results["cold"]["samples"]) < 0.1


def test_openmp_workers_spin_briefly_only_where_a_library_call_follows():
    """A variant that calls a BLAS is timed with OpenMP's workers spinning 1 ms after a
    parallel loop (they would hold the cores OpenBLAS's threads need); every other
    variant with libomp's default, which the child can set per variant through the
    variant's own library."""
    omp, seq = local_target("cpu-omp"), local_target("cpu-seq")
    backend = backend_of(omp)
    calling = 'extern "C" void f(int n, double *A, double *C) { cblas_dsyrk(101, 121, 111, n, n, 1.0, A, n, 1.0, C, n); }'
    assert backend.spin_ms(omp, calling) == 1
    assert backend.spin_ms(omp, SIGNATURE + BODIES["wrong"]) is None and backend.spin_ms(seq, calling) is None
    code = 'extern "C" void g(double *x, long n) {\n#pragma omp parallel for\nfor (long i = 0; i < n; i++) x[i] += 1;\n}'
    build = codegen.build(code, codegen.compile_flags(omp, "baseline"))
    assert build.status == "ok", build.log
    lib = ctypes.CDLL(build.library)
    for ms in (1, LIBOMP_SPIN_MS):
        lib.kmp_set_blocktime(ms)
        assert lib.kmp_get_blocktime() == ms


class _Scripted:
    """A stand-in probe: round trips from a script (its last value repeats)."""

    def __init__(self, *ns):
        self.ns = list(ns)
        self.trips = 0

    def __call__(self, trips):
        self.trips += 1
        return self.ns.pop(0) if len(self.ns) > 1 else self.ns[0]


def test_placement_waits_while_the_cores_are_apart_and_keeps_the_best_round_trip(tmp_path, monkeypatch):
    """The probe's fastest round trip is the yardstick: 2.5 times it (and over 150 ns) is
    'apart'. The child waits that out, gives up after `MAX_WAIT`, stops waiting after
    `GIVE_UP` vain waits, and leaves its best round trip to the next child, which would
    otherwise take a spell apart at its start for the normal."""
    monkeypatch.setattr(placement.time, "sleep", lambda s: None)
    best = str(tmp_path / "best-ns")
    probe = _Scripted(60, 55, 58, 61, 57, 330, 320, 60)
    seen = placement.Placement(probe, best)
    assert seen.near_ns == 55
    assert seen.wait_until_near() and probe.trips == 8  # two probes apart, then together
    assert seen.near_now()
    seen.keep()
    assert float(open(best).read()) == 55

    later = placement.Placement(_Scripted(330), best)  # starts apart, knows better from the file
    assert later.near_ns == 55 and not later.near_now()
    monkeypatch.setattr(placement, "MAX_WAIT", 0.0)
    for _ in range(placement.GIVE_UP):
        assert not later.wait_until_near()
    later._probe = probe = _Scripted(330, 60)
    assert not later.wait_until_near() and probe.trips == 1  # given up: one probe, no waiting
    later.keep()
    assert float(open(best).read()) == 55  # a worse round trip never replaces the best

    hyper = placement.Placement(_Scripted(20, 20, 20, 20, 20, 90), str(tmp_path / "other"))
    assert hyper.near_now()  # two hyper-threads' 20 ns do not make 90 ns 'apart'
    assert placement.Placement(_Scripted(-1.0), best).wait_until_near()  # one core: nothing to wait for


def test_the_placement_probe_times_a_round_trip_between_two_cores(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: no round trip between cores")
    seen = placement.Placement.load(placement.probe_library(), str(tmp_path / "best-ns"))
    assert 0 < seen.near_ns < 10_000
    assert 0 < seen.round_trip_ns() < float("inf")


def test_multi_threaded_variants_are_timed_with_the_placement_probe(tmp_path):
    """cpu-omp's child loads the probe and says how many calls ran with the cores apart."""
    omp = local_target("cpu-omp")
    if omp.threads < 2:
        pytest.skip("one core")
    m = measure_variants(get_kernel("gemm"), omp, "MINI", [Variant("baseline")], Settings(repetitions=2))
    assert m["baseline"].ok and len(m["baseline"].samples) == 2
    assert "apart" not in m["baseline"].message or "timed calls ran with the cores apart" in m["baseline"].message
    assert os.path.exists(placement.best_file(placement.probe_library(), omp.key))


def test_a_short_call_after_which_the_cores_were_apart_is_timed_again_and_counted(target, tmp_path):
    """A stand-in probe that reports the cores together before every call and apart after
    it: each call is timed three times (each try announced to the parent), and every
    sample counts as timed apart."""
    program = build_program(get_kernel("gemm"))
    good = codegen.generate(program, target, "baseline")
    fake = ('static int probes = 0;\n'
            'extern "C" double tt_round_trip_ns(int trips) {\n'
            f'  return ++probes <= {placement.CALIBRATION} || probes % 2 == 0 ? 50.0 : 400.0;\n}}\n')
    probe = codegen.build(fake, placement.FLAGS)
    assert probe.status == "ok", probe.log
    job = base_job(program, "benchmark", {"good": _library(good.code, target)}, good.entry) | {
        "kernel": "gemm", "params": {"NI": 30, "NJ": 30, "NK": 30},
        "placement_probe": {"library": probe.library, "best": str(tmp_path / "best-ns")}}
    events = []
    results = run_resilient(job | {"repetitions": 2}, target, timeout=60, on_event=events.append)
    assert len(results["good"]["samples"]) == 2 and results["good"]["apart"] == 2
    again = [e for e in events if "again" in str(e.get("phase", ""))]
    assert len(again) == 3 * placement.RETIMES  # the warm-up and two rounds, each tried again RETIMES times
    assert float((tmp_path / "best-ns").read_text()) == 50.0
