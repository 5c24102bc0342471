"""The map of similar algorithms: the embedding space in 2-D, coloured by kernel family."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from transfertune.train.dataset import NestSample  # noqa: E402
from transfertune.train.train import embed, fit  # noqa: E402


def embedding_map(cfg: DictConfig, data: list[NestSample], path: Path) -> Path:
    """Train on all nests, project the embeddings with PCA, label every point."""
    model, _ = fit(cfg, data)
    points = PCA(n_components=2, random_state=0).fit_transform(embed(model, data))
    groups = sorted({s.group for s in data})
    colours = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(11, 8))
    for gi, group in enumerate(groups):
        idx = [i for i, s in enumerate(data) if s.group == group]
        ax.scatter(points[idx, 0], points[idx, 1], s=60, color=colours(gi % 10), label=group, alpha=0.8)
    for s, (x, y) in zip(data, points, strict=True):
        ax.annotate(f"{s.program}[{s.position}]", (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_title("Loop nests in the embedding space (PCA of the GNN embedding), coloured by PolyBench family")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
