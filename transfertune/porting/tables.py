"""What the experiments share when they write results: the CSV (and reading it back to
resume), geometric means, the commit that measured, and the bar plot of speedups per
kernel, one panel per target."""

from __future__ import annotations

import csv
import math
import subprocess
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from transfertune.paths import ROOT


def geomean(values: list[float | None]) -> float | None:
    """Geometric mean of the measured (positive) values; None when there are none."""
    good = [v for v in values if v and v > 0]
    return math.exp(sum(math.log(v) for v in good) / len(good)) if good else None


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    """All rows, header from the first (rewritten whole after every kernel: resumable)."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["kernel"])
        writer.writeheader()
        writer.writerows(rows)


def resumed_rows(path: Path, required: Iterable[str], known: Iterable[str]) -> list[dict[str, str]]:
    """The rows of an earlier run's CSV at `path` (none when there is none), as text.

    An output directory shared by two experiments (or versions) holds a table of another
    shape; reading its rows as ours would crash later on a missing column or mix the two
    tables, so a header lacking a `required` column or with one not `known` is a one-line
    ValueError instead."""
    if not path.exists():
        return []
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = set(reader.fieldnames or ())
    missing, unknown = sorted(set(required) - columns), sorted(columns - set(known))
    if rows and (missing or unknown):
        raise ValueError(f"{path} holds another table (missing columns: {', '.join(missing) or 'none'}; unexpected: "
                         f"{', '.join(unknown) or 'none'}): another experiment wrote this output_dir; pass another "
                         "output_dir, or resume=false to start it afresh")
    return rows


def source_commit() -> str | None:
    """The commit of the code that measured (``-dirty`` when tracked files differed from
    it), so that a table names what produced it; None outside a git checkout."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    head = git("rev-parse", "HEAD")
    if head is None:
        return None
    return f"{head}-dirty" if git("status", "--porcelain", "--untracked-files=no") else head


def plot_speedups(rows: list[dict[str, Any]], keys: dict[str, str], title: str, path: Path) -> None:
    """Grouped bars per kernel (row key -> legend label in `keys`), one panel per target,
    log scale, a line at 1 (the untouched build). Where matplotlib is missing (the GPU
    machine), a note says how to draw it later instead."""
    try:
        import matplotlib
    except ImportError:
        path.with_suffix(".txt").write_text("matplotlib is not installed here: rerun the experiment with "
                                            "resume=true where it is, to draw this plot from results.csv\n")
        return
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = sorted({r["target"] for r in rows})
    most = max(sum(r["target"] == t for r in rows) for t in targets)
    fig, axes = plt.subplots(len(targets), 1, figsize=(max(8, 0.45 * most), 4.5 * len(targets)), squeeze=False)
    width = 0.8 / len(keys)
    for ax, target in zip(axes[:, 0], targets, strict=True):
        mine = [r for r in rows if r["target"] == target]
        for i, (key, label) in enumerate(keys.items()):
            ax.bar([x + (i - (len(keys) - 1) / 2) * width for x in range(len(mine))], [r[key] or 0 for r in mine],
                   width, label=label)
        ax.axhline(1.0, color="black", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xticks(range(len(mine)), [r["kernel"] for r in mine], rotation=60, fontsize=7)
        ax.set_ylabel("speedup over untouched clang -O3")
        ax.set_title(f"{title}, {target}")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
