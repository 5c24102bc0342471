"""The GPU device checks in one bounded run, for a machine with an NVIDIA GPU.

Stages, each writing its results as it goes (under ``--work``; what finished is kept):
  0. preflight: gemm's plain offload, docc's CUDA schedule, a GPU recipe and the CuPy
     peer, and jacobi-2d's time loop with its maps offloaded on device-resident arrays,
     verified and timed at MEDIUM; if nothing runs, the run stops here (exit 3) with the
     reason, instead of spending the device's minutes on failures;
  1. build: every kernel's plain offload, docc's schedule and GPU probes compiled with
     nvcc on all cores, filling the build cache the later stages hit (skipped when the
     cache came prebuilt and holds gemm's untouched build: ``--prebuild``, made on a CPU
     machine by scripts/gpu_wheels.sh);
  2. tune: each kernel at LARGE (its GPU probes), every variant verified
     against NumPy before it is timed, into ``gpu.db``; then the tuning report;
  3. transfer: the leave-one-out experiment on gpu-cuda over the tuned kernels (at most
     9 variants, never slower than the plain offload), results in ``loo/``.
A second run on the same machine resumes (tuning reads the store, the experiment its
table); so does a later session on a GPU of the same fingerprint, from what an earlier one
published (the seed's measurements of that target, and results/polybench_loo/gpu-cuda).
Run it through benchmarks/gpu_session.sh, which sets up the environment. Back on a CPU
machine, ``--publish DIR`` (the unpacked results.tgz) writes the tables to
results/polybench_loo/gpu-cuda/ and adds ``by_target.gpu-cuda`` to the leave-one-out
summary; ``transfertune db action=import path=...`` of an export of ``gpu.db`` adds the
measurements to the seed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transfertune.ir.target import Target

SHARES = {"build": 0.10, "tune": 0.55}
"""Each stage's share of the minutes left after the preflight; the transfer stage has the rest."""
ORDER = ("gemm", "syrk", "syr2k", "jacobi-2d", "2mm", "fdtd-2d", "heat-3d", "jacobi-1d", "covariance", "atax", "3mm",
         "symm", "bicg", "mvt", "gesummv", "gemver", "trmm", "correlation", "deriche", "doitgen", "trisolv", "durbin",
         "cholesky", "lu", "ludcmp", "gramschmidt", "adi", "nussinov", "seidel-2d", "floyd-warshall")
"""Kernels in the order they are tuned: the matrix products (the cuBLAS goal) and the
time-stepped stencils (the residency goal) first, each family's cheapest first; last
those whose untouched build runs on the host for 10-50 s a call at LARGE with nothing a
probe can offload, which a short session leaves out."""
DESCRIBED = ("NVIDIA sm_90 (described)", "9.0")
"""The device `--prebuild` builds for: the lent GPUs (H100, H200) are both sm_90, and a
build depends on the architecture alone."""


ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "polybench_loo"
SEED = ROOT / "data" / "seed"
PUBLISHED = {"loo/results.csv": "results.csv", "loo/results.md": "results.md", "loo/summary.json": "summary.json",
             "loo/speedups.png": "speedups.png", "tune.md": "tune.md", "preflight.json": "preflight.json",
             "target.json": "target.json", "session.log": "session.log"}
"""What a session leaves in its work folder -> its name under results/polybench_loo/gpu-cuda/."""


def build_kernel(name: str, target: Target) -> dict[str, Any]:
    """Generate and build a kernel's GPU variants (runs in a worker process)."""
    from transfertune.ir import codegen
    from transfertune.ir.loopnest import loop_nests
    from transfertune.ir.program import build_program
    from transfertune.ir.recipe import ProgramRecipe
    from transfertune.suites import get_kernel
    from transfertune.tune.probes import probes_for

    program = build_program(get_kernel(name))
    variants: list[tuple[str, ProgramRecipe | None]] = [("baseline", None), ("docc", None)]
    nests = loop_nests(name, program.sdfg())
    variants += [(f"{probe}@{n.index}", ProgramRecipe({n.index: r}))
                 for n in nests for probe, r in probes_for(target, n).items()]
    out, cached = {}, 0
    for label, recipe in variants:
        try:
            source = codegen.generate(program, target, "recipe" if recipe else label.split("@")[0], recipe)
            built = codegen.build_source(source, target)
            out[label], cached = built.status, cached + built.cached
        except RuntimeError as err:
            out[label] = f"error: {str(err)[:200]}"
    return {"kernel": name, "builds": out, "cached": cached}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="outputs/gpu", help="results and the store (a rerun resumes from them)")
    parser.add_argument("--minutes", type=float, default=8.0, help="the whole run, preflight included")
    parser.add_argument("--kernels", default="all", help="comma-separated, or all (in ORDER)")
    parser.add_argument("--publish", metavar="DIR", help="publish a finished session's DIR (no GPU needed)")
    parser.add_argument("--prebuild", action="store_true",
                        help="build every kernel's variants for sm_90 into the build cache (no GPU needed)")
    args = parser.parse_args()
    names = list(ORDER) if args.kernels == "all" else args.kernels.split(",")
    if args.publish:
        publish(Path(args.publish), RESULTS)
        return 0
    if args.prebuild:
        from transfertune.backends.cuda import Device, target_for

        _build(names, target_for(Device(*DESCRIBED, 0, 0, "", "")), None, None)
        return 0
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + 60 * args.minutes

    from transfertune.ir.target import local_target

    target = local_target("gpu-cuda")
    (work / "target.json").write_text(json.dumps(target.to_json(), indent=2))
    log(f"target {target.key}: {target.fingerprint.cpu_model}, {target.march}")
    if not _preflight(work):
        return 3
    _resume_published(work, target)
    left = deadline - time.monotonic()
    stages = (("build", partial(_build, target=target)), ("tune", _tune), ("transfer", _transfer))
    for stage, fn in stages:
        end = time.monotonic() + SHARES[stage] * left if stage in SHARES else deadline
        log(f"stage {stage}: {end - time.monotonic():.0f} s")
        try:
            fn(names, work=work, end=end)
        except Exception:  # noqa: BLE001 - a failed stage is reported; the next still runs
            traceback.print_exc()
            log(f"stage {stage} failed")
    return 0


def _preflight(work: Path) -> bool:
    """gemm's and jacobi-2d's variants verified and timed at MEDIUM: whether running on the
    GPU works at all, and with arrays kept on the device."""
    from transfertune.ir.recipe import ProgramRecipe
    from transfertune.ir.target import local_target
    from transfertune.measure.variants import Settings, Variant, measure_variants
    from transfertune.suites import get_kernel
    from transfertune.tune.probes import GPU_PROBES

    variants = [Variant("baseline"), Variant("docc"), Variant("cupy"),
                Variant("gpu_sink_yx", ProgramRecipe({0: GPU_PROBES["gpu_sink_yx"]}))]
    stencil = [Variant("baseline"), Variant("gpu_inner", ProgramRecipe({0: GPU_PROBES["gpu_inner"]}))]
    settings = Settings(repetitions=3, check_size="SMALL", timeout=60)
    report: dict[str, dict[str, Any]] = {}
    for kernel, chosen in (("gemm", variants), ("jacobi-2d", stencil)):
        results = measure_variants(get_kernel(kernel), local_target("gpu-cuda"), "MEDIUM", chosen, settings)
        report[kernel] = {name: m.to_json() for name, m in results.items()}
        (work / "preflight.json").write_text(json.dumps(report, indent=2))
        for name, m in results.items():
            device = f", device {m.device_median * 1e3:.3f} ms" if m.device_median else ""
            log(f"preflight {kernel} MEDIUM {name}: {m.status} {m.median * 1e3:.3f} ms{device} {m.message[-300:]}")
    return report["gemm"]["baseline"]["status"] == "ok"


def _resume_published(work: Path, target: Target) -> None:
    """Start where an earlier session on a GPU of this very fingerprint stopped: the seed's
    measurements of `target` go into gpu.db (tuning skips the kernels they tuned), and its
    published leave-one-out rows into loo/ (the experiment skips those kernels). Once per
    work folder; nothing where the seed has no such target."""
    from transfertune.db import Storage
    from transfertune.db.portable import FILES, load

    def rows(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (SEED / f"{name}.jsonl").read_text().splitlines() if line.strip()]

    if (work / "resumed.json").exists() or target.key not in {t["key"] for t in rows("targets")}:
        return  # done already, or the seed never saw this GPU: its measurements are not read
    table = {name: rows(name) for name in FILES}
    mine = [m for m in table["measurements"] if m["target"] == target.key]
    if not mine:
        return
    programs = {tuple(m["program"]) for m in mine}
    kept = {"measurements": mine, "targets": [t for t in table["targets"] if t["key"] == target.key],
            "programs": [p for p in table["programs"] if (p["suite"], p["name"]) in programs],
            "recipes": [r for r in table["recipes"] if r["hash"] in {m["recipe"] for m in mine}]}
    nests = {h for p in kept["programs"] for h in p["nests"].values()} | {m["nest"] for m in mine if m["nest"]}
    kept["nests"] = [n for n in table["nests"] if n["hash"] in nests]
    folder = work / "published"
    folder.mkdir(exist_ok=True)
    for name, items in kept.items():
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(item) + "\n" for item in items))
    added = load(Storage(f"sqlite:///{work / 'gpu.db'}"), folder)
    published = RESULTS / "gpu-cuda"
    same = (published / "target.json").is_file() and json.loads((published / "target.json").read_text()) == target.to_json()
    if same and (published / "results.csv").is_file():
        (work / "loo").mkdir(exist_ok=True)
        shutil.copyfile(published / "results.csv", work / "loo" / "results.csv")
    (work / "resumed.json").write_text(json.dumps({"measurements": added, "loo_rows": same}))
    log(f"resumed from the seed: {added} measurements of {target.key}"
        + (", and the published leave-one-out rows" if same else ""))


def _build(names: list[str], target: Target, work: Path | None, end: float | None) -> None:
    """Every kernel's variants built on all cores until `end` (None: all), results in
    build.jsonl; nothing to do in a session whose cache came prebuilt."""
    if work is not None and _prebuilt(target):
        log("build: the prebuilt cache has gemm's untouched build; tuning builds what else it lacks")
        return
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool, \
            (work / "build.jsonl" if work else Path(os.devnull)).open("a") as out:
        futures = [pool.submit(build_kernel, name, target) for name in names]
        for future in futures:
            remaining = None if end is None else end - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                result = future.result(timeout=remaining)
            except Exception as err:  # noqa: BLE001 - time-out or a failed build: recorded, go on
                out.write(json.dumps({"error": repr(err)[:300]}) + "\n")
                continue
            out.write(json.dumps(result) + "\n")
            out.flush()
            failed = {k: v for k, v in result["builds"].items() if v != "ok"}
            log(f"built {result['kernel']}: {len(result['builds'])} variants, {result['cached']} cached"
                + (f"; not built: {failed}" if failed else ""))
        for future in futures:
            future.cancel()


def _prebuilt(target: Target) -> bool:
    """Whether gemm's untouched build is in the cache already (a prebuilt cache whose keys
    match this machine's compiler and paths)."""
    from transfertune.ir import codegen
    from transfertune.ir.program import build_program
    from transfertune.suites import get_kernel

    return codegen.build_source(codegen.generate(build_program(get_kernel("gemm")), target), target).cached


def _tune(names: list[str], work: Path, end: float) -> None:
    from transfertune.db import Storage
    from transfertune.measure.variants import Settings
    from transfertune.suites import get_kernel
    from transfertune.tune.executor import InlineExecutor
    from transfertune.tune.strategy import Budget, get_strategy
    from transfertune.tune.tuner import TuneOptions, Tuner

    storage = Storage(f"sqlite:///{work / 'gpu.db'}")
    # Probes only: a short session buys more kernels with them than a search of a few.
    # A call over 20 s counts as hung: heat-3d's untouched build (host code) takes about 10 s.
    options = TuneOptions(size="LARGE", budget=Budget(0), top=1, final_repetitions=3,
                          settings=Settings(repetitions=3, early_stop=1.5, timeout=20))
    tuner = Tuner(storage, InlineExecutor(), "gpu-cuda", get_strategy("evolutionary"), options)
    with (work / "tune.jsonl").open("a") as out:
        for name in names:
            if time.monotonic() > end:
                log(f"tune: time is up before {name}")
                break
            begin = time.monotonic()
            result = tuner.tune_kernel(get_kernel(name))
            m = result.measurements
            out.write(json.dumps({"kernel": name, "recipe": result.recipe.to_json(),
                                  **{v: x.to_json() for v, x in m.items()}}) + "\n")
            out.flush()
            base = m["baseline"]
            line = ", ".join(f"{v} {base.median / x.median:.2f}x" if x.ok and base.ok else f"{v} {x.status}"
                             for v, x in m.items() if v != "baseline")
            log(f"tuned {name}: baseline {base.median:.4g} s; {line} ({time.monotonic() - begin:.0f} s)")
    _report(work)


def _report(work: Path) -> None:
    from transfertune.commands.report import geomeans, rows, to_markdown
    from transfertune.db import Storage

    table, source = rows(Storage(f"sqlite:///{work / 'gpu.db'}"), "gpu-cuda", "LARGE")
    (work / "tune.md").write_text(to_markdown(table, geomeans(table, "gpu-cuda"), source))


def _transfer(names: list[str], work: Path, end: float) -> None:
    from hydra import compose, initialize_config_dir

    from transfertune.db import Storage
    from transfertune.paths import CONFIG_DIR
    from transfertune.porting import experiment

    tuned = Storage(f"sqlite:///{work / 'gpu.db'}").latest_runs(target_name="gpu-cuda", size="LARGE",
                                                                 variant="tuned")
    kernels = [n for n in names if n in tuned]
    log(f"transfer: {len(kernels)} tuned kernels")
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="experiment", overrides=[
            f"kernels=[{','.join(kernels)}]", "targets=[gpu-cuda]", "size=LARGE", "~data.sizes.cpu-omp",
            "~data.sizes.cpu-seq", "+data.sizes.gpu-cuda=LARGE", f"db=sqlite:///{work / 'gpu.db'}",
            f"output_dir={work / 'loo'}", "epochs=40", f"data.cache_dir={work / 'cache'}",
            f"time_budget={max(0.0, end - time.monotonic()):.0f}"])
    experiment.run(cfg)  # rewrites its table after every kernel; starts none it cannot finish by `end`


def publish(work: Path, results: Path) -> None:
    """The session's tables under `results`/gpu-cuda, and its ``by_target.gpu-cuda`` (with
    the device as ``machine``) in `results`/summary.json beside the CPU targets'."""
    folder = results / "gpu-cuda"
    folder.mkdir(parents=True, exist_ok=True)
    for source, name in PUBLISHED.items():
        if (work / source).exists():
            shutil.copyfile(work / source, folder / name)
    gpu = json.loads((work / "loo" / "summary.json").read_text())["by_target"]["gpu-cuda"]
    path = results / "summary.json"
    summary = json.loads(path.read_text()) if path.exists() else {"by_target": {}}
    summary["by_target"]["gpu-cuda"] = {**gpu, "source": "gpu-cuda/summary.json"}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    log(f"published {work} to {folder}; {path} has by_target.gpu-cuda")


if __name__ == "__main__":
    sys.exit(main())
