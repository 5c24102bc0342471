"""Query latency and recall of the recipe index at 1k, 100k and 1M synthetic vectors.

For each size: the index kind `RecipeIndex.for_size` picks, single-vector query latency
(median and 90th percentile over repeated queries), and recall@10 against exact search
on the same vectors. An HNSW index is built once and queried at several `efSearch`
values (a query-time setting), which draws its recall / latency curve
(`recall_latency.png`). Vectors are clustered Gaussians in the embedding dimension (real
embeddings are clustered by kernel family, uniform noise would flatter HNSW less).

    .venv/bin/python benchmarks/index_benchmark.py [--sizes 1000,100000,1000000] [--out results/index]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import faiss
import numpy as np

from transfertune.index.recipe_index import RecipeIndex
from transfertune.ir.target import local_fingerprint


def vectors(count: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centres = rng.normal(size=(max(8, count // 1000), dim)).astype(np.float32) * 4
    return (centres[rng.integers(len(centres), size=count)] + rng.normal(size=(count, dim))).astype(np.float32)


EF_SEARCH = (64, 128, 256, 512, 1024)


def measure(count: int, dim: int, queries: int, rng: np.random.Generator) -> list[dict[str, float | str | int]]:
    """Rows for one size: one for exact search, one per `EF_SEARCH` value for HNSW."""
    data = vectors(count, dim, rng)
    probe = vectors(queries, dim, rng)
    index = RecipeIndex.for_size(dim, count)
    begin = time.perf_counter()
    index.add(data, np.arange(count, dtype=np.int64))
    build = time.perf_counter() - begin
    exact = faiss.IndexFlatL2(dim)
    exact.add(data)
    _, truth = exact.search(probe, 10)
    default = index.ef_search
    rows = []
    for ef in EF_SEARCH if index.kind == "hnsw" else (None,):
        if ef is not None:
            index.ef_search = ef
        _, found = index.search(probe, 10)
        recall = float(np.mean([len(set(t) & set(f)) / 10 for t, f in zip(truth, found, strict=True)]))
        latencies = []
        for q in probe:
            start = time.perf_counter()
            index.search(q[None, :], 10)
            latencies.append(1000 * (time.perf_counter() - start))
        latencies.sort()
        rows.append({"vectors": count, "kind": index.kind, "ef_search": ef, "default": ef == default,
                     "build_s": round(build, 2), "query_ms_median": round(statistics.median(latencies), 4),
                     "query_ms_p90": round(latencies[int(0.9 * len(latencies))], 4), "recall_at_10": round(recall, 4)})
    return rows


def plot(rows: list[dict[str, float | str | int]], path: Path) -> None:
    """Recall@10 against median query latency, one line per size (HNSW's efSearch sweep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for count in sorted({r["vectors"] for r in rows}):
        mine = [r for r in rows if r["vectors"] == count]
        ax.plot([r["query_ms_median"] for r in mine], [r["recall_at_10"] for r in mine], marker="o",
                label=f"{count:,} vectors ({mine[0]['kind']})")
        for r in mine:
            if r["ef_search"]:
                ax.annotate(str(r["ef_search"]), (r["query_ms_median"], r["recall_at_10"]), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("median query latency (ms, one vector, k = 10)")
    ax.set_ylabel("recall@10 against exact search")
    ax.set_title("Recipe index: recall against latency (labels: efSearch)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--dim", type=int, default=32)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default="results/index")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = [row for s in args.sizes.split(",") for row in measure(int(s), args.dim, args.queries, rng)]
    fp = local_fingerprint()
    result = {"machine": {"cpu": fp.cpu_model, "cores": fp.cores}, "dim": args.dim, "faiss_threads":
              faiss.omp_get_max_threads(), "rows": rows}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, out / "recall_latency.png")
    for row in rows:
        print(row)


if __name__ == "__main__":
    main()
