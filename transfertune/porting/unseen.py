"""The ``unseen`` experiment: transfer onto kernels nobody here tuned (the corpus beyond
PolyBench), with recipes from the PolyBench seed only, through the user front door.

Each corpus kernel is handed to `transfer()` as a user would hand it over (its loop
function and inputs at the dataset `size`), so the probe parse, the Python
check and the two-shape verification all run. Then the returned program is checked
against the kernel's NumPy reference at the transfer shape and at a second dataset
(`check_size`), and the NumPy reference is timed on the same inputs where it exists.
"""

from __future__ import annotations

import inspect
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from tqdm import tqdm

from transfertune.index.lookup import RecipeLookup
from transfertune.ir.kernel import Kernel, copy_args
from transfertune.ir.target import local_fingerprint
from transfertune.measure.child import max_error
from transfertune.measure.variants import Settings
from transfertune.porting.api import Transferred, transfer
from transfertune.porting.experiment import fold_embedder, scratch_storage
from transfertune.porting.tables import geomean, plot_speedups, resumed_rows, source_commit, write_csv
from transfertune.porting.user import ArgumentError
from transfertune.suites import corpus, polybench, suite_or_none
from transfertune.suites.augmented import base_of
from transfertune.train.train import samples

TOLERANCE = 1e-6
COLUMNS = ("kernel", "family", "target", "baseline_s", "transfer", "numpy_s", "numpy", "correct", "neighbours",
           "variants", "seconds", "recipe")
"""The table's columns, in order (`_transfer_one` writes them; a resumed table must have them)."""


def run(cfg: DictConfig) -> dict[str, Any]:
    """Transfer every requested corpus kernel on every target; results rewritten after each."""
    names = list(corpus.NAMES) if cfg.kernels == "all" else [str(k) for k in cfg.kernels]
    out = Path(str(cfg.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    rows = _finished(out / "results.csv") if cfg.resume else []
    done = {(r["kernel"], r["target"]) for r in rows}
    jobs = [(n, str(t)) for n in names for t in cfg.targets if (n, str(t)) not in done]
    with tempfile.TemporaryDirectory(prefix="tt-unseen-") as tmp:
        # Recipes from PolyBench only: whatever else the store holds (the corpus itself) lends nothing,
        # and the encoder never saw the corpus either (trained here on PolyBench and its rewrites alone).
        storage = scratch_storage(cfg, Path(tmp))
        others = frozenset(p for p, _, _, _, _ in storage.nests()) - set(polybench.NAMES)
        known = [s for s in samples(cfg, storage) if suite_or_none(base_of(s.program)) == "polybench"]
        lookup = RecipeLookup(storage, fold_embedder(cfg, known, Path(tmp) / "encoder"),
                              cache=Path(tmp) / "index", exclude=others)
        bar = tqdm(jobs, desc="unseen", unit="transfer")
        for name, target in bar:
            bar.set_postfix_str(f"{name} {target}")
            rows.append(_transfer_one(cfg, corpus.get_kernel(name), target, lookup))
            _write(rows, out)
            bar.write(f"{name:20s} {target}: {rows[-1]['transfer']:.2f}x, correct {rows[-1]['correct']}, "
                      f"neighbours {rows[-1]['neighbours']}")
    return _write(rows, out)


def _transfer_one(cfg: DictConfig, kernel: Kernel, target: str, lookup: RecipeLookup) -> dict[str, Any]:
    size = str(cfg.size)
    args = _ordered(kernel, kernel.arguments(size))
    settings = Settings(repetitions=int(cfg.repetitions), early_stop=1.5)
    result = transfer(kernel.func, *copy_args(args).values(), target=target, k=int(cfg.k), size=str(
        cfg.data.sizes[target]), recipes_per_neighbour=int(cfg.recipes_per_neighbour), max_variants=cfg.max_variants,
        settings=settings, lookup=lookup)
    report = result.report
    base = report["measurements"]["baseline"]["median"]
    fast = report["measurements"]["transferred"]["median"]
    correct = [_matches_reference(kernel, result, _ordered(kernel, kernel.arguments(s)))
               for s in (size, str(cfg.check_size))]
    numpy_s = _time_reference(kernel, args)
    neighbours = "; ".join(f"{n['kernel']}/{n['nest']} ({n['distance']:.2f})" for nest in report["nests"]
                           for n in nest["neighbours"][:1])
    return {"kernel": kernel.name, "family": kernel.group, "target": target, "baseline_s": base,
            "transfer": base / fast, "numpy_s": numpy_s, "numpy": base / numpy_s,
            "correct": "NO" if False in correct else "yes" if all(correct) else "yes (2nd shape refused)",
            "neighbours": neighbours,
            "variants": report["variants_tried"], "seconds": round(report["seconds"], 1),
            "recipe": json.dumps(report["recipe"])}


def _ordered(kernel: Kernel, args: dict[str, Any]) -> dict[str, Any]:
    """Arguments in the loop function's signature order (how a user passes them)."""
    return {name: args[name] for name in inspect.signature(kernel.func).parameters}


def _matches_reference(kernel: Kernel, result: Transferred, args: dict[str, Any]) -> bool | None:
    """Whether the program computes the reference at `args`; None when its guard refuses
    the shape (pinned shapes, where docc could not bound the accesses): refused, not wrong."""
    want, got = copy_args(args), copy_args(args)
    kernel.reference(**want)
    try:
        result.run(*got.values())
    except ArgumentError:
        return None
    return all(max_error(got[n], want[n]) <= TOLERANCE for n in kernel.outputs)


def _time_reference(kernel: Kernel, args: dict[str, Any], repetitions: int = 3) -> float:
    """Median seconds of the NumPy reference on fresh copies (the corpus references are
    vectorised NumPy, the formulation a NumPy user would write)."""
    times = []
    for _ in range(repetitions + 1):
        fresh = copy_args(args)
        begin = time.perf_counter()
        kernel.reference(**fresh)
        times.append(time.perf_counter() - begin)
    return statistics.median(times[1:])


def _finished(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = resumed_rows(path, COLUMNS, COLUMNS)
    for r in rows:
        for key in ("baseline_s", "transfer", "numpy_s", "numpy", "seconds"):
            r[key] = float(r[key])
        r["variants"] = int(r["variants"])
    return rows


def _write(rows: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    write_csv(rows, out / "results.csv")
    fp = local_fingerprint()
    targets = sorted({r["target"] for r in rows})
    summary = {
        "by_target": {t: {"geomean": {"transfer": geomean([r["transfer"] for r in rows if r["target"] == t]),
                                      "numpy": geomean([r["numpy"] for r in rows if r["target"] == t])},
                          "kernels": sum(r["target"] == t for r in rows)} for t in targets},
        "wrong": sorted(f"{r['kernel']}@{r['target']}" for r in rows if r["correct"] == "NO"),
        "regressions": sorted(f"{r['kernel']}@{r['target']}" for r in rows if r["transfer"] < 1.0),
        "machine": {"cpu": fp.cpu_model, "cores": fp.cores, "isa": list(fp.isa), "host": platform.node()},
        "commit": source_commit(),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    lines = ["| kernel | family | target | untouched | transfer | NumPy | correct (2 shapes) | nearest neighbour "
             "per nest (kernel/nest, distance) | variants |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kernel']} | {r['family']} | {r['target']} | {r['baseline_s'] * 1e3:.3g} ms | "
                     f"{r['transfer']:.2f}x | {r['numpy']:.2f}x | {r['correct']} | {r['neighbours']} | {r['variants']} |")
    for t, s in summary["by_target"].items():
        g = s["geomean"]
        lines.append(f"| **geomean** | | {t} | | {g['transfer']:.2f}x | {g['numpy']:.2f}x | | | |")
    (out / "results.md").write_text("\n".join(lines) + "\n")
    if rows:
        plot_speedups(rows, {"transfer": "transfer", "numpy": "NumPy"},
                      "Transfer onto unseen kernels (PolyBench seed only)", out / "speedups.png")
    return summary
