"""The interfaces that plugin components implement.

Every generator and discriminator builder is called as ``builder(size=(H, W), channels=C, **args)``
where ``args`` come from the recipe (``generator_args``, ``discriminator_args``). Networks work on
images normalised to [-1, 1]; the public API converts from and to [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from ganzoo.errors import GanzooError


class Generator(nn.Module):
    """Produces images in [-1, 1].

    Unconditional generators set ``latent_dim`` and take noise of shape ``[N, latent_dim]``;
    image-to-image generators leave it ``None`` and take images ``[N, C, H, W]``.
    """

    latent_dim: int | None = None

    def features(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps ``[N, C_i, H_i, W_i]`` of the image-to-image generator's encoder, shallow
        to deep, for losses that compare an input with its translation patch by patch (PatchNCE).
        Generators that do not expose them raise ``GanzooError``."""
        raise GanzooError(
            f"{type(self).__name__} does not expose encoder features (Generator.features), "
            "which PatchNCE needs; choose a generator that does, e.g. improved-generator"
        )


class Discriminator(nn.Module):
    """Scores images: one score per image or a map of patch scores; higher means "real"."""


class AdversarialLoss:
    """How a discriminator is trained and how a generator is scored against it.

    Scores are the raw discriminator outputs (logits or critic values), of any shape.
    Losses that constrain the discriminator do it through ``penalty`` (added to its loss) or
    ``after_discriminator_step`` (applied to its weights once the optimizer has stepped).
    """

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def penalty(
        self, discriminator: nn.Module, real: torch.Tensor, fake: torch.Tensor
    ) -> torch.Tensor | None:
        return None

    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        return None

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"
