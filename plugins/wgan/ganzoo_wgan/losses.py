"""Wasserstein losses: weight clipping (Arjovsky et al. 2017) and gradient penalty (Gulrajani
et al. 2017). The paper's section 4.1 uses the first."""

from __future__ import annotations

import torch
from torch import nn

from ganzoo.components import AdversarialLoss
from ganzoo.errors import GanzooError


class Wasserstein(AdversarialLoss):
    """The critic maximises ``E[f(x)] - E[f(G(z))]``, an estimate of the Wasserstein-1 distance
    when ``f`` is 1-Lipschitz; the generator maximises ``E[f(G(z))]``. As losses to minimise:
    critic ``mean(f(fake)) - mean(f(real))``, generator ``-mean(f(fake))``."""

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return fake.float().mean() - real.float().mean()

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.float().mean()


class WassersteinClip(Wasserstein):
    """Wasserstein loss with the Lipschitz constraint enforced by clipping every parameter of the
    critic to ``[-clip_value, clip_value]`` after each of its optimizer steps.

    Args:
        clip_value: ``c`` in Arjovsky et al. (0.01 there, and here).
    """

    def __init__(self, clip_value: float = 0.01):
        if clip_value <= 0:
            raise GanzooError(f"clip_value must be positive, got {clip_value}")
        self.clip_value = float(clip_value)

    @torch.no_grad()
    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        for param in discriminator.parameters():
            param.clamp_(-self.clip_value, self.clip_value)

    def extra_repr(self) -> str:
        return f"clip_value={self.clip_value}"


class WassersteinGP(Wasserstein):
    """Wasserstein loss with the gradient penalty of Gulrajani et al. 2017:
    ``gp_lambda * E[(||grad f(x_hat)||_2 - 1)^2]`` at ``x_hat = e * real + (1 - e) * fake``, one
    ``e ~ U[0, 1]`` per sample. The critic must not use batch norm.

    The penalty's second backward pass more than doubles the cost of a critic step. With
    ``gp_every`` k > 1 it is lazy (the lazy regularisation of Karras et al. 2020): it runs on a
    random one in k of the critic's steps, weighted k times, so that its expected weight is the
    same at a fraction of the cost. The draw comes from the global RNG, which a checkpoint keeps.

    Args:
        gp_lambda: the penalty's weight (10 in Gulrajani et al., and here).
        gp_every: k above (1: every step, as in Gulrajani et al.).
    """

    def __init__(self, gp_lambda: float = 10.0, gp_every: int = 1):
        if int(gp_every) != gp_every or gp_every < 1:
            raise GanzooError(f"gp_every must be a whole number >= 1, got {gp_every}")
        self.gp_lambda = float(gp_lambda)
        self.gp_every = int(gp_every)

    def penalty(
        self,
        discriminator: nn.Module,
        real: torch.Tensor,
        fake: torch.Tensor,
        weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The penalty; ``weights`` ([N, 1, 1, 1], the ``e`` above) are drawn with ``torch.rand``
        from the global RNG unless given."""
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in discriminator.modules()):
            raise GanzooError(
                "wasserstein-gp needs a critic without batch norm; set discriminator_args.norm "
                "to layer, instance or none"
            )
        if self.gp_every > 1 and torch.rand(()) * self.gp_every >= 1:
            return None  # a lazy step without the penalty
        real, fake = real.detach().float(), fake.detach().float()
        if weights is None:
            weights = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
        # the penalty is a second-order term, which reduced precision handles poorly
        with torch.autocast(real.device.type, enabled=False):
            x_hat = (weights * real + (1 - weights) * fake).requires_grad_(True)
            scores = discriminator(x_hat).float()
            (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
            norms = grad.flatten(1).norm(2, dim=1)
            return self.gp_every * self.gp_lambda * ((norms - 1) ** 2).mean()

    def extra_repr(self) -> str:
        return f"gp_lambda={self.gp_lambda}, gp_every={self.gp_every}"
