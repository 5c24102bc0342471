"""The map of similar algorithms: the embedding space in 2-D, coloured by what each nest computes."""

from __future__ import annotations

import html
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
    embeddings with PCA, colour every point by its nest's computation family (PolyBench
    circles, corpus triangles) and label it where the label overlaps no other."""
    model, _ = fit(cfg, data)
    data = [s for s in data if base_of(s.program) == s.program]
    points = PCA(n_components=2, random_state=0).fit_transform(embed(model, data))
    families = [family_of(s.program, s.position) for s in data]
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
    write_html(path.with_suffix(".html"), data, points, families, suites)
    return path


def write_html(path: Path, data: list[NestSample], points: Any, families: list[str], suites: list[str | None]) -> Path:
    """The same map as a self-contained SVG page: hovering a point names its kernel, nest
    and family (every label, including those the PNG leaves out), and the legend's
    families can be switched on and off. No script library is fetched."""
    colours = plt.get_cmap("tab20")
    names = sorted(set(families))
    xs, ys = points[:, 0], points[:, 1]
    span_x, span_y = float(xs.max() - xs.min()) or 1.0, float(ys.max() - ys.min()) or 1.0

    def at(x: float, y: float) -> tuple[float, float]:
        return 40 + 820 * (x - xs.min()) / span_x, 40 + 560 * (ys.max() - y) / span_y

    marks = []
    for sample, (x, y), family, suite in zip(data, points, families, suites, strict=True):
        cx, cy = at(x, y)
        colour = matplotlib.colors.to_hex(colours(names.index(family) % 20))
        title = html.escape(f"{sample.program}[{sample.position}] - {family} ({suite or 'other'})")
        shape = (f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6"' if suite == "polybench" else
                 f'<path d="M{cx:.1f},{cy - 7:.1f} l6.5,11 h-13 z"')
        marks.append(f'{shape} fill="{colour}" class="f{names.index(family)}"><title>{title}</title>'
                     f'{"</circle>" if suite == "polybench" else "</path>"}')
    legend = "".join(
        f'<label><input type="checkbox" checked onchange="for (const e of document.querySelectorAll(\'.f{i}\'))'
        f' e.style.display = this.checked ? \'\' : \'none\'"> <span style="color:'
        f'{matplotlib.colors.to_hex(colours(i % 20))}">&#9679;</span> {html.escape(n)}</label><br>'
        for i, n in enumerate(names))
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>transfertune: embedding map</title></head>"
            f"<body style='font-family:sans-serif'><h3>Loop nests in the embedding space (PCA), by family: "
            f"circles PolyBench, triangles the corpus; hover a point for its name</h3>"
            f"<div style='display:flex'><svg width='900' height='640' style='border:1px solid #ccc'>"
            f"{''.join(marks)}</svg><div style='padding:1em'>{legend}</div></div></body></html>\n")
    path.write_text(page)
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
