"""Wavelet families (Morlet, Gabor, Cauchy, yours), the scattering transform and the learnable scattering layer (no
training code here)."""

from parametricSN.scattering.core import FilterBank, compute_padding, scattering2d
from parametricSN.scattering.families import WaveletFamily, available_families, get_family, register_family
from parametricSN.scattering.filters import lowpass_filter, morlet_filters, periodize, random_params, tight_frame_params
from parametricSN.scattering.layer import ParametricScattering2D, n_coefficients

__all__ = [
    "ParametricScattering2D",
    "morlet_filters",
    "tight_frame_params",
    "random_params",
    "lowpass_filter",
    "periodize",
    "scattering2d",
    "FilterBank",
    "compute_padding",
    "n_coefficients",
    "WaveletFamily",
    "register_family",
    "get_family",
    "available_families",
]
