"""Record the Morlet layer's outputs and gradients (``morlet_reference.pt``), read by
``tests/scattering/test_morlet_reference.py``.

Recorded on 2026-12-07 before wavelet families existed (the ``families`` branch, issue 28), so the test says that the
``morlet`` family computes what the Morlet layer computed before: every parameterization, both initialisations,
the packed layer; float64 throughout. Run again only on purpose: ``python -m tests.scattering.data.make_morlet_reference``.
"""

from pathlib import Path

import torch

from parametricSN.scattering import ParametricScattering2D
from parametricSN.scattering.packed import PackedScattering2D

PATH = Path(__file__).with_name("morlet_reference.pt")
SHAPE, J, L = (12, 16), 2, 4
CASES = [(p, i) for p in ("canonical", "equivariant", "pixelwise") for i in ("tight-frame", "random")]


def inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """The images (2, 1, 12, 16) and the weights of the loss (as the output), float64."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, *SHAPE, generator=g, dtype=torch.float64)
    K = 1 + L * J + L * L * J * (J - 1) // 2
    w = torch.randn(2, K, SHAPE[0] // 2**J, SHAPE[1] // 2**J, generator=g, dtype=torch.float64)
    return x, w


def layer(parameterization: str, init: str, seed: int = 3) -> ParametricScattering2D:
    return ParametricScattering2D(J, SHAPE, L=L, init=init, parameterization=parameterization, seed=seed)


def record_one(S: torch.nn.Module, x: torch.Tensor, w: torch.Tensor) -> dict[str, torch.Tensor]:
    """Output, filters and the gradients of ``(S(x) * w).sum()`` in every parameter and the input."""
    x = x.clone().requires_grad_(True)
    y = S(x)
    (y * w).sum().backward()
    out = {"output": y.detach(), "grad_x": x.grad.detach()}
    out.update({f"grad_{n}": p.grad.detach().clone() for n, p in S.named_parameters()})
    out.update({f"param_{n}": p.detach().clone() for n, p in S.named_parameters()})
    return out


def record() -> dict[str, dict[str, torch.Tensor]]:
    torch.set_default_dtype(torch.float64)
    try:
        x, w = inputs()
        ref = {}
        for parameterization, init in CASES:
            S = layer(parameterization, init)
            ref[f"{parameterization}/{init}"] = {**record_one(S, x, w), "filters": S.filters()}
        for parameterization in ("canonical", "equivariant", "pixelwise"):
            P = PackedScattering2D([layer(parameterization, "tight-frame"), layer(parameterization, "random", 5)])
            ref[f"packed/{parameterization}"] = record_one(P, torch.stack([x, x.flip(-1)]), torch.stack([w, w]))
        return ref
    finally:
        torch.set_default_dtype(torch.float32)


if __name__ == "__main__":
    torch.save(record(), PATH)
    print(f"wrote {PATH}")
