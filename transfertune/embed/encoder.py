"""The GNN encoder: a loop-nest graph -> one embedding vector.

Edge-aware message passing (GINE: edge features, i.e. memlet strides, enter every
message) followed by attention pooling, so the nodes that matter for performance (the
innermost accesses, say) can dominate the vector instead of being averaged away.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import GINEConv
from torch_geometric.nn.aggr import AttentionalAggregation

from transfertune.embed.featurize import EDGE_DIM, NODE_DIM


class NestEncoder(nn.Module):
    """``NestEncoder(in_channels, hidden_channels, out_channels, num_layers)``."""

    def __init__(self, in_channels: int = NODE_DIM, hidden_channels: int = 64, out_channels: int = 32,
                 num_layers: int = 3, edge_dim: int = EDGE_DIM, dropout: float = 0.0) -> None:
        super().__init__()
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.edge_dim, self.dropout = num_layers, edge_dim, dropout
        self.lift = nn.Linear(in_channels, hidden_channels)
        self.convs = nn.ModuleList(
            GINEConv(nn.Sequential(nn.Linear(hidden_channels, hidden_channels), nn.ReLU(),
                                   nn.Linear(hidden_channels, hidden_channels)), edge_dim=edge_dim)
            for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden_channels) for _ in range(num_layers))
        self.pool = AttentionalAggregation(gate_nn=nn.Linear(hidden_channels, 1))
        self.project = nn.Linear(hidden_channels, out_channels)

    def reset_parameters(self) -> None:
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor | None = None) -> Tensor:
        if batch is None:
            batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device)
        h = self.lift(x)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = h + nn.functional.dropout(torch.relu(norm(conv(h, edge_index, edge_attr))), self.dropout,
                                          self.training)
        return self.project(self.pool(h, batch))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"num_layers={self.num_layers})")


class EncoderEnsemble(nn.Module):
    """Encoders trained alike from different seeds, read as one: their embeddings side by
    side, scaled by 1/sqrt(n), so a squared distance is the members' mean squared distance.

    Why: each member is trained to make embedding distances equal response distances, and
    on a few hundred nests which nests end up nearest moves with the seed alone (the
    sanity table by up to 4 of 29 kernels). The mean distance keeps what the members agree
    on and averages out what one seed made up."""

    def __init__(self, members: list[NestEncoder]) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one encoder")
        self.members = nn.ModuleList(members)
        self.out_channels = sum(m.out_channels for m in members)

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Tensor, batch: Tensor | None = None) -> Tensor:
        z = torch.cat([m(x, edge_index, edge_attr, batch) for m in self.members], dim=-1)
        return z / len(self.members) ** 0.5

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self.members)} x {self.members[0]!r})"
