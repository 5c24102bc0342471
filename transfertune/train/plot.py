"""The map of similar algorithms: the embedding space in 2-D, coloured by kernel family."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from transfertune.suites import family_of, suite_or_none  # noqa: E402
from transfertune.suites.augmented import base_of  # noqa: E402
from transfertune.train.dataset import NestSample  # noqa: E402
from transfertune.train.train import embed, fit  # noqa: E402


def embedding_map(cfg: DictConfig, data: list[NestSample], path: Path) -> Path:
    """Train on all nests (augmented variants included), project the original kernels'
    embeddings with PCA, colour every point by its computation's family (PolyBench
    circles, corpus triangles) and label it where the label overlaps no other."""
    model, _ = fit(cfg, data)
    data = [s for s in data if base_of(s.program) == s.program]
    points = PCA(n_components=2, random_state=0).fit_transform(embed(model, data))
    families = [family_of(s.program) for s in data]
    colours = plt.get_cmap("tab20")
    fig, ax = plt.subplots(figsize=(13, 9))
    suites = [suite_or_none(s.program) for s in data]
    for fi, family in enumerate(sorted(set(families))):
        labelled = False
        for suite, marker in (("polybench", "o"), ("corpus", "^"), (None, "s")):
            idx = [i for i in range(len(data)) if families[i] == family and suites[i] == suite]
            if idx:
                ax.scatter(points[idx, 0], points[idx, 1], s=55, marker=marker, color=colours(fi % 20), alpha=0.85,
                           label=None if labelled else family)
                labelled = True
    _label(ax, fig, [f"{s.program}[{s.position}]" for s in data], points)
    ax.set_title("Loop nests in the embedding space (PCA of the GNN embedding) by family: "
                 "circles PolyBench, triangles the corpus")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.legend(fontsize=8, loc="best", ncol=2)
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


_OFFSETS = [(dx * r, dy * r) for r in (4, 12, 22) for dx, dy in ((1, 1), (1, -1), (-1, 1), (-1, -1), (1, 0), (-1, 0),
                                                                 (0, 1), (0, -1))]
"""Label positions tried around a point (points of offset), nearest first."""


def _label(ax: Any, fig: Any, texts: list[str], points: Any) -> None:
    """Greedy placement: each label takes the first offset whose box overlaps no label
    placed before it; a label that fits nowhere is left out (its point stays)."""
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []
    for text, (x, y) in sorted(zip(texts, points, strict=True), key=lambda t: (t[1][0], t[1][1])):
        for dx, dy in _OFFSETS:
            label = ax.annotate(text, (x, y), fontsize=6.5, xytext=(dx, dy), textcoords="offset points",
                                ha="left" if dx >= 0 else "right", va="bottom" if dy >= 0 else "top")
            box = label.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
            label.remove()
