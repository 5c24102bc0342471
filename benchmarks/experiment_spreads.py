"""The run-to-run spread behind a leave-one-out table: per kernel, each variant's relative
spread (max - min) / median over the final run's repetitions, read from the database the
experiment kept (`transfertune experiment ... scratch_db=PATH`).

The experiment's table holds medians; this is how far the samples behind each median lie
apart, so a ratio between two columns can be read against it.

    .venv/bin/python benchmarks/experiment_spreads.py --db PATH --target cpu-omp [--size LARGE] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from transfertune.db import Storage
from transfertune.ir.target import local_target

VARIANTS = ("baseline", "transferred", "clang_c", "polly_c", "numpy")


def spreads_table(storage: Storage, target: str, size: str) -> str:
    """Markdown: one row per kernel transferred on this machine's `target`, then the median
    and the largest spread of each column."""
    runs = storage.latest_runs(target=local_target(target).key, size=size, variant="transferred")
    lines = [f"| kernel ({target}, {size}) | " + " | ".join(VARIANTS) + " |", "|---" * (len(VARIANTS) + 1) + "|"]
    seen: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for kernel, run in sorted(runs.items()):
        cells = []
        for variant in VARIANTS:
            m = run.measurements.get(variant)
            if m is not None and m.ok and m.samples:
                seen[variant].append(m.spread)
                cells.append(f"{100 * m.spread:.1f}% (n={len(m.samples)})")
            else:
                cells.append("-")
        lines.append(f"| {kernel} | " + " | ".join(cells) + " |")
    for label, pick in (("median", statistics.median), ("largest", max)):
        lines.append(f"| **{label}** | " + " | ".join(f"{100 * pick(seen[v]):.1f}%" if seen[v] else "-"
                                                   for v in VARIANTS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the experiment's scratch_db (SQLite file)")
    parser.add_argument("--target", required=True)
    parser.add_argument("--size", default="LARGE")
    parser.add_argument("--out", help="append the table to this Markdown file")
    args = parser.parse_args()
    if not Path(args.db).is_file():
        raise SystemExit(f"no database at {args.db}")
    table = spreads_table(Storage(f"sqlite:///{Path(args.db).resolve()}"), args.target, args.size)
    print(table)
    if args.out:
        with open(args.out, "a") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
