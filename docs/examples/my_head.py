"""A head of your own, in one file: ``pooled-mlp``, an MLP on the spatially averaged scattering coefficients.

    psn train -c conf/fashion_mnist.yaml general.plugins=[docs/examples/my_head.py] model.name=pooled-mlp

The maths: each of the C coefficient channels (one scattering path of one colour channel) is averaged over its
h × w positions, standardised by BatchNorm, and classified by a one-hidden-layer MLP,

    logits = W₂ · relu(W₁ · BN(mean_{h,w} x) + b₁) + b₂,    x ∈ R^{C×h×w}

which makes the head invariant to translations of the coefficient maps, at the price of their layout.

The decorator is the whole registration: ``model.name: pooled-mlp`` then selects it, ``reads`` names the
``model.*`` keys it uses (a config that sets another one is told it has no effect) and ``packs=False`` says that
``--seeds`` / ``--pack`` may not train several seeds of it as one packed model. Listed in ``general.plugins`` (a
file or a module name), it is imported before the config is checked; put it in ``parametricSN/models/`` to make
it a built-in.
"""

from __future__ import annotations

from torch import nn

from parametricSN.config import ModelConfig
from parametricSN.models import register_head


class PooledMLP(nn.Module):
    """mean over positions -> BatchNorm1d(C) -> Linear(C, hidden) -> ReLU -> Dropout -> Linear(hidden, classes)."""

    def __init__(self, channels: int, hidden: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)
        self.hidden = nn.Linear(channels, hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, num_classes)

    def forward(self, x):  # (B, C, h, w) -> (B, num_classes)
        z = self.norm(x.mean(dim=(2, 3)))
        return self.out(self.dropout(self.hidden(z).relu()))


@register_head("pooled-mlp", reads=("hidden", "dropout"), packs=False)
def pooled_mlp(in_shape: tuple[int, int, int], num_classes: int, cfg: ModelConfig) -> nn.Module:
    """Builder: ``in_shape = (C, h, w)`` of one example entering the head, ``cfg`` the config's ``model`` section."""
    channels, _, _ = in_shape
    return PooledMLP(channels, cfg.hidden, num_classes, cfg.dropout)
