"""Relative distance, the different-image baseline, the median normalisation and D, G, R."""

import math

import pytest
import torch

from parametricSN.deformation import (
    baseline,
    matched_noise,
    median_squared_distance,
    relative_distances,
    relative_stability,
)
from parametricSN.deformation.metrics import different_pairs


def test_relative_distance_is_per_image_and_relative_to_the_reference():
    a = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0]])
    b = torch.tensor([[6.0, 8.0], [1.0, 0.0], [0.0, 0.0]])
    assert relative_distances(a, b).tolist() == [1.0, 0.0, 0.0]


def test_baseline_pairs_are_different_images_each_used_once():
    i, j = different_pairs(7, torch.Generator().manual_seed(0))
    assert sorted(i.tolist()) == sorted(j.tolist()) == list(range(7)) and bool((i != j).all())
    phi = torch.stack([torch.full((2, 2), float(k + 1)) for k in range(5)])  # ‖Φ_k‖ = 2(k + 1)
    i, j = different_pairs(5, torch.Generator().manual_seed(1))
    expected = sum(abs(int(b) - int(a)) / (int(a) + 1) for a, b in zip(i, j)) / 5
    assert baseline(phi, torch.Generator().manual_seed(1)) == pytest.approx(expected)
    with pytest.raises(ValueError, match="at least 2"):
        different_pairs(1)


def test_median_squared_distance_over_pairs_of_different_images():
    phi = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    d2 = sorted((a - b) ** 2 for k, a in enumerate([0, 1, 3, 7]) for b in [0, 1, 3, 7][k + 1 :])
    assert median_squared_distance(phi) == float(torch.tensor(d2).median())


def test_matched_noise_has_the_norm_of_the_deformation_per_image():
    x = torch.rand(3, 1, 6, 6, dtype=torch.float64)
    x_def = x + torch.tensor([0.0, 0.5, 2.0], dtype=torch.float64)[:, None, None, None]
    noisy = matched_noise(x, x_def, torch.Generator().manual_seed(0))
    assert torch.allclose((noisy - x).flatten(1).norm(dim=1), (x_def - x).flatten(1).norm(dim=1))
    assert torch.equal(noisy, matched_noise(x, x_def, torch.Generator().manual_seed(0)))


def test_relative_stability_normalises_by_the_median_and_r_is_d_over_g():
    phi = torch.zeros(2, 3)
    D, G, R = relative_stability(phi, phi + 1.0, phi + 2.0, median=3.0)
    assert (D, G, R) == (pytest.approx(1.0), pytest.approx(4.0), pytest.approx(0.25))
    assert math.isnan(relative_stability(phi, phi, phi, median=1.0)[2])
