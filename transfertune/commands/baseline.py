"""``transfertune baseline``: the reference table every later result is judged by.

For each kernel: the untouched code under clang -O3, Polly, and docc's own schedule,
the benchmark's own C source under clang -O3 and Polly (with ``reference.polybench_c``)
and NumPy (where the kernel has a NumPy formulation), timed interleaved in one child.
Rows are appended to the CSV as each kernel finishes, so an interrupted run resumes
where it stopped; the Markdown table is rewritten from the CSV after every kernel.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from omegaconf import DictConfig
from tqdm import tqdm

from transfertune.commands.common import gflops, kernels, polybench_c, settings
from transfertune.ir.target import Target, local_target
from transfertune.measure.measurement import Measurement
from transfertune.measure.peers import ALL as PEERS
from transfertune.measure.peers import peers_for
from transfertune.measure.variants import Variant, measure_variants, suite_workload

LABELS = {"baseline": "untouched -O3", "polly": "Polly", "docc": "docc schedule", "clang_c": "C, clang -O3",
          "polly_c": "C, Polly", "numpy": "NumPy", "cupy": "CuPy (cuBLAS), copies included"}
COLUMNS = ["kernel", "size", "target", "target_key"] + [
    f"{peer}_{field}" for peer in PEERS for field in ("status", "median_s", "spread", "gflops")]


def main(cfg: DictConfig) -> int:
    target = local_target(str(cfg.target))
    size = str(cfg.size)
    out = Path(str(cfg.output_dir))
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{target.name}-{size}.csv"
    done = _done(csv_path, target) if cfg.resume else set()
    if csv_path.exists() and (not cfg.resume or _header(csv_path) != COLUMNS):
        csv_path.unlink()  # a table from an older layout cannot be continued
        done = set()
    todo = [k for k in kernels(cfg) if k.name not in done]
    reference = polybench_c(cfg)
    for kernel in tqdm(todo, desc=f"baseline {size} {target.name}", unit="kernel"):
        workload = suite_workload(kernel, size, str(cfg.check_size), reference)
        results = measure_variants(workload, target, size, [Variant(p) for p in peers_for(kernel, PEERS, reference, target)],
                                   settings(cfg))
        _append(csv_path, _row(kernel, size, target, results))
        write_markdown(csv_path, out / f"{target.name}-{size}.md", target)
    write_markdown(csv_path, out / f"{target.name}-{size}.md", target)
    print((out / f"{target.name}-{size}.md").read_text())
    return 0


def _header(csv_path: Path) -> list[str]:
    with csv_path.open() as f:
        return next(csv.reader(f), [])


def _done(csv_path: Path, target: Target) -> set[str]:
    if not csv_path.exists():
        return set()
    with csv_path.open() as f:
        return {r["kernel"] for r in csv.DictReader(f) if r["target_key"] == target.key}


def _row(kernel, size: str, target: Target, results: dict[str, Measurement]) -> dict[str, object]:
    row: dict[str, object] = {"kernel": kernel.name, "size": size, "target": target.name,
                              "target_key": target.key}
    for peer in PEERS:
        m = results.get(peer)  # None: a peer this kernel does not have
        ok = m is not None and m.ok
        row[f"{peer}_status"] = m.status if m is not None else "absent"
        row[f"{peer}_median_s"] = f"{m.median:.6g}" if ok else ""
        row[f"{peer}_spread"] = f"{m.spread:.3f}" if ok else ""
        row[f"{peer}_gflops"] = f"{gflops(kernel, size, m):.3f}" if ok else ""
    return row


def _append(csv_path: Path, row: dict[str, object]) -> None:
    new = not csv_path.exists()
    with csv_path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow(row)
        f.flush()


def write_markdown(csv_path: Path, md_path: Path, target: Target) -> None:
    """Markdown table from the CSV: median time ± half the range, speedups over the
    untouched code, and each peer's geometric mean over the kernels where it is ok."""
    with csv_path.open() as f:
        rows = list(csv.DictReader(f))
    fp = target.fingerprint
    lines = [f"Machine: {fp.cpu_model}, {fp.cores} cores, caches {fp.caches}, ISA {' '.join(fp.isa)}; "
             f"target {target.name} ({target.threads} thread(s)), clang-19 -O3 -march={target.march}.",
             "Median runtime of the repetitions, ± half their range as % of the median.", "",
             "| kernel | " + " | ".join(LABELS[p] for p in PEERS) + " | "
             + " | ".join(f"{LABELS[p]} speedup" for p in PEERS[1:]) + " |",
             "|---" * (2 * len(PEERS)) + "|"]
    logs: dict[str, list[float]] = {p: [] for p in PEERS[1:]}
    for r in rows:
        cells = [r["kernel"]]
        for peer in PEERS:
            if r[f"{peer}_status"] == "ok":
                cells.append(f"{float(r[f'{peer}_median_s']):.4g} s ±{50 * float(r[f'{peer}_spread']):.0f}%")
            else:
                cells.append(r[f"{peer}_status"])
        for peer in PEERS[1:]:
            if r["baseline_status"] == "ok" and r[f"{peer}_status"] == "ok":
                ratio = float(r["baseline_median_s"]) / float(r[f"{peer}_median_s"])
                logs[peer].append(math.log(ratio))
                cells.append(f"{ratio:.2f}x")
            else:
                cells.append("-")
        lines.append("| " + " | ".join(cells) + " |")
    geo = {p: (f"{math.exp(sum(v) / len(v)):.2f}x" if v else "-") for p, v in logs.items()}
    lines.append("| **geomean** |" + " |" * len(PEERS) + " " + " | ".join(geo[p] for p in PEERS[1:]) + " |")
    md_path.write_text("\n".join(lines) + "\n")
