"""One training run of the loop-nest encoder.

Objective: from a nest's graph, predict how it responded to transformations (its log
speedups under the probe recipes and its best log speedup, per target; see
`transfertune.train.dataset`). The encoder's output is the embedding; a linear head
reads the responses off it, and three more terms shape the space around it:

- ``alignment``: distances in the embedding equal distances between the measured
  responses, so the nearest neighbour is the nest that responded most alike (the head
  alone makes close nests respond alike, not the converse);
- ``contrastive``: a nest lies nearest to its rewrites (the same nest of its augmented
  variants, `transfertune.suites.augmented`), so code written in another loop order or
  with other names lands where its behaviour does;
- ``family``: nests of the same computation (matrix product, stencil, reduction,
  ...; a kernel's mean nest is a reduction, `transfertune.suites.family_of`) lie
  together. Forty-odd kernels' measured responses are too few and too noisy to tell a
  product from a stencil on their own, yet which transformations pay off follows the
  computation's reuse and dependence pattern, which the family names.

Transfer lends a neighbour's measured recipes, so "close" has to mean "responds alike
to the same transformations", not syntactic likeness, which a hand-made feature kNN
already has.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch_geometric.loader import DataLoader

from transfertune.db import Storage, seed_store
from transfertune.embed.encoder import EncoderEnsemble, NestEncoder
from transfertune.embed.featurize import FEATURE_VERSION, featurize
from transfertune.suites import family_of
from transfertune.suites.augmented import base_of
from transfertune.train.augment import cached_views
from transfertune.train.dataset import NestSample, cached_samples, response_layout, transfer_matrix


class ResponseModel(nn.Module):
    """Encoder + linear head predicting the response vector."""

    def __init__(self, encoder: NestEncoder | EncoderEnsemble, responses: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_channels, responses)

    def forward(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(batch.x, batch.edge_index, batch.edge_attr, batch.batch)
        return z, self.head(z)


def research_store(cfg: DictConfig) -> Storage:
    """``db=`` if given, else the shipped seed alone (reproducible research runs)."""
    return Storage(cfg.db) if cfg.db else seed_store(cfg.data.source)


def samples(cfg: DictConfig, storage: Storage | None = None) -> list[NestSample]:
    sizes = dict(cfg.data.sizes)
    storage = storage or research_store(cfg)
    found = cached_samples(storage, sizes, cfg.data.cache_dir)
    if not found:
        raise ValueError("no measured nests in the database: run `transfertune tune` or import data/seed")
    if cfg.get("docc_views"):
        nests = {h: sdfg for _, h, _, _, sdfg in storage.nests()}
        views = cached_views({s.nest_hash: nests[s.nest_hash] for s in found}, cfg.data.cache_dir)
        for s in found:
            s.views = [featurize(c) for c in views[s.nest_hash]]
    return found


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def split_by_kernel(data: list[NestSample], fraction: float, seed: int) -> tuple[list[NestSample], list[NestSample]]:
    """Hold out a share of the kernels (all of their nests) for validation."""
    kernels = sorted({s.program for s in data})
    random.Random(seed).shuffle(kernels)
    held = set(kernels[: max(1, round(fraction * len(kernels)))]) if fraction > 0 else set()
    return [s for s in data if s.program not in held], [s for s in data if s.program in held]


def fit(cfg: DictConfig, train_set: list[NestSample], val_set: list[NestSample] | None = None,
        log: Any = None) -> tuple[ResponseModel, list[dict[str, float]]]:
    """Train a fresh model on `train_set`; per-epoch metrics (and validation loss).

    With ``ensemble: n`` (n > 1) it trains n models from the seeds ``seed .. seed+n-1`` and
    returns them as one: an `EncoderEnsemble` under one head that predicts the members'
    mean response (the members' heads side by side, which is exact on the scaled
    concatenation); the metrics are the members' means per epoch."""
    n = int(cfg.get("ensemble", 1))
    if n < 1:
        raise ValueError(f"ensemble must be at least 1, not {n}")
    if n == 1:
        return _fit_one(cfg, int(cfg.seed), train_set, val_set, log)
    runs = [_fit_one(cfg, int(cfg.seed) + i, train_set, val_set, log) for i in range(n)]
    members = [model for model, _ in runs]
    model = ResponseModel(EncoderEnsemble([m.encoder for m in members]), members[0].head.out_features)
    with torch.no_grad():
        model.head.weight.copy_(torch.cat([m.head.weight for m in members], dim=1) / n ** 0.5)
        model.head.bias.copy_(torch.stack([m.head.bias for m in members]).mean(dim=0))
    history = [{k: (v if k == "epoch" else float(np.mean([h[e][k] for _, h in runs]))) for k, v in row.items()}
               for e, row in enumerate(runs[0][1])]
    return model, history


def save_checkpoint(model: ResponseModel, cfg: DictConfig, path: Path, **extra: Any) -> None:
    """The one checkpoint writer: weights, the encoder's options (the model config, plus
    ``members`` for an ensemble) and the feature schema, which `Embedder.from_checkpoint`
    rebuilds the encoder from; `extra` adds plain data. Only tensors and plain containers:
    the checkpoint is read back with weights_only=True."""
    options = OmegaConf.to_container(cfg.model, resolve=True)
    n = int(cfg.get("ensemble", 1))
    torch.save({"state_dict": model.state_dict(), "model": {**options, "members": n} if n > 1 else options,  # type: ignore[dict-item]
                "feature_version": int(FEATURE_VERSION), **extra}, path)


def _fit_one(cfg: DictConfig, seed: int, train_set: list[NestSample], val_set: list[NestSample] | None,
             log: Any) -> tuple[ResponseModel, list[dict[str, float]]]:
    seed_everything(seed)
    layout = response_layout(dict(cfg.data.sizes))
    model = ResponseModel(instantiate(cfg.model), len(layout))
    optimiser = instantiate(cfg.optim)(model.parameters())
    graphs = [_graph(s, i) for i, s in enumerate(train_set)]
    contrastive, family = float(cfg.get("contrastive", 0.0)), float(cfg.get("family", 0.0))
    lending = float(cfg.get("lending", 0.0))
    lent = torch.tensor(transfer_matrix(train_set, list(cfg.data.sizes)), dtype=torch.float32) if lending > 0 else None
    partners = same_nest_partners(train_set) if contrastive > 0 else []
    families = family_labels(train_set) if family > 0 else None
    rng = random.Random(seed)
    loader = DataLoader(graphs, batch_size=int(cfg.batch_size), shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    history = []
    for epoch in range(int(cfg.epochs)):
        model.train()
        total, count = 0.0, 0
        for batch in loader:
            optimiser.zero_grad()
            z, prediction = model(batch)
            loss = _loss(z, prediction, batch, float(cfg.alignment))
            if contrastive > 0:
                loss = loss + contrastive * view_contrast(model, z, batch, partners, rng, float(cfg.temperature))
            if lent is not None:
                loss = loss + lending * lending_regret(z, lent[batch.sample][:, batch.sample])
            if family > 0:
                loss = loss + family * family_contrast(z, families[batch.sample], float(cfg.temperature))  # type: ignore[index]
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * batch.num_graphs
            count += batch.num_graphs
        row = {"epoch": epoch, "train_loss": total / max(1, count)}
        if val_set:
            row["val_loss"] = evaluate_loss(model, val_set, float(cfg.alignment))
        history.append(row)
        if log is not None and (epoch % 10 == 0 or epoch == int(cfg.epochs) - 1):
            log(row)
    return model, history


def _graph(sample: NestSample, index: int = 0) -> Any:
    graph = sample.graph.clone()
    graph.y = sample.y.unsqueeze(0)
    graph.mask = sample.mask.unsqueeze(0)
    graph.sample = torch.tensor([index])
    return graph


def same_nest_partners(data: list[NestSample]) -> list[list[Any]]:
    """Per sample, the graphs that compute what it computes: the same nest of its
    augmented variants (or of the kernel a variant rewrites) and its docc views."""
    by_nest: dict[tuple[str, int], list[int]] = {}
    for i, s in enumerate(data):
        by_nest.setdefault((base_of(s.program), s.position), []).append(i)
    return [[data[j].graph for j in by_nest[(base_of(s.program), s.position)] if j != i] + list(s.views)
            for i, s in enumerate(data)]


def family_labels(data: list[NestSample]) -> torch.Tensor:
    """Per sample, an integer id of what its nest computes (`family_of` at its position:
    covariance's mean nest is a reduction, its product a matrix product); -1 where no
    family is known. Labelling every nest with its kernel's family pulled the means
    before a product towards products, so the term once took dominant nests only."""
    families = [family_of(s.program, s.position) for s in data]
    names = sorted(set(families) - {"other"})
    return torch.tensor([names.index(f) if f in names else -1 for f in families])


def view_contrast(model: ResponseModel, z: torch.Tensor, batch: Any, partners: list[list[Any]], rng: random.Random,
                  temperature: float) -> torch.Tensor:
    """InfoNCE over the batch: each nest's embedding must be nearest (by cosine) to the
    embedding of one of its partners (a semantically equal rewrite), among the partners
    of the other nests in the batch. Nests without partners take no part."""
    chosen = [(row, rng.choice(partners[int(i)])) for row, i in enumerate(batch.sample) if partners[int(i)]]
    if len(chosen) < 2:
        return z.sum() * 0.0
    views = next(iter(DataLoader([v for _, v in chosen], batch_size=len(chosen))))
    anchors = nn.functional.normalize(z[[row for row, _ in chosen]], dim=1)
    positives = nn.functional.normalize(model.encoder(views.x, views.edge_index, views.edge_attr, views.batch), dim=1)
    logits = anchors @ positives.T / temperature
    targets = torch.arange(len(chosen))
    return (nn.functional.cross_entropy(logits, targets) + nn.functional.cross_entropy(logits.T, targets)) / 2


def family_contrast(z: torch.Tensor, labels: torch.Tensor, temperature: float) -> torch.Tensor:
    """Supervised contrastive loss (Khosla et al., 2020) over the batch: each nest is
    pulled towards the nests of its computation's family and pushed from the others.
    Anchors without a family, or without another nest of theirs in the batch, take no
    part."""
    known = labels >= 0
    z, labels = nn.functional.normalize(z[known], dim=1), labels[known]
    if len(z) < 2:
        return z.sum() * 0.0
    logits = z @ z.T / temperature
    self_mask = torch.eye(len(z), dtype=torch.bool)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    anchors = positive.any(dim=1)
    if not anchors.any():
        return z.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~positive, 0.0).sum(1)[anchors] / positive.sum(1)[anchors])
    return per_anchor.mean()


def lending_regret(z: torch.Tensor, reached: torch.Tensor) -> torch.Tensor:
    """Expected share of the oracle a nest loses when it borrows the best probe recipe of
    a neighbour drawn from the batch with probability falling with embedding distance
    (``softmax(-d^2)``, as in neighbourhood components analysis; Goldberger et al., 2004).

    `reached[a, b]` is what b's recipe measured on a (`transfer_matrix`; NaN: unknown).
    This is the quantity the nearest-neighbour lookup serves, so minimising it puts a
    nest next to the nests whose recipes work on it, whatever their response vectors
    look like elsewhere."""
    known = ~torch.isnan(reached)
    anchors = known.any(dim=1)
    if not anchors.any():
        return z.sum() * 0.0
    distance = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    p = torch.softmax((-distance).masked_fill(~known, float("-inf"))[anchors], dim=1)
    return (p * (1.0 - reached.nan_to_num(0.0)[anchors])).sum(1).mean()


def _loss(z: torch.Tensor, prediction: torch.Tensor, batch: Any, alignment: float) -> torch.Tensor:
    weight = batch.mask
    loss = ((prediction - batch.y) ** 2 * weight).sum() / weight.sum().clamp(min=1.0)
    if alignment > 0 and batch.num_graphs > 1:
        loss = loss + alignment * distance_alignment(z, batch.y, weight)
    return loss


def distance_alignment(z: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared gap between embedding distances and response distances over the
    pairs of a batch.

    The response head alone makes nests with close embeddings respond alike, but not
    the converse: two nests that respond alike may still sit far apart, and the nearest
    neighbour is then a worse one. This term asks the distance between two embeddings to
    equal the RMS difference of the two nests' log speedups on the responses measured for
    both, so that the nearest neighbour in the embedding is the nearest in behaviour.
    """
    gap, common = response_gaps(y, mask, y, mask)
    wanted = gap.sqrt()
    distance = (((z[:, None, :] - z[None, :, :]) ** 2).sum(-1) + 1e-9).sqrt()
    pairs = (common > 0) & ~torch.eye(len(z), dtype=torch.bool)
    if not pairs.any():
        return z.sum() * 0.0
    return ((distance - wanted)[pairs] ** 2).mean()


def response_gaps(y_a: torch.Tensor, mask_a: torch.Tensor, y_b: torch.Tensor, mask_b: torch.Tensor
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """For every nest of a and every nest of b: the mean squared difference of their log
    speedups over the responses measured for both, and how many responses those are."""
    both = mask_a[:, None, :] * mask_b[None, :, :]
    common = both.sum(-1)
    gap = (((y_a[:, None, :] - y_b[None, :, :]) ** 2) * both).sum(-1) / common.clamp(min=1.0)
    return gap, common


@torch.no_grad()
def evaluate_loss(model: ResponseModel, data: list[NestSample], alignment: float) -> float:
    model.eval()
    batch = next(iter(DataLoader([_graph(s) for s in data], batch_size=len(data))))
    return float(_loss(*model(batch), batch, alignment))


@torch.no_grad()
def predict(model: ResponseModel, data: list[NestSample]) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and predicted responses of `data`, one row per sample."""
    model.eval()
    batch = next(iter(DataLoader([_graph(s) for s in data], batch_size=len(data))))
    z, prediction = model(batch)
    return z.numpy(), prediction.numpy()


def embed(model: ResponseModel, data: list[NestSample]) -> np.ndarray:
    """Embeddings of `data`, one row per sample."""
    return predict(model, data)[0]


def known_responses(model: ResponseModel, data: list[NestSample]) -> np.ndarray:
    """Responses of `data`, one row per sample: measured where measured, the model's
    prediction elsewhere (a nest tuned on one target only, a probe that failed)."""
    _, prediction = predict(model, data)
    measured = torch.stack([s.y for s in data]).numpy()
    mask = torch.stack([s.mask for s in data]).numpy() > 0
    return np.where(mask, measured, prediction)


def output_dir(cfg: DictConfig) -> Path:
    if cfg.get("output_dir"):
        return Path(cfg.output_dir)
    from hydra.core.hydra_config import HydraConfig

    return Path(HydraConfig.get().runtime.output_dir)


def train(cfg: DictConfig) -> dict[str, float]:
    """Run one training: writes config.yaml, metrics.csv, checkpoint.pt; returns the
    final metrics."""
    out = output_dir(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    data = samples(cfg)
    train_set, val_set = split_by_kernel(data, float(cfg.val_fraction), int(cfg.seed))
    print(f"training on {len(train_set)} nests of {len({s.program for s in train_set})} kernels, "
          f"validating on {len(val_set)} nests of {len({s.program for s in val_set})} kernels", flush=True)
    model, history = fit(cfg, train_set, val_set, log=lambda row: print(
        "  " + "  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
        flush=True))
    with (out / "metrics.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[-1]))
        writer.writeheader()
        writer.writerows(history)
    sizes = OmegaConf.to_container(cfg.data.sizes, resolve=True)
    save_checkpoint(model, cfg, out / "checkpoint.pt", responses=response_layout(sizes), sizes=sizes,
                    kernels=sorted({str(s.program) for s in data}),
                    metrics={k: float(v) if isinstance(v, float) else int(v) for k, v in history[-1].items()})
    print(f"wrote {out}/checkpoint.pt", flush=True)
    return history[-1]
