"""What the experiments share when they write results: the CSV and geometric means."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any


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
