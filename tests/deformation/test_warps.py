"""The deformations: exact identity at strength 0, exact whole-pixel shifts, growth with strength, the smooth
diffeo's sup‖∇τ‖, and the random diffeos' reproducibility and displacement scale."""

import math

import pytest
import torch
import torch.nn.functional as F

from parametricSN.deformation import (
    KINDS,
    deform,
    diffeo_sup_gradient,
    diffeo_tau,
    random_displacement,
    relative_distances,
    sampling_grid,
    strengths,
    temperature_range,
    typical_displacement,
)
from parametricSN.deformation.warps import random_coefficients, sine_field
from parametricSN.scattering import ParametricScattering2D


def smooth_images(n=24, batch=2):
    """Sums of wide Gaussian bumps: smooth, not symmetric, different per image."""
    g = torch.Generator().manual_seed(0)
    r = torch.arange(n, dtype=torch.float64)
    imgs = torch.zeros(batch, 1, n, n, dtype=torch.float64)
    for b in range(batch):
        for _ in range(3):
            cy, cx = torch.rand(2, generator=g, dtype=torch.float64) * n * 0.6 + n * 0.2
            imgs[b, 0] += torch.exp(-((r[:, None] - cy) ** 2 + (r[None, :] - cx) ** 2) / (2 * (n / 6) ** 2))
    return imgs


@pytest.fixture(scope="module")
def S8x12():
    return ParametricScattering2D(1, shape=(8, 12), L=4, learnable=False)


@pytest.mark.parametrize("kind", KINDS)
def test_strength_zero_is_the_exact_identity_and_the_zero_grid_lands_on_pixel_centres(kind, S8x12):
    x = torch.rand(3, 2, 8, 12)
    y = deform(x, kind, 0.0, torch.Generator().manual_seed(1))
    assert torch.equal(y, x) and y.data_ptr() != x.data_ptr()
    S = S8x12
    assert torch.equal(relative_distances(S(x), S(y)), torch.zeros(3))
    # the resampling path itself is the identity at strength 0 (align_corners=True on pixel centres)
    grid = sampling_grid(kind, 0.0, (8, 12), 3, torch.Generator().manual_seed(1))
    same = F.grid_sample(x.double(), grid, align_corners=True, padding_mode="reflection")
    assert torch.allclose(same, x.double(), atol=1e-12)


def test_whole_pixel_translation_is_an_exact_shift_and_zeros_padding_fills_zeros():
    x = torch.rand(1, 1, 10, 10, dtype=torch.float64)
    y = deform(x, "translation", 2.0, padding="zeros")
    assert torch.allclose(y[..., 2:, 2:], x[..., :-2, :-2], atol=1e-12)
    assert torch.allclose(y[..., :2, :], torch.zeros(1, 1, 2, 10, dtype=torch.float64), atol=1e-12)


@pytest.fixture(scope="module")
def S24():
    return ParametricScattering2D(2, shape=(24, 24), L=8, learnable=False).double()


@pytest.mark.parametrize("kind", KINDS)
def test_distances_grow_with_strength_on_smooth_images(kind, S24):
    x, S = smooth_images(), S24
    pixel, scat = [], []
    for s in strengths(kind, 4, (24, 24)):
        y = deform(x, kind, s, torch.Generator().manual_seed(3))  # the same fields at every temperature
        pixel.append(float(relative_distances(x, y).mean()))
        scat.append(float(relative_distances(S(x), S(y)).mean()))
    assert pixel[0] == scat[0] == 0
    assert all(a < b for a, b in zip(pixel, pixel[1:])), pixel
    assert all(a < b for a, b in zip(scat, scat[1:])), scat


def test_whole_pixel_translations_of_a_periodic_image_move_the_scattering_far_less_than_the_pixels():
    n = 32
    col = torch.arange(n, dtype=torch.float64)
    x = torch.cos(2 * math.pi * col / 4).expand(n, n)[None, None]  # vertical stripes, period 4 px
    S = ParametricScattering2D(3, shape=(n, n), L=8, learnable=False).double()
    for t in (1, 2, 3):
        y = deform(x, "translation", float(t))
        # the stripes are symmetric about the border, so reflection padding makes this a circular shift
        assert torch.allclose(y, torch.roll(x, (t, t), (-2, -1)), atol=1e-12)
        moved_pixels = float(relative_distances(x, y))
        moved_scattering = float(relative_distances(S(x), S(y)))
        assert moved_pixels >= 1.4 and moved_scattering < 0.15 * moved_pixels, (t, moved_pixels, moved_scattering)


def test_diffeo_strength_is_the_analytic_sup_of_the_jacobian_norm():
    # closed form at v = 1: the spectral norm of [[0.5, 0.6], [0, 0.3]]
    assert diffeo_sup_gradient(1.0) == pytest.approx(
        torch.linalg.matrix_norm(torch.tensor([[0.5, 0.6], [0.0, 0.3]], dtype=torch.float64), ord=2).item(), abs=1e-14
    )
    # against autograd on a grid of [-1, 1]^2 that contains the maximising rows u2 = ±1
    v = 0.7
    pts = torch.cartesian_prod(
        torch.linspace(-1, 1, 41, dtype=torch.float64), torch.linspace(-1, 1, 41, dtype=torch.float64)
    )
    jac = torch.func.vmap(torch.func.jacrev(lambda u: torch.stack(diffeo_tau(u[0], u[1], v))))(pts)
    assert torch.linalg.matrix_norm(jac, ord=2).max().item() == pytest.approx(diffeo_sup_gradient(v), abs=1e-12)
    assert strengths("diffeo", 4, (16, 16))[-1] == pytest.approx(diffeo_sup_gradient(1.0))
    # deform at strength s applies tau with v = s / sup‖∇τ‖(v=1): grid = u - tau(u)
    s = 0.3
    grid = sampling_grid("diffeo", s, (9, 7))[0]
    u1, u2 = torch.meshgrid(
        torch.linspace(-1, 1, 7, dtype=torch.float64), torch.linspace(-1, 1, 9, dtype=torch.float64), indexing="xy"
    )
    t1, t2 = diffeo_tau(u1, u2, s / diffeo_sup_gradient(1.0))
    assert torch.allclose(grid[..., 0], u1 - t1) and torch.allclose(grid[..., 1], u2 - t2)


def test_random_diffeos_are_reproducible_from_the_seed():
    x = smooth_images(16, 3).float()
    a = deform(x, "random-diffeo", 1.0, torch.Generator().manual_seed(7))
    b = deform(x, "random-diffeo", 1.0, torch.Generator().manual_seed(7))
    c = deform(x, "random-diffeo", 1.0, torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.allclose(a, c)
    assert not torch.allclose(a[0], a[1])  # one field per image


def test_random_diffeo_displacement_is_in_pixels_and_has_the_typical_scale():
    # a horizontal ramp x(row, col) = col is reproduced exactly by bilinear sampling, so x~ - x = -tau_x in px
    T, n = 2.0, 20
    ramp = torch.arange(n, dtype=torch.float64).expand(n, n)[None, None].repeat(4, 1, 1, 1)
    coeff = random_coefficients(4, 3, torch.Generator().manual_seed(5))
    tau = random_displacement(coeff, T, (n, n))
    warped = deform(ramp, "random-diffeo", T, torch.Generator().manual_seed(5), padding="border")
    inside = ((torch.arange(n) - tau[:, 0]).clamp(0, n - 1) == torch.arange(n) - tau[:, 0])[:, None]
    assert torch.allclose((warped - ramp)[inside], -tau[:, :1][inside], atol=1e-9)
    # fields vanish on the border; at the centre E‖tau‖ ≈ sqrt(T) (0.28 ln c + 0.7) (Petrini et al.'s fit)
    for c in (3, 5):
        many = random_coefficients(20000, c, torch.Generator().manual_seed(c))
        centre = math.sqrt(T) * sine_field(many, torch.tensor([0.0, 0.5]), torch.tensor([0.0, 0.5]))
        assert centre[..., 0, :].abs().max() < 1e-12 and centre[..., :, 0].abs().max() < 1e-12
        mean_norm = float(centre[..., 1, 1].norm(dim=1).mean())
        assert mean_norm == pytest.approx(typical_displacement(T, c), rel=0.06), (c, mean_norm)


def test_temperature_range_and_strength_axes():
    t_min, t_max = temperature_range(28, 3)
    assert typical_displacement(t_min, 3) == pytest.approx(0.5)
    assert t_max == pytest.approx((0.4 * 28 / 3**1.1) ** 2)
    for kind in KINDS:
        s = strengths(kind, 5, (28, 32))
        assert len(s) == 6 and s[0] == 0 and all(a < b for a, b in zip(s, s[1:]))
    assert strengths("random-diffeo", 5, (28, 32))[1:] == pytest.approx(
        [t_min * (t_max / t_min) ** (k / 4) for k in range(5)]
    )
    assert strengths("rotation", 2, (8, 8)) == [0, 5, 10] and strengths("translation", 1, (28, 28)) == [0, 3]
    with pytest.raises(ValueError, match="cut-off"):
        strengths("random-diffeo", 3, (8, 8), cutoff=8)
    with pytest.raises(ValueError, match="unknown deformation"):
        deform(torch.zeros(1, 1, 4, 4), "twist", 1.0)
