"""The measuring child process: ``python -m transfertune.measure.child`` < job.json.

It loads compiled variants with ctypes, and either verifies them against the NumPy
reference or times them, printing one JSON line per event on stdout *as it goes*:
``{"start": variant}`` before touching a variant, then its result. The parent reads the
last ``start`` without a result to know which variant crashed or hung the child.

A GPU build exports the seconds its kernels spent on the device during the last call
(``tt_device_seconds``, CUDA events around every launch); where a library has it, each
timed sample comes with that device time too (``device_samples``).
"""

from __future__ import annotations

import ctypes
import json
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import numpy as np

from transfertune.ir.kernel import Args, copy_args
from transfertune.measure.measurement import DEVICE_RESIDENT, DEVICE_SECONDS
from transfertune.measure.placement import RETIME_UNDER, RETIMES, Placement
from transfertune.suites import get_kernel

NUMPY_REFERENCE = "numpy:reference"
"""The 'library' of the NumPy peer: the suite kernel's own NumPy formulation."""
CUPY_REFERENCE = "cupy:reference"
"""The 'library' of the CuPy peer: the same NumPy formulation on CuPy arrays (matrix
products through cuBLAS), each call copying its arrays to the device and back."""


def _emit(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _entry(lib: ctypes.CDLL, symbol: str, sample: list[Any]) -> Any:
    fn = getattr(lib, symbol)
    types = []
    for value in sample:
        if isinstance(value, np.ndarray):
            types.append(ctypes.c_void_p)
        elif isinstance(value, float):
            types.append(ctypes.c_double)
        elif isinstance(value, int):
            types.append(ctypes.c_int64)
        else:
            raise TypeError(f"unsupported argument type {type(value).__name__}")
    fn.argtypes = types
    fn.restype = None
    return fn


def _values(args: Args, arguments: list[str], symbols: dict[str, list]) -> list[Any]:
    out = []
    for name in arguments:
        if name in symbols:
            array, dim = symbols[name]
            out.append(int(args[array].shape[dim]))
        else:
            out.append(args[name])
    return out


def call_native(fn: Any, values: list[Any], outputs: list[np.ndarray], resident: bool) -> None:
    """Entry point `fn` called on `values`: arrays as host pointers, or, for a
    device-resident build, as device copies with the `outputs` copied back
    (`call_resident`). The one way any caller (the measuring child, a user's compiled
    program) calls a build."""
    if resident:
        call_resident(fn, values, outputs)
    else:
        fn(*[v.ctypes.data if isinstance(v, np.ndarray) else v for v in values])


def is_resident(lib: ctypes.CDLL) -> bool:
    """Whether a loaded build takes device pointers (it exports `DEVICE_RESIDENT`)."""
    return hasattr(lib, DEVICE_RESIDENT) and ctypes.c_int.in_dll(lib, DEVICE_RESIDENT).value == 1


def call_resident(fn: Any, values: list[Any], outputs: list[np.ndarray]) -> None:
    """A device-resident build's call: the host arrays among `values` copied to the device
    (CuPy), the entry point called on device pointers, the `outputs` (some of those host
    arrays) copied back into place. Copies are part of the call, as they are in a build
    whose host code copies."""
    try:
        import cupy
    except ImportError as err:
        raise RuntimeError(f"a device-resident CUDA build takes device arrays, passed with CuPy: {err}") from None

    on_device = {id(v): cupy.asarray(v) for v in values if isinstance(v, np.ndarray)}
    fn(*[on_device[id(v)].data.ptr if isinstance(v, np.ndarray) else v for v in values])
    for host in outputs:
        host[...] = cupy.asnumpy(on_device[id(host)])


class _DeviceClock:
    """Device seconds of a variant's last call (None where the variant has no device time)."""

    def __init__(self, counter: Any = None) -> None:
        self.counter = counter
        self.last: float | None = None

    def wrap(self, call: Callable[[], None]) -> Callable[[], None]:
        if self.counter is None:
            return call

        def timed() -> None:
            self.counter.value = 0.0
            call()
            self.last = float(self.counter.value)

        return timed


def _on_device(reference: Callable[..., None], outputs: tuple[str, ...], clock: _DeviceClock, **args: Any) -> None:
    """`reference` on CuPy copies of `args`, the outputs copied back: what a user calling
    cuBLAS from NumPy-style code pays, copies included (device time from CUDA events)."""
    import cupy

    on_device = {k: cupy.asarray(v) if isinstance(v, np.ndarray) else v for k, v in args.items()}
    begin, end = cupy.cuda.Event(), cupy.cuda.Event()
    begin.record()
    reference(**on_device)
    end.record()
    end.synchronize()
    clock.last = cupy.cuda.get_elapsed_time(begin, end) * 1e-3
    for name in outputs:
        args[name][...] = cupy.asnumpy(on_device[name])


LIBOMP_SPIN_MS = 200
"""How long LLVM libomp's workers spin after a parallel region unless told otherwise."""


class _Loaded:
    """One variant, loaded once: `call(args)` is the call to run (and time) on fresh
    arguments; `clock.last` its device time, where it has one."""

    def __init__(self, job: dict[str, Any], library: str, sample: Args) -> None:
        self.job = job
        self.clock = _DeviceClock()
        self._set_spin: Any = None
        if library in (NUMPY_REFERENCE, CUPY_REFERENCE):
            kernel = get_kernel(job["kernel"])
            self.fn = (partial(_on_device, kernel.reference, kernel.outputs, self.clock)
                       if library == CUPY_REFERENCE else kernel.reference)
            self.native = False
            self.resident = False
            return
        lib = ctypes.CDLL(library)
        self.fn = _entry(lib, job["entry"], _values(sample, job["arguments"], job["symbols"]))
        self.native = True
        self.resident = is_resident(lib)
        self._set_spin = getattr(lib, "kmp_set_blocktime", None)
        if hasattr(lib, DEVICE_SECONDS):
            self.clock = _DeviceClock(ctypes.c_double.in_dll(lib, DEVICE_SECONDS))

    def spin(self, ms: int | None) -> None:
        """Before timing this variant: how long OpenMP workers spin after a parallel
        region (libomp's `kmp_set_blocktime`, read at the next region; the backend's
        `spin_ms`), or libomp's default for None. Variants timed in one child share one
        OpenMP runtime, so each sets its own."""
        if self._set_spin is not None:
            self._set_spin(LIBOMP_SPIN_MS if ms is None else int(ms))

    def call(self, args: Args) -> Callable[[], None]:
        if not self.native:
            return partial(self.fn, **args)
        values = _values(args, self.job["arguments"], self.job["symbols"])
        outputs = [args[name] for name in _outputs(self.job)] if self.resident else []
        return self.clock.wrap(partial(call_native, self.fn, values, outputs, self.resident))


def _outputs(job: dict[str, Any]) -> tuple[str, ...]:
    """The arrays a call writes that anyone reads: a suite kernel's outputs, or a user
    program's."""
    return get_kernel(job["kernel"]).outputs if "kernel" in job else tuple(job["outputs"])


def max_error(got: np.ndarray, want: np.ndarray) -> float:
    """Largest error relative to the output's magnitude; inf where NaN-ness differs."""
    if got.shape != want.shape:
        return float("inf")
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return float("inf")
    mask = ~np.isnan(want)
    scale = max(1.0, float(np.max(np.abs(want[mask]), initial=0.0)))
    return float(np.max(np.abs(got[mask] - want[mask]), initial=0.0) / scale)


def _load(path: str, scalars: dict[str, Any], order: list[str]) -> Args:
    """A user program's saved arguments: arrays from an .npz (no pickle), scalars by name."""
    with np.load(path, allow_pickle=False) as saved:
        arrays = {name: saved[name].copy() for name in saved.files}
    return {name: arrays[name] if name in arrays else scalars[name] for name in order}


def _inputs(job: dict[str, Any], check: bool) -> Args:
    """Fresh timing inputs: a suite kernel's own (``kernel`` + ``params``), or a user
    program's saved arguments (``inputs``, ``scalars``)."""
    if "kernel" in job:
        kernel = get_kernel(job["kernel"])
        return kernel.check_arguments(job["params"]) if check else kernel.arguments(job["params"])
    return _load(job["inputs"], job["scalars"], job["order"])


def _checks(job: dict[str, Any]) -> Iterator[tuple[Args, Args, tuple[str, ...]]]:
    """(inputs, correct outputs, names to compare) for every verification input set.

    A suite kernel has one set, judged by its NumPy reference. A user program has one
    set per shape in ``checks`` (the transfer shape and a second one), each judged by
    saved outputs (``expected``: what the Python function itself computed) or by what
    the untouched build (``reference_library``) computes on the same inputs.
    """
    if "kernel" in job:
        kernel = get_kernel(job["kernel"])
        args = kernel.check_arguments(job["params"])
        want = copy_args(args)
        kernel.reference(**want)
        yield args, want, kernel.outputs
        return
    for check in job["checks"]:
        args = _load(check["inputs"], check["scalars"], job["order"])
        if check.get("expected"):
            want = {**copy_args(args), **_load(check["expected"], {}, job["outputs"])}
        else:
            want = copy_args(args)
            _Loaded(job, job["reference_library"], want).call(want)()
        yield args, want, tuple(job["outputs"])


def verify(job: dict[str, Any]) -> None:
    """Every variant on every input set; a variant's error is its worst, and the event
    names the output (and input set) where it was seen."""
    sets = list(_checks(job))
    for variant, library in job["libraries"].items():
        _emit({"start": variant})
        worst, where = 0.0, ""
        for number, (args, want, outputs) in enumerate(sets):
            got = copy_args(args)
            _Loaded(job, library, got).call(got)()
            for name in outputs:
                error = max_error(got[name], want[name])
                if error > worst or not where:
                    worst, where = error, f"{name} (input set {number})"
        status = "ok" if worst <= job["tolerance"] else "wrong"
        _emit({"variant": variant, "status": status, "max_error": worst, "output": where})


def benchmark(job: dict[str, Any]) -> None:
    """Warm up every variant once, then time `repetitions` interleaved rounds (more for
    short calls: `rounds_for`).

    Inputs are copied fresh from pristine arrays before every call (outside the timed
    region), so each repetition does the same work; rotating the order each round
    spreads drift in machine speed over all variants. With ``early_stop`` = f, a
    variant whose warm-up took more than f times the fastest warm-up is warmed up once
    more (a first call may pay once for what later calls reuse: OpenBLAS's and OpenMP's
    thread pools, page faults on fresh buffers), and if the faster of its two warm-ups
    is still that slow it is not repeated: that run is its only sample (and the result
    says so). Device time, where a variant has it, is kept for the timed calls. ``spin_ms``
    (variant -> ms) sets how long OpenMP workers spin before each of its calls. With ``settle`` seconds,
    the child pauses before every call (outside the timed region): the worker threads
    of the previous call's runtime (OpenMP's, OpenBLAS's) spin for a while after it
    returns, and would otherwise take cores from the next variant, which on millisecond
    runs decides the ranking. With ``placement_probe`` (its library and best-round-trip
    file, see `transfertune.measure.placement`), it then waits until its cores share a
    cache, and times a short call again when they did not right after it; each result's
    ``apart`` counts the calls timed while they were apart all the same.
    """
    settle = float(job.get("settle", 0.0))
    probe = job.get("placement_probe")
    placement = Placement.load(probe["library"], probe["best"]) if probe else None
    pristine = _inputs(job, check=False)
    variants = list(job["libraries"])
    fns: dict[str, _Loaded] = {}
    warmup: dict[str, float] = {}

    spin = job.get("spin_ms") or {}
    apart = dict.fromkeys(variants, 0)  # calls timed while the cores were apart: warm-ups, then rounds

    def call_once(variant: str, phase: str) -> tuple[float, bool]:
        """Seconds one call of `variant` on fresh inputs takes, after the pause
        (`settle`), and whether its cores shared a cache before and after it. With a
        placement probe the call waits for that, and a call shorter than
        `RETIME_UNDER` is timed again (up to `RETIMES` times) when the cores were apart
        right after it (each try announced, so that the parent's per-call limit counts
        from it)."""
        fns[variant].spin(spin.get(variant))
        for attempt in range(1 + RETIMES):
            if attempt:
                _emit({"start": variant, "phase": f"{phase}, again: the cores were apart"})
            call = fns[variant].call(copy_args(pristine))
            time.sleep(settle)
            near = placement is None or placement.wait_until_near()
            begin = time.perf_counter()
            call()
            seconds = time.perf_counter() - begin
            if placement is None or (near and placement.near_now()):
                return seconds, True
            if not near or seconds >= RETIME_UNDER:  # apart for `MAX_WAIT` already, or too long to repeat
                break
        return seconds, False

    def warm(variant: str) -> float:
        seconds, near = call_once(variant, "warmup")
        apart[variant] += not near
        return seconds

    for variant in variants:
        _emit({"start": variant, "phase": "warmup"})
        fns[variant] = _Loaded(job, job["libraries"][variant], pristine)
        warmup[variant] = warm(variant)
    factor = job.get("early_stop")
    fastest = min(warmup.values())
    for variant in [v for v in variants if factor and warmup[v] > factor * fastest]:
        warmup[variant] = min(warmup[variant], warm(variant))
    stopped = [v for v in variants if factor and warmup[v] > factor * fastest]
    timed = [v for v in variants if v not in stopped]
    apart.update(dict.fromkeys(timed, 0))  # a timed variant's samples are its rounds, not its warm-ups
    samples: dict[str, list[float]] = {v: [] for v in timed}
    device: dict[str, list[float]] = {v: [] for v in timed}
    slowest = max((warmup[v] for v in timed), default=0.0)
    for rep in range(rounds_for(job["repetitions"], float(job.get("min_seconds") or 0.0), slowest, settle)):
        order = timed[rep % len(timed):] + timed[:rep % len(timed)]
        for variant in order:
            _emit({"start": variant, "phase": f"rep{rep}"})
            seconds, near = call_once(variant, f"rep{rep}")
            apart[variant] += not near
            samples[variant].append(seconds)
            if fns[variant].clock.last is not None:
                device[variant].append(fns[variant].clock.last)
            _emit({"variant": variant, "sample": samples[variant][-1]})
    if placement is not None:
        placement.keep()
    for variant in timed:
        _emit({"variant": variant, "status": "ok", "samples": samples[variant], "device_samples": device[variant],
               "apart": apart[variant]})
    for variant in stopped:
        last = fns[variant].clock.last
        _emit({"variant": variant, "status": "ok", "samples": [warmup[variant]],
               "device_samples": [last] if last is not None else [], "apart": apart[variant],
               "message": f"stopped early: warm-up {warmup[variant] / fastest:.1f}x the fastest"})


MAX_ROUNDS = 30
"""The most rounds `rounds_for` gives short calls: enough for a median of
sub-millisecond calls to settle, few enough that the samples stored stay small."""


def rounds_for(repetitions: int, min_seconds: float, slowest: float, settle: float) -> int:
    """How many interleaved rounds to time: `repetitions`, or more where the calls are
    short, so that the slowest variant (its warm-up took `slowest` seconds) is timed for
    about `min_seconds` of wall time, at most `MAX_ROUNDS`. The pause before each call
    (`settle`) counts, so on multi-threaded targets short kernels keep `repetitions`.

    Why: one call of a sub-millisecond kernel is at the mercy of a single interrupt;
    five of them gave spreads of 26-37% on jacobi-1d at LARGE (0.4 ms, cpu-seq), too
    wide to tell whether it trails the C source."""
    if min_seconds <= 0:
        return repetitions
    return max(repetitions, min(MAX_ROUNDS, int(min_seconds / max(slowest + settle, 1e-6))))


def main() -> None:
    job = json.loads(sys.stdin.read())
    {"verify": verify, "benchmark": benchmark}[job["mode"]](job)
    _emit({"done": True})


if __name__ == "__main__":
    main()
