r"""The tightness penalty (``scattering.tightness``): keep a learned bank's frame close to its initial one.

With weight :math:`\lambda` = ``scattering.tightness`` the training loss becomes

.. math::
    \mathcal L + \lambda \cdot \frac{1}{MN} \sum_\omega \big(A(\omega) - A_0(\omega)\big)^2,

where :math:`A` is the Littlewood–Paley sum of the current bank and :math:`A_0` that of the bank the run started
from (:mod:`parametricSN.scattering.frames`), on the padded full-resolution frequency grid. The target is the
initial profile rather than a constant: kymatio's tight-frame bank is itself not flat (A = 0.12 at the highest
frequencies, B = 1 at zero frequency), and a constant target would first pull the initial bank away from the
paper's filters. A random init keeps its own (random) profile.

Only the training loss carries the penalty: ``train_loss`` / ``test_loss`` stay the classification losses (the
penalty's size can be read from ``frame_distance``, which the filter report logs). A pack sums its members'
penalties, so each member's filters get the gradient of their own. The penalty is stiff: with the default
``scattering.lr_scattering = 0.1``, weights of 1–10 pull the frame back (Fashion-MNIST, README), while 100 already
overshoots and the frame ends further from its start than without the penalty. ``scattering.tightness = 0`` (the default and
the paper's protocol) and fixed filters add nothing.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from parametricSN.config import Config
from parametricSN.models import learnable_scattering
from parametricSN.scattering.frames import bank_littlewood_paley, lp_distance


class TightnessPenalty:
    """``weight * mean_ω (A(ω) - A_0(ω))²`` of ``scattering``'s bank (summed over a pack's members), where
    ``A_0`` is the sum when the penalty is made: make it before a resumed run restores its trained filters."""

    def __init__(self, scattering: nn.Module, weight: float) -> None:
        self.scattering, self.weight = scattering, float(weight)
        with torch.no_grad():
            self.target = bank_littlewood_paley(scattering).detach()

    def __call__(self) -> Tensor:
        lp = bank_littlewood_paley(self.scattering)
        return self.weight * lp_distance(lp, self.target.to(lp.device)).sum()


def tightness_penalty(model: nn.Module, cfg: Config) -> Optional[TightnessPenalty]:
    """The penalty of ``cfg.scattering.tightness`` on ``model.scattering`` (a single or a packed layer), or None
    when the weight is 0 or the filters do not learn."""
    scattering = learnable_scattering(model)
    if cfg.scattering.tightness == 0 or scattering is None:
        return None
    return TightnessPenalty(scattering, cfg.scattering.tightness)
