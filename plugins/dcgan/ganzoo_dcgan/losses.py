"""The non-saturating GAN loss (Goodfellow et al. 2014), on logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganzoo.components import AdversarialLoss


class BCELoss(AdversarialLoss):
    """Binary cross-entropy on discriminator logits.

    The discriminator minimises ``BCE(D(x), 1) + BCE(D(G(z)), 0)``; the generator minimises
    ``BCE(D(G(z)), 1)`` rather than ``-BCE(D(G(z)), 0)``, the non-saturating form whose gradient
    does not vanish while the discriminator easily rejects the fakes. Means over all scores, so
    patch discriminators work too.
    """

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real, fake = real.float(), fake.float()
        return F.binary_cross_entropy_with_logits(
            real, torch.ones_like(real)
        ) + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        fake = fake.float()
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))


class LeastSquaresLoss(AdversarialLoss):
    """Least-squares GAN loss (Mao et al. 2017), the adversarial loss CycleGAN trains with.

    The discriminator minimises ``((D(x) - 1)^2 + D(G(z))^2) / 2``, the generator
    ``(D(G(z)) - 1)^2``, means over all scores (patch discriminators work too). Unlike the
    cross-entropy, the penalty keeps growing for fakes far on the real side of the boundary, so
    gradients do not vanish; unlike a Wasserstein critic it needs no Lipschitz constraint.
    """

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        real, fake = real.float(), fake.float()
        return 0.5 * ((real - 1).square().mean() + fake.square().mean())

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return (fake.float() - 1).square().mean()
