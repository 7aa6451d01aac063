"""The non-saturating GAN loss (Goodfellow et al. 2014) and least squares (Mao et al. 2017),
on logits, each with an optional R1 gradient penalty (Mescheder et al. 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.components import AdversarialLoss
from ganzoo.errors import GanzooError


def r1_penalty(discriminator: nn.Module, real: torch.Tensor, gamma: float) -> torch.Tensor:
    """``gamma / 2 * E[||grad D(x)||^2]`` over real images ``x``: it flattens the
    discriminator around the data, so it cannot sharpen without limit onto the few modes the
    generator covers (Mescheder, Geiger and Nowozin 2018; StyleGAN's regularizer)."""
    # a second-order term, which reduced precision handles poorly
    with torch.autocast(real.device.type, enabled=False):
        real = real.detach().float().requires_grad_(True)
        (grad,) = torch.autograd.grad(discriminator(real).float().sum(), real, create_graph=True)
        return gamma / 2 * grad.square().flatten(1).sum(1).mean()


class R1Regularized(AdversarialLoss):
    """Adds the R1 penalty with weight ``r1_gamma`` (0: off) to a loss."""

    def __init__(self, r1_gamma: float = 0.0):
        if r1_gamma < 0:
            raise GanzooError(f"r1_gamma must be 0 (off) or positive, got {r1_gamma}")
        self.r1_gamma = float(r1_gamma)

    def penalty(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor | None:
        return r1_penalty(discriminator, real, self.r1_gamma) if self.r1_gamma else None

    def extra_repr(self) -> str:
        return f"r1_gamma={self.r1_gamma:g}" if self.r1_gamma else ""


class BCELoss(R1Regularized):
    """Binary cross-entropy on discriminator logits.

    The discriminator minimises ``BCE(D(x), 1) + BCE(D(G(z)), 0)``; the generator minimises
    ``BCE(D(G(z)), 1)`` rather than ``-BCE(D(G(z)), 0)``, the non-saturating form whose gradient
    does not vanish while the discriminator easily rejects the fakes. Means over all scores, so
    patch discriminators work too.

    Args:
        r1_gamma: weight of the R1 penalty on real images (0, off, in Radford et al.).
    """

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real, fake = real.float(), fake.float()
        return F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        fake = fake.float()
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


class LeastSquaresLoss(R1Regularized):
    """Least-squares GAN loss (Mao et al. 2017), the adversarial loss CycleGAN trains with.

    The discriminator minimises ``((D(x) - 1)^2 + D(G(z))^2) / 2``, the generator
    ``(D(G(z)) - 1)^2``, means over all scores (patch discriminators work too). Unlike the
    cross-entropy, the penalty keeps growing for fakes far on the real side of the boundary, so
    gradients do not vanish; unlike a Wasserstein critic it needs no Lipschitz constraint.

    Args:
        r1_gamma: weight of the R1 penalty on real images (0, off, in Mao et al.).
    """

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real, fake = real.float(), fake.float()
        return 0.5 * ((real - 1).square().mean() + fake.square().mean())

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return (fake.float() - 1).square().mean()
