"""The PolyBench leave-one-out transfer experiment.

Kernels are split into folds. For each fold, an encoder is trained without the fold's
kernels, the recipe index leaves them out, and each held-out kernel gets recipes only
from the others; the transferred program is timed in one run with the untouched code,
Polly and docc's schedule. The oracle is the kernel's own tuned program from the
database (`transfertune tune`). All work happens on a scratch copy of the database, so
the shipped seed never sees the experiment's measurements.
"""

from __future__ import annotations

import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from tqdm import tqdm

from transfertune.commands import report as tune_report
from transfertune.db import Storage
from transfertune.db.portable import export, load
from transfertune.index.embedder import Embedder
from transfertune.index.lookup import RecipeLookup
from transfertune.ir.target import Fingerprint, backend_of, local_fingerprint, local_target
from transfertune.measure.peers import COMPARED as PEERS
from transfertune.measure.peers import checked, peers_for
from transfertune.measure.variants import Settings, suite_workload
from transfertune.porting.api import transfer_program
from transfertune.porting.tables import geomean, plot_speedups, resumed_rows, source_commit, write_csv
from transfertune.suites.augmented import base_of
from transfertune.suites.polybench import NAMES, get_kernel
from transfertune.train.dataset import kernel_folds
from transfertune.train.train import fit, research_store, samples, save_checkpoint

SPEEDUPS = ("transfer", *PEERS, "oracle")
COLUMNS = ("kernel", "target", "baseline_s", *SPEEDUPS, "variants", "seconds", "recipe", "baseline_device_s",
           "transfer_device_s")
"""The table's columns (`_row`); older tables lack the newer peers and the device times
(GPU targets: seconds in kernels on the device, copies excluded)."""


def scratch_storage(cfg: DictConfig, folder: Path) -> Storage:
    """A private copy of the experiment's source database: in `folder`, or at
    ``scratch_db`` where set, kept after the run so its measurements can be imported
    into the seed (a new machine's transfers are its first data); an existing
    ``scratch_db`` is an interrupted run's copy and is resumed, its measurements kept."""
    path = Path(str(cfg.scratch_db)).expanduser().resolve() if cfg.get("scratch_db") else folder / "scratch.db"
    if path.exists():
        return Storage(f"sqlite:///{path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    export(research_store(cfg), folder / "export")
    scratch = Storage(f"sqlite:///{path.with_suffix('.partial')}")
    load(scratch, folder / "export")
    scratch.engine.dispose()
    path.with_suffix(".partial").rename(path)  # only a complete copy is ever resumed
    return Storage(f"sqlite:///{path}")


def run(cfg: DictConfig) -> dict[str, Any]:
    """Transfer every requested kernel on every target; results are rewritten after each."""
    with tempfile.TemporaryDirectory(prefix="tt-experiment-") as tmp:
        return _run(cfg, Path(tmp))


def _run(cfg: DictConfig, tmp: Path) -> dict[str, Any]:
    from transfertune.commands.common import polybench_c

    reference = polybench_c(cfg)
    peers = checked([str(p) for p in cfg.peers])
    kernels = list(NAMES) if cfg.kernels == "all" else [str(k) for k in cfg.kernels]
    storage = scratch_storage(cfg, tmp)
    data = samples(cfg, storage)
    out = Path(str(cfg.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    rows = finished_rows(out / "results.csv") if cfg.resume else []
    done = {(r["kernel"], r["target"]) for r in rows}
    every = sorted({s.program for s in data} & set(NAMES))  # folds over PolyBench; other suites only train
    jobs = [(fold, k, t) for fold in kernel_folds(every, int(cfg.folds), int(cfg.seed)) for k in fold if k in kernels
            for t in cfg.targets if (k, str(t)) not in done]
    others = frozenset(s.program for s in data) - set(NAMES)  # recipes are lent by PolyBench kernels only
    bar = tqdm(jobs, desc="polybench_loo", unit="transfer")
    embedders: dict[tuple[str, ...], Embedder] = {}
    begin, longest = time.monotonic(), 0.0
    for fold, name, target in bar:
        if cfg.time_budget is not None and time.monotonic() - begin + longest > float(cfg.time_budget):
            bar.write(f"time budget of {cfg.time_budget} s: stopping before {name} {target} (the longest transfer "
                      f"took {longest:.0f} s); run again to resume")
            break
        started = time.monotonic()
        bar.set_postfix_str(f"{name} {target}")
        key = tuple(sorted(fold))
        if key not in embedders:
            embedders[key] = fold_embedder(cfg, [s for s in data if base_of(s.program) not in fold],
                                            tmp / f"fold-{len(embedders)}")
        # One cache for the run: an index is tagged by checkpoint and excluded kernels, so a
        # fold's index is built once and topped up for its next kernel instead of rebuilt.
        lookup = RecipeLookup(storage, embedders[key], exclude=frozenset(fold) | others, cache=tmp / "index")
        kernel = get_kernel(name)
        workload = suite_workload(kernel, str(cfg.size), str(cfg.check_size), reference)
        here = local_target(str(target))
        result = transfer_program(workload, here, str(cfg.size), lookup,
                                  size=str(cfg.data.sizes[str(target)]), k=int(cfg.k),
                                  recipes_per_neighbour=int(cfg.recipes_per_neighbour),
                                  max_variants=cfg.max_variants,
                                  settings=Settings(repetitions=int(cfg.repetitions), check_size=str(cfg.check_size),
                                                    early_stop=1.5), suite="experiment",
                                  peers=peers_for(kernel, peers, reference, here))
        rows.append(_row(name, str(target), result.report, storage, str(cfg.size)))
        _write(rows, out)
        longest = max(longest, time.monotonic() - started)
        bar.write(f"{name:16s} {target}: transfer {_fmt(rows[-1]['transfer'])}, polly {_fmt(rows[-1]['polly'])}, "
                  f"docc {_fmt(rows[-1]['docc'])}, oracle {_fmt(rows[-1]['oracle'])}, {rows[-1]['variants']} variants")
    return _write(rows, out)


def finished_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of an earlier, interrupted run of the experiment (resume: they are kept and
    their kernels are not transferred again)."""
    rows: list[dict[str, Any]] = resumed_rows(path, ("kernel", "target", "baseline_s", "transfer", "oracle", "variants",
                                                     "seconds", "recipe"), COLUMNS)
    for r in rows:
        r["baseline_s"] = float(r["baseline_s"])
        for key in SPEEDUPS:
            r[key] = float(r[key]) if r.get(key) else None  # older tables lack the newer peers
        r["variants"], r["seconds"] = int(r["variants"]), float(r["seconds"])
        for key in ("baseline_device_s", "transfer_device_s"):
            r[key] = float(r[key]) if r.get(key) else None
    return rows


def fold_embedder(cfg: DictConfig, train_set: list[Any], folder: Path) -> Embedder:
    """An encoder trained on `train_set` alone (the kernels an experiment may know), saved
    in `folder` and loaded the way the shipped checkpoint is."""
    model, _ = fit(cfg, train_set)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, cfg, folder / "checkpoint.pt")
    return Embedder.from_checkpoint(folder / "checkpoint.pt")


def _row(name: str, target: str, report: dict[str, Any], storage: Storage, size: str) -> dict[str, Any]:
    m = report["measurements"]
    base = m["baseline"]["median"]

    def speedup(variant: str) -> float | None:
        value = m.get(variant, {}).get("median")
        return base / value if base and value else None

    oracle = next((r["tuned_speedup"] for r in tune_report.rows(storage, target, size)[0] if r["kernel"] == name),
                  None)
    return {"kernel": name, "target": target, "baseline_s": base, "transfer": speedup("transferred"),
            **{peer: speedup(peer) for peer in PEERS}, "oracle": oracle,
            "variants": report["variants_tried"], "seconds": round(report["seconds"], 1),
            "recipe": json.dumps(report["recipe"]), "baseline_device_s": m["baseline"].get("device_median"),
            "transfer_device_s": m.get("transferred", {}).get("device_median")}


def _transfer_over(rows: list[dict[str, Any]]) -> dict[str, float | None]:
    """Transfer's speedup over each peer (geomean over the kernels where both were
    measured, both ratios from the same run): the comparison the peers are there for."""
    return {p: geomean([r["transfer"] / r[p] for r in rows if r["transfer"] and r[p]]) for p in _speedups(
        {r["target"] for r in rows}) if p in PEERS}


def _ratio(row: dict[str, Any], peer: str) -> str:
    """Transfer's speedup over `peer` in this row's run ('-' where either is missing)."""
    return _fmt(row["transfer"] / row[peer]) if row["transfer"] and row[peer] else "-"


def _fmt(x: float | None) -> str:
    return f"{x:.2f}x" if x else "-"


def _by_target(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Rows per target, targets in name order (a stable layout for the table and the plot)."""
    return {t: [r for r in rows if r["target"] == t] for t in sorted({r["target"] for r in rows})}


def _speedups(targets: Any) -> tuple[str, ...]:
    """The speedup columns that exist on `targets` (a GPU has no Polly, a CPU no CuPy)."""
    return tuple(k for k in SPEEDUPS if k in ("transfer", "oracle") or any(k in backend_of(t).peers for t in targets))


def _machine(fp: Fingerprint) -> dict[str, Any]:
    """A machine as the summary names it (for a GPU target, `fp` is the device's)."""
    return {"cpu": fp.cpu_model, "cores": fp.cores, "caches": fp.caches, "isa": list(fp.isa), "host": platform.node()}


def _write(rows: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    write_csv(rows, out / "results.csv")
    groups = _by_target(rows)
    summary = {
        "geomean": {k: geomean([r[k] for r in rows]) for k in _speedups(groups)},
        # Targets answer different questions (a parallel and a sequential machine), so each
        # also gets its own geometric means; "geomean" above pools them.
        "by_target": {t: {"geomean": {k: geomean([r[k] for r in mine]) for k in _speedups([t])},
                          "transfer_over": _transfer_over(mine), "kernels": len(mine),
                          "machine": _machine(local_target(t).fingerprint)}
                      for t, mine in groups.items()},
        "max_variants_per_kernel": max((r["variants"] for r in rows), default=0),
        "regressions": sorted({f"{r['kernel']}@{r['target']}" for r in rows if r["transfer"] and r["transfer"] < 1.0}),
        "kernels": len({r["kernel"] for r in rows}),
        "machine": _machine(local_fingerprint()),
        "commit": source_commit(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    names = {"transfer": "transfer", "polly": "Polly", "docc": "docc", "clang_c": "C clang -O3",
             "polly_c": "C Polly", "numpy": "NumPy", "cupy": "CuPy", "oracle": "oracle"}
    shown = _speedups(groups)
    against = [p for p in ("polly_c", "numpy", "cupy") if p in shown]
    lines = ["| kernel | target | baseline | " + " | ".join(names[k] for k in shown)
             + "".join(f" | transfer / {names[p]}" for p in against) + " | variants | seconds |",
             "|---" * (len(shown) + len(against) + 5) + "|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['target']} | {r['baseline_s']:.4g} s | "
                     + " | ".join(_fmt(r[k]) for k in shown) + "".join(f" | {_ratio(r, p)}" for p in against)
                     + f" | {r['variants']} | {r['seconds']} |")
    for label in groups:
        g = summary["by_target"][label]
        lines.append(f"| **geomean** | {label} | | " + " | ".join(_fmt(g["geomean"].get(k)) for k in shown)
                     + "".join(f" | {_fmt(g['transfer_over'].get(p))}" for p in against) + " | | |")
    lines += ["", "Speedups over the untouched build, measured in the same run as the transferred program. "
              "C clang -O3 / C Polly: the benchmark's own PolyBench/C source (reference.polybench_c); "
              "NumPy: the kernel's NumPy formulation (matrix products through NumPy's OpenBLAS), so "
              "transfer / NumPy is the fraction of OpenBLAS's GFLOP/s reached; CuPy: the same formulation "
              "on the GPU (cuBLAS), copies included. Each geomean is over the kernels where that column "
              "was measured."]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    if rows:
        plot_speedups(rows, {k: k for k in shown}, "PolyBench leave-one-out transfer", out / "speedups.png")
    return summary
