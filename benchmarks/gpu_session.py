"""The GPU device checks in one bounded run, for a machine with an NVIDIA GPU.

Stages, each writing its results to OUT as it goes and each stopped at its share of
``--minutes`` (what finished is kept):
  1. build: every PolyBench kernel's plain offload, docc's CUDA schedule and GPU probes,
     compiled with nvcc in parallel (the machine's cores), filling the build cache;
  2. verify: all of them against NumPy at MEDIUM (docc's schedule is known to be wrong on
     correlation and trmm: reported as such, never kept);
  3. tune: each kernel at LARGE, probes plus a short search, into OUT/gpu.db;
  4. transfer: the leave-one-out experiment on gpu-cuda (at most 9 variants, never slower
     than the plain offload), results in OUT/loo/.
Run it through benchmarks/gpu_session.sh (sets up the environment first).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

STAGES = {"build": 0.25, "verify": 0.15, "tune": 0.35, "transfer": 0.25}
"""Each stage's share of the minutes."""


def build_kernel(name: str) -> dict[str, Any]:
    """Generate and build a kernel's GPU variants (runs in a worker process)."""
    from transfertune.ir import codegen
    from transfertune.ir.loopnest import loop_nests
    from transfertune.ir.program import build_program
    from transfertune.ir.recipe import ProgramRecipe
    from transfertune.ir.target import local_target
    from transfertune.suites import get_kernel
    from transfertune.tune.probes import probes_for

    target = local_target("gpu-cuda")
    program = build_program(get_kernel(name))
    variants: list[tuple[str, ProgramRecipe | None]] = [("baseline", None), ("docc", None)]
    nests = loop_nests(name, program.sdfg())
    variants += [(f"{probe}@{n.index}", ProgramRecipe({n.index: r}))
                 for n in nests for probe, r in probes_for(target).items()]
    out = {}
    for label, recipe in variants:
        try:
            source = codegen.generate(program, target, "recipe" if recipe else label.split("@")[0], recipe)
            out[label] = codegen.build_source(source, target).status
        except RuntimeError as err:
            out[label] = f"error: {str(err)[:200]}"
    return {"kernel": name, "builds": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT", "outputs/gpu"))
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--kernels", default="all")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from transfertune.ir.target import local_target
    from transfertune.suites.polybench import NAMES

    target = local_target("gpu-cuda")
    names = list(NAMES) if args.kernels == "all" else args.kernels.split(",")
    (out / "target.json").write_text(json.dumps(target.to_json(), indent=2))
    budget = {stage: share * args.minutes * 60 for stage, share in STAGES.items()}

    begin = time.monotonic()
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool, (out / "build.jsonl").open("w") as log:
        for result in pool.map(build_kernel, names):
            log.write(json.dumps(result) + "\n")
            log.flush()
            if time.monotonic() - begin > budget["build"]:
                break
    _verify(names, target, out, budget["verify"])
    _tune(names, out, budget["tune"])
    _transfer(names, out, budget["transfer"])


def _verify(names: list[str], target: Any, out: Path, seconds: float) -> None:
    from transfertune.measure.variants import Variant, measure_variants
    from transfertune.suites import get_kernel

    begin = time.monotonic()
    with (out / "verify.jsonl").open("w") as log:
        for name in names:
            if time.monotonic() - begin > seconds:
                break
            results = measure_variants(get_kernel(name), target, "MEDIUM", [Variant("baseline"), Variant("docc")],
                                       benchmark=False)
            log.write(json.dumps({"kernel": name, **{v: {"status": m.status, "max_error": m.max_error,
                                                          "message": m.message[-300:]}
                                                      for v, m in results.items()}}) + "\n")
            log.flush()


def _tune(names: list[str], out: Path, seconds: float) -> None:
    from transfertune.db import Storage
    from transfertune.measure.variants import Settings
    from transfertune.suites import get_kernel
    from transfertune.tune.executor import InlineExecutor
    from transfertune.tune.strategy import Budget, get_strategy
    from transfertune.tune.tuner import TuneOptions, Tuner

    storage = Storage(f"sqlite:///{out / 'gpu.db'}")
    per_kernel = seconds / max(1, len(names))
    options = TuneOptions(size="LARGE", budget=Budget(8, per_kernel), top=1, final_repetitions=3,
                          settings=Settings(repetitions=3, early_stop=1.5, timeout=60))
    tuner = Tuner(storage, InlineExecutor(), "gpu-cuda", get_strategy("evolutionary"), options)
    begin = time.monotonic()
    with (out / "tune.jsonl").open("w") as log:
        for name in names:
            if time.monotonic() - begin > seconds:
                break
            result = tuner.tune_kernel(get_kernel(name))
            m = result.measurements
            log.write(json.dumps({"kernel": name, "recipe": result.recipe.to_json(),
                                  **{v: x.to_json() for v, x in m.items()}}) + "\n")
            log.flush()


def _transfer(names: list[str], out: Path, seconds: float) -> None:  # noqa: ARG001 - bounded by the run's time-out
    from hydra import compose, initialize_config_dir

    from transfertune.commands import experiment
    from transfertune.paths import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="experiment", overrides=[
            f"kernels=[{','.join(names)}]", "targets=[gpu-cuda]", "size=LARGE", "~data.sizes.cpu-omp",
            "~data.sizes.cpu-seq", "+data.sizes.gpu-cuda=LARGE", f"db=sqlite:///{out / 'gpu.db'}",
            f"output_dir={out / 'loo'}", "epochs=40"])
    experiment.main(cfg)  # rewrites its results after every kernel: what the time allowed is kept


if __name__ == "__main__":
    main()
