import math

import pytest
import torch
import torch.nn.functional as F

from parametricSN.training.losses import build_loss, cosine_loss, cross_entropy_loss


def test_cross_entropy_is_torch_cross_entropy():
    logits = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    target = torch.tensor([0, 1, 2, 3, 0])
    assert torch.equal(cross_entropy_loss(logits, target), F.cross_entropy(logits, target))


def test_cosine_loss_is_one_minus_cosine_to_the_one_hot_target():
    target = torch.tensor([0, 1, 2])
    logits = torch.tensor(
        [
            [3.0, 0.0, 0.0],  # points at the true class: cos 1 -> loss 0
            [1.0, 0.0, 0.0],  # orthogonal to e_1: loss 1
            [1.0, 1.0, -1.0],
        ]
    )  # cos = -1/sqrt(3)
    per_sample = torch.tensor([0.0, 1.0, 1 + 1 / math.sqrt(3)])
    assert cosine_loss(logits, target).item() == pytest.approx(per_sample.mean().item(), abs=1e-6)
    expected = (1 - F.cosine_similarity(logits, F.one_hot(target, 3).float(), dim=1)).mean()
    assert cosine_loss(logits, target).item() == pytest.approx(expected.item(), abs=1e-6)


def test_cosine_loss_ignores_logit_scale_and_has_finite_gradient_at_zero():
    target = torch.tensor([1, 0])
    logits = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))
    assert cosine_loss(10 * logits, target).item() == pytest.approx(cosine_loss(logits, target).item(), rel=1e-6)
    zero = torch.zeros(2, 3, requires_grad=True)
    cosine_loss(zero, target).backward()
    assert torch.isfinite(zero.grad).all()


def test_build_loss_by_name_and_unknown_name():
    assert build_loss("cosine") is cosine_loss
    assert build_loss("cross-entropy") is cross_entropy_loss
    with pytest.raises(ValueError, match="train.loss"):
        build_loss("hinge")
