r"""Packed models: P :class:`HybridModel`\ s of the same architecture (differing only in their values) as one
wider model whose members never interact (the idea of Packed-Ensembles, Laurent et al., ICLR 2023).

    packed = pack_models(members, head="hybrid-wrn")      # members: list[HybridModel], same config up to values
    logits = packed(x)                             # x (P, B, C, H, W) -> (P, B, num_classes), member p on x[p]
    packed.unpack_into(p, members[p])              # copy member p's trained values back into a plain model

Layout: the scattering is :class:`~parametricSN.scattering.packed.PackedScattering2D` (member dimension first);
the head runs on the members' channels side by side, ``(B, P·C, h, w)`` with member p on channels
``[p·C, (p+1)·C)``. In that layout every leaf of a head becomes its packed form:

- ``Conv2d(C, C', groups=g)`` -> :class:`PackedConv2d`, a ``Conv2d(P·C, P·C', groups=P·g)``: member p's filters
  see only its channels (on CPU it convolves member by member, see there);
- ``BatchNorm2d(C)`` -> ``BatchNorm2d(P·C)``: per-channel statistics are per-member statistics;
- ``Linear(D, D')`` -> :class:`PackedLinear`: one batched matmul, ``(P, B, D) @ (P, D, D')``;
- ReLU, pooling, flatten, identity and dropout with ``p = 0`` act per channel (flatten keeps member p's features
  contiguous, in its own ``(c, h, w)`` order) and are kept as they are.

Every packed tensor is the members' tensors stacked, so ``packed.state_dict()[k].reshape(P, *shape)[p]`` is
member p's ``state_dict()[k]``. Dropout with ``p > 0`` is refused: one mask over the pack cannot reproduce the
masks each member would draw from the global generator alone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Optional

import torch
from torch import Tensor, nn

from parametricSN.config import ConfigError
from parametricSN.config.names import packable_heads
from parametricSN.models.factory import HybridModel
from parametricSN.models.layers import GlobalAvgPool
from parametricSN.scattering.packed import PackedScattering2D

# Heads declare at registration whether they pack (config.names: their forward only composes the leaves
# below channel-wise); others (resnet50, wrn, a user's head) may mix channels in their forward in ways a
# leaf-by-leaf check cannot see.
CHANNELWISE = (nn.ReLU, nn.Identity, nn.Flatten, nn.AvgPool2d, nn.MaxPool2d, GlobalAvgPool)


class PackedLinear(nn.Module):
    """P linear layers as one batched matmul: ``(B, P·D) -> (B, P·D')``, ``y_p = W_p x_p + b_p``.

    ``weight`` is ``(P, D', D)`` and ``bias`` ``(P, D')``: the members' ``nn.Linear`` tensors stacked.
    """

    def __init__(self, members: int, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.members, self.in_features, self.out_features = members, in_features, out_features
        self.weight = nn.Parameter(torch.empty(members, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(members, out_features)) if bias else None

    def forward(self, x: Tensor) -> Tensor:
        B = x.shape[0]
        xt = x.reshape(B, self.members, self.in_features).transpose(0, 1)  # (P, B, D)
        w = self.weight.transpose(1, 2)
        y = torch.bmm(xt, w) if self.bias is None else torch.baddbmm(self.bias.unsqueeze(1), xt, w)
        return y.transpose(0, 1).reshape(B, self.members * self.out_features)

    def extra_repr(self) -> str:
        return (
            f"members={self.members}, in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class PackedConv2d(nn.Conv2d):
    """P convolutions as one ``Conv2d(P·C, P·C', groups=P·g)`` (same tensors, same result).

    On CUDA one grouped convolution runs all members. On CPU, PyTorch's grouped convolution with large groups is
    slower than the P convolutions it stands for (``benchmarks/pack.py``: a pack of 10 wide-ResNet heads took
    1.7x the time of 10 single heads), so there each member's channels are convolved with its own slice of
    the weight and the results concatenated: the same arithmetic per output element.
    """

    def __init__(self, members: int, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.members = members

    def forward(self, x: Tensor) -> Tensor:
        if x.is_cuda or self.members == 1 or self.padding_mode != "zeros":
            return super().forward(x)
        P, groups = self.members, self.groups // self.members
        biases = self.bias.chunk(P) if self.bias is not None else [None] * P
        # chunk, not slicing: the backward of chunk concatenates, slices would each zero-fill a full-size gradient
        return torch.cat(
            [
                nn.functional.conv2d(xp, wp, bp, self.stride, self.padding, self.dilation, groups)
                for xp, wp, bp in zip(x.chunk(P, dim=1), self.weight.chunk(P), biases)
            ],
            dim=1,
        )

    def extra_repr(self) -> str:
        return f"members={self.members}, " + super().extra_repr()


def _load_stacked(packed: nn.Module, members: Sequence[nn.Module]) -> nn.Module:
    """Fill ``packed`` with the members' state stacked along a new first dimension (scalars: the first's)."""
    target = packed.state_dict()
    states = [m.state_dict() for m in members]
    packed.load_state_dict(
        {
            k: states[0][k].clone() if v.dim() == 0 else torch.stack([s[k] for s in states]).reshape(v.shape)
            for k, v in target.items()
        }
    )
    return packed


def _pack_leaf(leaves: Sequence[nn.Module], where: str) -> nn.Module:
    first, P = leaves[0], len(leaves)
    if type(first) is nn.Conv2d:
        packed: nn.Module = PackedConv2d(
            P,
            P * first.in_channels,
            P * first.out_channels,
            first.kernel_size,
            stride=first.stride,
            padding=first.padding,
            dilation=first.dilation,
            groups=P * first.groups,
            bias=first.bias is not None,
            padding_mode=first.padding_mode,
        )
    elif type(first) in (nn.BatchNorm1d, nn.BatchNorm2d):
        packed = type(first)(
            P * first.num_features,
            eps=first.eps,
            momentum=first.momentum,
            affine=first.affine,
            track_running_stats=first.track_running_stats,
        )
    elif type(first) is nn.Linear:
        packed = PackedLinear(P, first.in_features, first.out_features, bias=first.bias is not None)
    elif isinstance(first, CHANNELWISE) or (type(first) is nn.Dropout and first.p == 0):
        return copy.deepcopy(first)
    elif type(first) is nn.Dropout:
        raise ConfigError(
            f"model.dropout: a pack cannot reproduce each member's dropout masks ({where}); "
            "set model.dropout=0 or train the seeds one by one"
        )
    else:
        raise ConfigError(f"model.name: the head's layer {where} ({type(first).__name__}) cannot be packed")
    return _load_stacked(packed, leaves)


def check_packable(name: str) -> None:
    """ConfigError unless the head registered as ``name`` declared that it packs."""
    if name not in packable_heads():
        raise ConfigError(
            f"model.name: head {name!r} cannot be packed (packable heads: "
            f"{', '.join(packable_heads())}); train its seeds one by one with train()"
        )


def pack_head(heads: Sequence[nn.Module], name: str) -> nn.Module:
    """The heads (same architecture, registered as ``name``) as one head on ``(B, P·C, h, w)``."""
    check_packable(name)
    packed = copy.deepcopy(heads[0])
    for path, module in heads[0].named_modules():
        children = list(module.children())
        if children:
            if list(module.parameters(recurse=False)) or list(module.buffers(recurse=False)):
                raise ConfigError(
                    f"model.name: head {name!r} holds tensors outside its layers ({path or 'root'}) "
                    "and cannot be packed"
                )
            continue
        new = _pack_leaf([h.get_submodule(path) for h in heads], f"{name}.{path}" if path else name)
        if not path:
            return new
        parent, _, child = path.rpartition(".")
        setattr(packed.get_submodule(parent), child, new)
    return packed


class PackedHybridModel(nn.Module):
    """P hybrid models in one: ``(P, B, C, H, W) -> (P, B, num_classes)`` (see the module docstring)."""

    def __init__(
        self, scattering: Optional[PackedScattering2D], head: nn.Module, members: int, input_shape: tuple[int, int, int]
    ) -> None:
        super().__init__()
        self.scattering = scattering
        self.head = head
        self.members = members
        self.input_shape = tuple(input_shape)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[0] != self.members or tuple(x.shape[2:]) != self.input_shape:
            raise ValueError(
                f"expected packed images of shape ({self.members}, B, "
                f"{', '.join(map(str, self.input_shape))}), got {tuple(x.shape)}"
            )
        if self.scattering is not None:
            x = self.scattering(x)
        P, B = x.shape[:2]
        z = self.head(x.transpose(0, 1).reshape(B, P * x.shape[2], *x.shape[3:]))
        return z.reshape(B, P, -1).transpose(0, 1)

    @torch.no_grad()
    def unpack_into(self, index: int, member: nn.Module, prefix: str = "") -> None:
        """Copy member ``index``'s values into ``member`` (the plain model it was packed from), in place.

        ``prefix`` restricts the copy to the state entries starting with it (e.g. ``"scattering."``).
        """
        state = self.state_dict()
        for key, value in member.state_dict().items():
            if not key.startswith(prefix):
                continue
            packed = state[key]
            value.copy_(packed if packed.dim() == 0 else packed.reshape(self.members, *value.shape)[index])


def pack_models(members: Sequence[HybridModel], head: str) -> PackedHybridModel:
    """Pack ``members`` (built by ``build_model`` from configs that differ only in values; head ``head``)."""
    if not members:
        raise ValueError("a pack needs at least one model")
    shapes = {(m.input_shape, m.head_input_shape, m.scattering is None) for m in members}
    if len(shapes) != 1:
        raise ValueError(f"packed models must share their input and head shapes, got {sorted(shapes)}")
    scattering = None if members[0].scattering is None else PackedScattering2D([m.scattering for m in members])
    return PackedHybridModel(
        scattering, pack_head([m.head for m in members], head), len(members), members[0].input_shape
    )
