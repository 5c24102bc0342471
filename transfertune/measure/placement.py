"""Whether the cores a multi-threaded variant runs on share a cache right now.

Why: on the virtual machines this project is measured on, the host places the two
virtual CPUs itself, and from time to time, for seconds at a time, it puts them on cores
that share no last-level cache. A cache line then takes about 330 ns to go from one
thread to the other and back, not 50 ns (measured on the AMD EPYC machine kind, session
34; the guest sees no steal time). Code that shares data between its threads in every
parallel loop slows down many times over in those spells: gramschmidt's tuned cpu-omp
recipe, which opens 1,200 parallel loops, ran 1.5 s instead of 0.21 s in them, both
threads busy throughout. Interleaving spreads such spells over the variants but does
not remove them: a spell of a few seconds can take three of one variant's five samples.

So before every timed call of a multi-threaded variant the measuring child asks a small
probe (two threads passing a cache line back and forth) how long a round trip takes, and
while it is far above the fastest round trip seen on this machine (kept between
children) it waits for the host to place the cores together again, up to `MAX_WAIT`
seconds. A short call after which the cores were apart is timed again (`RETIMES`).
Calls timed apart all the same are counted, and the measurement says how many. What is
compared is then the machine as it is meant to be: two cores sharing their caches.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable
from pathlib import Path

PROBE_SOURCE = r"""
#include <pthread.h>
#include <sched.h>
#include <time.h>

static int tt_flag __attribute__((aligned(64)));
static int tt_stop;

static void *tt_pong(void *unused) {
    (void)unused;
    while (!__atomic_load_n(&tt_stop, __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(&tt_flag, __ATOMIC_ACQUIRE) == 1)
            __atomic_store_n(&tt_flag, 0, __ATOMIC_RELEASE);
    }
    return 0;
}

/* Nanoseconds one round trip of a cache line between this thread and a new one on
   another core takes, averaged over `trips`; negative when there is no other core or
   no thread could be started. */
extern "C" double tt_round_trip_ns(int trips) {
    pthread_t other;
    pthread_attr_t attr;
    cpu_set_t others;
    /* the other thread runs on another core than this one: left to the scheduler it
       often starts on this one, and two spinning threads then share a core */
    if (sched_getaffinity(0, sizeof others, &others) != 0)
        return -1.0;
    CPU_CLR(sched_getcpu(), &others);
    if (CPU_COUNT(&others) == 0)
        return -1.0;
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof others, &others);
    __atomic_store_n(&tt_flag, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&tt_stop, 0, __ATOMIC_RELEASE);
    int failed = pthread_create(&other, &attr, tt_pong, 0);
    pthread_attr_destroy(&attr);
    if (failed)
        return -1.0;
    /* the first trip waits for the new thread to start: not counted */
    __atomic_store_n(&tt_flag, 1, __ATOMIC_RELEASE);
    while (__atomic_load_n(&tt_flag, __ATOMIC_ACQUIRE) != 0) {}
    struct timespec begin, end;
    clock_gettime(CLOCK_MONOTONIC, &begin);
    for (int i = 0; i < trips; ++i) {
        __atomic_store_n(&tt_flag, 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(&tt_flag, __ATOMIC_ACQUIRE) != 0) {}
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    __atomic_store_n(&tt_stop, 1, __ATOMIC_RELEASE);
    pthread_join(other, 0);
    return ((end.tv_sec - begin.tv_sec) * 1e9 + (end.tv_nsec - begin.tv_nsec)) / trips;
}
"""
FLAGS = ("-O2", "-fPIC", "-shared", "-pthread")
TRIPS = 2000
"""Round trips per probe: 0.1 ms with the cores together, 0.7 ms apart."""
FAR = 2.5
"""A probe this many times the fastest one seen means the cores are apart (330 ns against
50 ns measured; within each mode probes varied by under 25%)..."""
FLOOR_NS = 150.0
"""...and so does one above this: round trips under it are between cores sharing a cache
on any machine (which keeps two hyper-threads of one core, 20 ns, from making 50 ns look
far)."""
MAX_WAIT = 10.0
"""Seconds the child waits for the cores to come together before one call; spells seen
lasted up to about 5 s."""
GIVE_UP = 3
"""After this many waits in a row in vain, a child stops waiting (and only counts): the
cores stay apart for long, and waiting would cost `MAX_WAIT` a call."""
PAUSE = 0.1
"""Seconds between probes while waiting (idle, so that the host may move a virtual CPU)."""
RETIMES = 2
"""How many more times a call is timed when the cores were apart right after it (the
host moved a virtual CPU during the call)..."""
RETIME_UNDER = 10.0
"""...if it took under this many seconds: a longer call costs more to repeat than the
spell it might avoid (floyd-warshall's Polly C peer runs 187 s a call), and the
measurement counts it as timed apart instead."""
CALIBRATION = 5
"""Probes taken when the child loads the probe, to find the fastest round trip."""


def probe_library() -> str:
    """The probe built as a shared library (cached like every build); RuntimeError when
    the compiler fails, which would fail every variant's build as well."""
    from transfertune.ir import codegen  # the parent builds; the measuring child only loads (no docc there)

    built = codegen.build(PROBE_SOURCE, FLAGS)
    if built.status != "ok":
        raise RuntimeError(f"the core placement probe does not build: {built.log[-500:]}")
    return built.library


def best_file(library: str, target_key: str) -> str:
    """Where the fastest round trip seen on `target_key`'s machine is kept, between
    children: a child that starts while the cores are apart would otherwise take their
    slow round trip for the fast one."""
    return f"{library}.{target_key}.best-ns"


class Placement:
    """The child's view of where its threads run; `wait_until_near` before each timed call."""

    def __init__(self, probe: Callable[[int], float], best: str) -> None:
        """`probe(trips)`: nanoseconds a round trip took (negative: no probe possible);
        `best`: the `best_file`."""
        self._probe = probe
        self._best = Path(best)
        self.near_ns = min([self.round_trip_ns() for _ in range(CALIBRATION)] + [self._kept()])
        self._in_vain = 0

    @classmethod
    def load(cls, library: str, best: str) -> Placement:
        """The placement seen through the built probe (`probe_library`)."""
        probe = ctypes.CDLL(library).tt_round_trip_ns
        probe.argtypes = [ctypes.c_int]
        probe.restype = ctypes.c_double
        return cls(probe, best)

    def _kept(self) -> float:
        try:
            return float(self._best.read_text())
        except (OSError, ValueError):
            return float("inf")

    def keep(self) -> None:
        """Keep the fastest round trip seen for later children (written whole, so that
        concurrent children never read a torn number)."""
        if self.near_ns < self._kept():
            partial = self._best.with_name(f"{self._best.name}.{os.getpid()}")
            partial.write_text(repr(self.near_ns))
            os.replace(partial, self._best)

    def round_trip_ns(self) -> float:
        """One probe; infinite when the probe could not start its thread."""
        ns = self._probe(TRIPS)
        return ns if ns >= 0 else float("inf")

    def near_now(self) -> bool:
        """One probe: whether it is within `FAR` times the fastest one seen (or under
        `FLOOR_NS`); True when no probe is possible (one core only): nothing to wait for."""
        ns = self.round_trip_ns()
        self.near_ns = min(self.near_ns, ns)
        return ns == float("inf") or ns <= max(FAR * self.near_ns, FLOOR_NS)

    def wait_until_near(self) -> bool:
        """Wait (up to `MAX_WAIT`, none after `GIVE_UP` vain waits) until the cores share
        a cache; False when they were still apart at the end."""
        deadline = time.monotonic() + (MAX_WAIT if self._in_vain < GIVE_UP else 0.0)
        while not self.near_now():
            if time.monotonic() >= deadline:
                self._in_vain += 1
                return False
            time.sleep(PAUSE)
        self._in_vain = 0
        return True
