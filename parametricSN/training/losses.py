"""Classification losses selected by ``train.loss``.

- ``cross-entropy``: ``-log softmax(z)_y`` averaged over the batch.
- ``cosine``: the cosine loss of Barz & Denzler, "Deep Learning on Small Datasets without Pre-Training using
  Cosine Loss" (WACV 2020): ``1 - cos(z, e_y) = 1 - z_y / ||z||_2``, the cosine between the raw logit vector
  ``z`` and the one-hot target ``e_y``, averaged over the batch. (The paper's optional extra cross-entropy
  term on the normalised embedding is not included.) Predictions are ``argmax z`` for both losses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_EPS = 1e-6  # guards ||z|| = 0 (an all-zero logit vector has cosine 0 with every class)


def cross_entropy_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of ``logits`` (B, C) against integer ``target`` (B,)."""
    return F.cross_entropy(logits, target)


def cosine_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``1 - z_y / max(||z||, eps)`` over the batch: 0 when ``z`` points at the true class, up to 2."""
    norm = logits.norm(dim=1).clamp_min(_EPS)
    cos_true = logits.gather(1, target[:, None]).squeeze(1) / norm
    return (1.0 - cos_true).mean()


LOSSES: dict[str, LossFn] = {"cross-entropy": cross_entropy_loss, "cosine": cosine_loss}  # train.loss


def build_loss(name: str) -> LossFn:
    """The loss function registered under ``name`` (``train.loss``)."""
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"train.loss: unknown loss {name!r}; expected one of {', '.join(LOSSES)}") from None
