r"""Distances between representations Φ(x) of image batches (rows of a (N, ...) tensor, flattened).

- relative distance (the paper's curves): :math:`\|\Phi(\tilde x) - \Phi(x)\| / \|\Phi(x)\|` per image;
- its baseline: the same quantity between Φ of two *different* test images, paired by :func:`different_pairs`;
- relative stability (Petrini et al. 2021): :math:`D = E\|\Phi(\tau x) - \Phi(x)\|^2`,
  :math:`G = E\|\Phi(x + \eta) - \Phi(x)\|^2` with Gaussian :math:`\eta`, :math:`\|\eta\| = \|\tau x - x\|`
  per image (:func:`matched_noise`), each divided by the median of :math:`\|\Phi(x_i) - \Phi(x_j)\|^2` over pairs
  of different images (:func:`median_squared_distance`); :math:`R = D / G` (the normalisation cancels).

Everything is computed in float64 so that means over many images do not lose digits.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor


def _flat(phi: Tensor) -> Tensor:
    return phi.reshape(phi.shape[0], -1).double()


def squared_distances(phi_a: Tensor, phi_b: Tensor) -> Tensor:
    r"""(N,) :math:`\|\Phi_a^{(n)} - \Phi_b^{(n)}\|^2` row by row."""
    return (_flat(phi_a) - _flat(phi_b)).pow(2).sum(dim=1)


def relative_distances(phi_ref: Tensor, phi_other: Tensor) -> Tensor:
    r"""(N,) :math:`\|\Phi_{other} - \Phi_{ref}\| / \|\Phi_{ref}\|` row by row (0 where both are 0)."""
    num = squared_distances(phi_ref, phi_other).sqrt()
    den = _flat(phi_ref).norm(dim=1)
    return torch.where(num == 0, torch.zeros_like(num), num / den)


def different_pairs(n: int, generator: Optional[torch.Generator] = None) -> tuple[Tensor, Tensor]:
    """Index pairs (i, j) with i != j, every image once on each side: a random cyclic order of the ``n``
    images, each paired with its successor. Needs n >= 2."""
    if n < 2:
        raise ValueError(f"a baseline between different images needs at least 2 images, got {n}")
    order = torch.randperm(n, generator=generator)
    return order, order.roll(-1)


def baseline(phi: Tensor, generator: Optional[torch.Generator] = None) -> float:
    """Mean relative distance between Φ of different images (pairs from :func:`different_pairs`)."""
    i, j = different_pairs(phi.shape[0], generator)
    return float(relative_distances(phi[i], phi[j]).mean())


def median_squared_distance(phi: Tensor) -> float:
    r"""Median of :math:`\|\Phi(x_i) - \Phi(x_j)\|^2` over all pairs i < j."""
    flat = _flat(phi)
    if flat.shape[0] < 2:
        raise ValueError("the median distance between different images needs at least 2 images")
    d2 = torch.cdist(flat, flat).pow(2)
    i, j = torch.triu_indices(flat.shape[0], flat.shape[0], offset=1)
    return float(d2[i, j].median())


def matched_noise(x: Tensor, x_deformed: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
    r""":math:`x + \eta`: isotropic Gaussian noise rescaled per image to :math:`\|\eta\| = \|\tilde x - x\|`
    (drawn on the CPU from ``generator``, so it does not depend on the device)."""
    eta = torch.randn(x.shape, generator=generator, dtype=torch.float64)
    target = (x_deformed.double() - x.double()).reshape(x.shape[0], -1).norm(dim=1).cpu()
    eta = eta * (target / eta.reshape(x.shape[0], -1).norm(dim=1)).reshape(-1, *[1] * (x.dim() - 1))
    return x + eta.to(device=x.device, dtype=x.dtype)


def relative_stability(
    phi_x: Tensor, phi_deformed: Tensor, phi_noisy: Tensor, median: float
) -> tuple[float, float, float]:
    """(D, G, R): mean squared distances to Φ(x) of the deformed and of the noisy images, each divided by
    ``median`` (:func:`median_squared_distance`), and R = D / G (NaN when G = 0, e.g. at strength 0)."""
    D = float(squared_distances(phi_x, phi_deformed).mean()) / median
    G = float(squared_distances(phi_x, phi_noisy).mean()) / median
    return D, G, (D / G if G > 0 else float("nan"))
