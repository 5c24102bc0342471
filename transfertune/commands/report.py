"""``transfertune report``: what tuning achieved, per kernel and as geometric means.

Reads the latest whole-program run of every kernel (baseline, Polly, docc's schedule,
the C peers and NumPy where they were measured, and the tuned program, timed interleaved
in one child) from the database, so all ratios in a row come from the same run.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from transfertune.db import Storage, open_store
from transfertune.ir.target import backend_of, local_target
from transfertune.suites import suite_names, suite_or_none

CORE = ("polly", "docc", "tuned")
"""Measured in every tuned run where the target has them (a GPU has no Polly); the
geomeans are over the kernels that have all of them."""
EXTRA = ("clang_c", "polly_c", "numpy", "cupy")
"""Measured where the kernel has them (C peers with ``reference.polybench_c`` at tuning)."""
VARIANTS = ("baseline", *CORE, *EXTRA)


def rows(storage: Storage, target: str, size: str) -> tuple[list[dict[str, Any]], str]:
    """Per-kernel rows of the latest tuned run; per kernel, this machine's target key if it
    was tuned here, else any machine's target of the same name (the source says which)."""
    key = local_target(target).key
    runs = {**storage.latest_runs(target_name=target, size=size, variant="tuned"),
            **storage.latest_runs(target=key, size=size, variant="tuned")}
    # The augmented suite's rewrites are training data for the embedding, not benchmarks.
    runs = {k: v for k, v in runs.items() if suite_or_none(k) != "augmented"}
    here = sum(r.target_key == key for r in runs.values())
    others = sorted({r.target_key for r in runs.values()} - {key})
    parts = ([f"target {key} (this machine, {here} kernels)"] if here else []) + (
        [f"target(s) {', '.join(others)} (measured on another machine, {len(runs) - here} kernels)"] if others else [])
    source = "; ".join(parts) or "no data"
    out = []
    order = [*suite_names("polybench"), *suite_names("corpus")]
    for kernel in sorted(runs, key=lambda n: (order.index(n) if n in order else len(order), n)):
        run = runs[kernel].measurements
        row: dict[str, Any] = {"kernel": kernel}
        for v in VARIANTS:
            m = run.get(v)
            row[f"{v}_status"] = m.status if m else "missing"
            row[f"{v}_s"] = m.median if m and m.ok else None
            row[f"{v}_spread"] = m.spread if m and m.ok else None
        base = row["baseline_s"]
        for v in VARIANTS[1:]:
            row[f"{v}_speedup"] = base / row[f"{v}_s"] if base and row[f"{v}_s"] else None
        tuned = run["tuned"]
        row["variants_tried"] = int(tuned.phases.get("variants_tried", 0))
        row["tuning_s"] = tuned.phases.get("tuning", 0.0)
        out.append(row)
    return out, source


def geomeans(table: list[dict[str, Any]], target: str) -> dict[str, float | None]:
    """Geometric mean speedups over the kernels where Polly, docc and tuned are all
    measured (those of them the target has); an extra peer's over those of them where it
    is measured too. Keys: tuned and the peers `target`'s backend has."""
    core = _present(table, CORE)
    complete = [r for r in table if all(r[f"{v}_speedup"] for v in core)]
    out = {}
    for v in (x for x in CORE + EXTRA if x == "tuned" or x in backend_of(target).peers):
        ratios = [r[f"{v}_speedup"] for r in complete if r[f"{v}_speedup"]]
        out[v] = math.exp(sum(math.log(x) for x in ratios) / len(ratios)) if ratios else None
    return out


def _present(table: list[dict[str, Any]], variants: tuple[str, ...]) -> tuple[str, ...]:
    """Those of `variants` that some kernel's run has (tried, whatever became of it)."""
    return tuple(v for v in variants if any(r[f"{v}_status"] != "missing" for r in table))


def main(cfg: DictConfig) -> int:
    storage = open_store(cfg.db or None)
    table, source = rows(storage, str(cfg.target), str(cfg.size))
    geo = geomeans(table, str(cfg.target))
    out = Path(str(cfg.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"{cfg.target}-{cfg.size}"
    if table:
        with stem.with_suffix(".csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(table[0]))
            writer.writeheader()
            writer.writerows(table)
    markdown = to_markdown(table, geo, source)
    stem.with_suffix(".md").write_text(markdown)
    if cfg.format == "json":
        print(json.dumps({"target": str(cfg.target), "size": str(cfg.size), "source": source,
                          "kernels": table, "geomean": geo}))
    elif cfg.format == "text":
        print(markdown)
    else:
        raise ValueError(f"unknown format {cfg.format!r}; known: text, json")
    return 0


def to_markdown(table: list[dict[str, Any]], geo: dict[str, float | None], source: str) -> str:
    def cell(r: dict[str, Any], v: str) -> str:
        if r[f"{v}_s"] is None:
            return r[f"{v}_status"]
        return f"{r[f'{v}_s']:.4g} s ±{50 * r[f'{v}_spread']:.0f}%"

    def ratio(x: float | None) -> str:
        return f"{x:.2f}x" if x else "-"

    shown = ("baseline", *_present(table, CORE), *(v for v in EXTRA if any(r[f"{v}_s"] for r in table)))
    names = {"baseline": "baseline", "polly": "Polly", "docc": "docc", "tuned": "tuned", "clang_c": "C clang -O3",
             "polly_c": "C Polly", "numpy": "NumPy", "cupy": "CuPy"}
    lines = [f"Data: {source}. Median runtime ± half the range; speedups over the untouched code, same run.",
             "", "| kernel | " + " | ".join(names[v] for v in shown) + " | "
             + " | ".join(f"{names[v]} speedup" for v in shown[1:]) + " | variants | tuning |",
             "|---" * (2 * len(shown) + 1) + "|"]
    for r in table:
        lines.append(f"| {r['kernel']} | " + " | ".join(cell(r, v) for v in shown) + " | "
                     + " | ".join(ratio(r[f"{v}_speedup"]) for v in shown[1:])
                     + f" | {r['variants_tried']} | {r['tuning_s']:.0f} s |")
    lines.append("| **geomean** |" + " |" * len(shown) + " " + " | ".join(ratio(geo.get(v)) for v in shown[1:])
                 + " | | |")
    return "\n".join(lines) + "\n"
