"""Does a served recipe make docc's own build faster? PolyBench kernels left out of the store.

For each kernel: the shipped seed without that kernel's measurements becomes the
service's store; docc's own client compiles the kernel twice, with ``remote_tuning=True``
against the service and without it (docc's build as it is), both verified against NumPy
and timed interleaved in one process (warm-up, then `repetitions` rounds, medians).

    .venv/bin/python benchmarks/service_leave_out.py [--kernels gemm,2mm,...] [--size LARGE]

Writes results/service/leave_out.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from service_load import free_port, start  # noqa: E402

CLIENT = textwrap.dedent("""
    import json, statistics, sys, time
    import numpy as np
    from docc.python import native
    from transfertune.ir.kernel import copy_args
    from transfertune.measure.child import max_error
    from transfertune.suites import get_kernel

    kernel, size, repetitions = get_kernel(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    pristine = kernel.arguments(size)
    want = copy_args(pristine)
    kernel.reference(**want)
    builds = {"docc": native(kernel.func, target="openmp"),
              "served": native(kernel.func, target="openmp", remote_tuning=True)}
    times, errors = {n: [] for n in builds}, {}
    for name, fn in builds.items():  # compile, warm up, verify
        args = copy_args(pristine)
        fn(*args.values())
        errors[name] = max(max_error(args[o], want[o]) for o in kernel.outputs)
    for rep in range(repetitions):
        for name in (list(builds) if rep % 2 == 0 else list(builds)[::-1]):
            args = copy_args(pristine)
            begin = time.perf_counter()
            builds[name](*args.values())
            times[name].append(time.perf_counter() - begin)
    print(json.dumps({"times": times, "errors": errors}))
""")


def without(kernel: str, seed: Path, out: Path) -> Path:
    """The seed minus `kernel` (its program row and its measurements)."""
    def of(line: str, table: str) -> str | None:
        if table == "programs":
            return json.loads(line)["name"]
        if table == "measurements":
            return json.loads(line)["program"][1]  # [suite, name]
        return None

    out.mkdir(parents=True, exist_ok=True)
    for path in seed.glob("*.jsonl"):
        kept = [line for line in path.read_text().splitlines() if of(line, path.stem) != kernel]
        (out / path.name).write_text("\n".join(kept) + "\n")
    return out


def measure(kernel: str, size: str, repetitions: int, tmp: Path, farm: bool) -> dict[str, Any]:
    from transfertune.db import Storage
    from transfertune.db.portable import load
    from transfertune.ir.target import local_target

    db = f"sqlite:///{tmp / f'{kernel}.db'}"
    storage = Storage(db)
    load(storage, without(kernel, ROOT / "data" / "seed", tmp / f"seed-{kernel}"))
    token = storage.create_token(f"leave-out-{kernel}", local_target("cpu-omp").key)
    port = free_port()
    proc = start(db, 1, port)
    row: dict[str, Any] = {"kernel": kernel, "size": size}
    try:
        env = {**os.environ, "RPC_SERVER": f"http://127.0.0.1:{port}", "DOCC_ACCESS_TOKEN": token,
               "DOCC_BACKEND_COMPILER": os.environ.get("DOCC_BACKEND_COMPILER", "clang++-19")}
        for phase in ("first", "after_farm") if farm else ("first",):
            if phase == "after_farm":  # the farm measures what this client asked about, then it asks again
                subprocess.run([sys.executable, "-m", "transfertune", "farm", "target=cpu-omp", "limit=1",
                                "budget=2", f"db={db}"], check=True, capture_output=True, timeout=3600)
            out = subprocess.run([sys.executable, "-c", CLIENT, kernel, size, str(repetitions)],
                                 capture_output=True, text=True, env=env, timeout=3600)
            if out.returncode != 0:
                return {**row, "error": out.stderr.strip()[-500:]}
            data = json.loads(out.stdout.strip().splitlines()[-1])
            (request,) = storage.requests(limit=1)
            docc, served = (statistics.median(data["times"][n]) for n in ("docc", "served"))
            row[phase] = {"docc_s": docc, "served_s": served, "speedup": docc / served,
                          "spread": {n: (max(t) - min(t)) / statistics.median(t) for n, t in data["times"].items()},
                          "max_error": data["errors"],
                          "lent": [f"{x['kernel']}/{x['kernel_nest']}" for x in request["lent"]]}
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", default="gemm,2mm,syrk,covariance,jacobi-2d,atax")
    parser.add_argument("--size", default="LARGE")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--farm", action="store_true", help="then let the farm tune the request and ask again")
    parser.add_argument("--out", default=str(ROOT / "results" / "service"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tt-leave-out-") as tmp:
        for kernel in args.kernels.split(","):
            rows.append(measure(kernel, args.size, args.repetitions, Path(tmp), args.farm))
            print(json.dumps(rows[-1]), flush=True)
    from transfertune.ir.target import local_fingerprint

    fp = local_fingerprint()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "leave_out.json").write_text(json.dumps({"machine": {"cpu": fp.cpu_model, "cores": fp.cores,
                                                                "host": platform.node()}, "rows": rows}, indent=2))
    lines = [f"Machine: {fp.cpu_model}, {fp.cores} cores; docc 0.8.1 `native(target=\"openmp\")`, {args.size}, "
             f"medians of {args.repetitions} interleaved runs (± half the range).", "",
             "| kernel | phase | docc's build | with the served recipe | speedup | lent from (kernel/nest) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['kernel']} | failed: {r['error'][:80]} | | | | |")
        for phase in ("first", "after_farm"):
            if phase in r:
                p = r[phase]
                lines.append(f"| {r['kernel']} | {phase.replace('_', ' ')} | {p['docc_s']:.4g} s "
                             f"±{50 * p['spread']['docc']:.0f}% | {p['served_s']:.4g} s ±{50 * p['spread']['served']:.0f}% | "
                             f"{p['speedup']:.2f}x | {', '.join(p['lent']) or 'nothing'} |")
    (out / "leave_out.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
