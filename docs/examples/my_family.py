r"""A wavelet family of your own, in one file: ``log-gabor`` (Field, J. Opt. Soc. Am. A 4, 1987), built in the
Fourier domain from a log-Gaussian radial profile and a smooth angular window (a von Mises bump),

    psi_hat(w) = exp(-log(|w| / xi)² / (2 b²)) · exp((cos(angle(w) - theta) - 1) / s²),

zero at w = 0 (admissible). ``@register_family`` declares each parameter once: what it means, its unit, its
learning-rate group (``scattering.lr={shape: 0.05}`` sets one by name) and its bounds (the generator sees the
parameter clamped into them).

    psn train -c conf/fashion_mnist.yaml general.plugins=[docs/examples/my_family.py] scattering.family=log-gabor
"""

import math

import torch

from parametricSN.scattering import WaveletFamily, register_family


@register_family(
    "log-gabor",
    params={
        "theta": {"meaning": "orientation", "unit": "rad", "group": "orientation"},
        "xi": {"meaning": "peak frequency", "unit": "rad/pixel", "group": "scattering", "bounds": (0.01, None)},
        "bandwidth": {"meaning": "log-radial width", "unit": "", "group": "shape", "bounds": (0.05, None)},
        "spread": {"meaning": "angular width", "unit": "rad", "group": "shape", "bounds": (0.05, None)},
    },
    orientation="theta",
    frequency="xi",
    admissible=True,
)
class LogGabor(WaveletFamily):
    def filters(self, shape, params, periodize=True):
        theta, xi, b, s = (params[n].reshape(-1, 1, 1) for n in self.names)
        w1 = (torch.fft.fftfreq(shape[0], dtype=theta.dtype, device=theta.device) * 2 * math.pi).view(1, -1, 1)
        w2 = (torch.fft.fftfreq(shape[1], dtype=theta.dtype, device=theta.device) * 2 * math.pi).view(1, 1, -1)
        r = torch.sqrt(w1**2 + w2**2)
        zero = r == 0  # log(r) and w / r have no gradient there: compute on a safe r, then put 0 back
        r_safe = torch.where(zero, torch.ones_like(r), r)
        cos_delta = (w1 * torch.cos(theta) + w2 * torch.sin(theta)) / r_safe
        psi = torch.exp(-(torch.log(r_safe / xi) ** 2) / (2 * b**2) + (cos_delta - 1) / s**2)
        return torch.where(zero, torch.zeros_like(psi), psi)

    def tight_frame(self, J, L):
        j, l = torch.arange(J).repeat_interleave(L).double(), torch.arange(L).repeat(J).double()
        full = lambda v: torch.full((J * L,), v, dtype=torch.float64)  # noqa: E731
        theta = (int(L - L / 2 - 1) - l) * math.pi / L
        return {"theta": theta, "xi": 0.75 * math.pi / 2**j, "bandwidth": full(0.55), "spread": full(math.pi / L)}

    def random(self, J, L, generator, n):
        u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, generator=generator, dtype=torch.float64)  # noqa: E731
        return {"theta": u(0, 2 * math.pi), "xi": u(0.5, 1.0), "bandwidth": u(0.3, 0.8), "spread": u(0.2, 0.6)}
