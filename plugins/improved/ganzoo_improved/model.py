"""The improved translator's model shape: ganzoo's CycleGAN with three optional kinds of anime
signal, none of which needs a pretrained network. All are off by default.

- ``lambda_nce``: PatchNCE (``ganzoo.patchnce``, Park et al. 2020) between each input and its
  translation, in both directions: a translation's patch should match its own input's patch.
- ``extra_fakes``: target-domain images the target discriminator is shown as fake, as in
  CartoonGAN (Chen et al. 2018: edge-smoothed cartoons) and AnimeGAN (Chen et al. 2019: grey-scale
  anime too): ``grey`` teaches it that anime has colour, ``smooth`` that it has crisp outlines.
- ``lambda_surface``: a second target discriminator that sees only the images' surface, a
  guided filter of each image by itself (white-box cartoonization, Wang and Yu 2020): flat
  regions with edges kept, so it judges the flatness of skin and hair and not their texture.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.errors import GanzooError
from ganzoo.models import CycleGAN
from ganzoo.patchnce import PatchNCE, channels_of
from ganzoo.validate import check_ranges

EXTRA_FAKES = ("grey", "smooth")


class AnimeCycleGAN(CycleGAN):
    """CycleGAN with the options of the module docstring (recipe fields ``lambda_nce``,
    ``nce_patches``, ``extra_fakes``, ``lambda_surface``)."""

    recipe_fields = {
        **CycleGAN.recipe_fields,
        "lambda_nce": 0.0,
        "nce_patches": 256,
        "extra_fakes": "",
        "lambda_surface": 0.0,
    }

    @classmethod
    def check_recipe_fields(cls, recipe: dict[str, Any]) -> None:
        super().check_recipe_fields(recipe)
        check_ranges(
            recipe,
            counts=("nce_patches",),
            non_negative_numbers=("lambda_nce", "lambda_surface"),
        )
        parse_extra_fakes(recipe.get("extra_fakes"))

    def __init__(self, config: dict[str, Any], training: bool = True):
        super().__init__(config, training)
        self.extra_fakes = parse_extra_fakes(self.recipe.get("extra_fakes"))
        self.lambda_nce = float(self.recipe.get("lambda_nce") or 0)
        self.lambda_surface = float(self.recipe.get("lambda_surface") or 0)
        if training and self.lambda_nce > 0:
            channels = channels_of(self.generator, self.channels, self.image_size)
            patches = int(self.recipe["nce_patches"])
            self.nce = PatchNCE(channels, patches)
            self.nce_reverse = PatchNCE(channels, patches)
        if training and self.lambda_surface > 0:
            self.discriminator_surface = self._network("discriminator")

    def generator_side(self) -> list[nn.Module]:
        heads = [self.nce, self.nce_reverse] if hasattr(self, "nce") else []
        return [*super().generator_side(), *heads]

    def discriminator_side(self) -> list[nn.Module]:
        surface = [self.discriminator_surface] if self.lambda_surface > 0 else []
        return [*super().discriminator_side(), *surface]

    def extra_discriminator_loss(self, batch, fakes) -> Tensor | None:
        terms = []
        y, seen, d_y = batch["target"], self.seen_by_discriminator, self.discriminator_target
        if self.extra_fakes:
            real_scores = d_y(seen(y))
            for kind in self.extra_fakes:
                fake = grey(y) if kind == "grey" else smooth_edges(y)
                terms.append(self.loss.discriminator_loss(real_scores, d_y(seen(fake))))
        if self.lambda_surface > 0:
            d_s = self.discriminator_surface
            real, fake = seen(surface(y)), seen(surface(fakes["fake_target"]))
            terms.append(self.lambda_surface * self.loss.discriminator_loss(d_s(real), d_s(fake)))
        return sum(terms) if terms else None

    def extra_generator_loss(self, batch, fakes) -> Tensor | None:
        terms = []
        if self.lambda_nce > 0:
            nce = self.nce(self.generator, batch["source"], fakes["fake_target"])
            nce_reverse = self.nce_reverse(
                self.generator_reverse, batch["target"], fakes["fake_source"]
            )
            terms.append(self.lambda_nce * (nce + nce_reverse))
        if self.lambda_surface > 0:
            scores = self.discriminator_surface(
                self.seen_by_discriminator(surface(fakes["fake_target"]))
            )
            terms.append(self.lambda_surface * self.loss.generator_loss(scores))
        return sum(terms) if terms else None


def parse_extra_fakes(value: Any) -> tuple[str, ...]:
    """``"grey,smooth"`` -> ("grey", "smooth"); one GanzooError line for anything else."""
    if value in (None, ""):
        return ()
    kinds = tuple(k.strip() for k in str(value).split(",") if k.strip())
    unknown = [k for k in kinds if k not in EXTRA_FAKES]
    if unknown:
        raise GanzooError(
            f"unknown extra_fakes {unknown[0]!r}; choose from {', '.join(EXTRA_FAKES)}"
        )
    return kinds


def grey(images: Tensor) -> Tensor:
    """Luma (ITU-R BT.601) in all three channels."""
    weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (images * weights).sum(1, keepdim=True).expand_as(images)


def smooth_edges(images: Tensor) -> Tensor:
    """CartoonGAN's edge-smoothed images: blurred where the edges are (the strongest tenth of
    the gradients, widened by a pixel), unchanged elsewhere."""
    luma = grey(images)[:, :1]
    sobel = images.new_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    kernels = torch.stack([sobel, sobel.t()]).unsqueeze(1)
    gradient = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), kernels).norm(dim=1)
    threshold = gradient.flatten(1).quantile(0.9, dim=1).view(-1, 1, 1, 1)
    edges = F.max_pool2d((gradient.unsqueeze(1) >= threshold).float(), 3, 1, 1)
    return torch.lerp(images, gaussian_blur(images), edges)


def gaussian_blur(images: Tensor, sigma: float = 1.0) -> Tensor:
    taps = torch.arange(-2, 3, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = images.shape[1]
    row = kernel.view(1, 1, 1, 5).expand(channels, 1, 1, 5)
    blurred = F.conv2d(F.pad(images, (2, 2, 0, 0), mode="replicate"), row, groups=channels)
    column = kernel.view(1, 1, 5, 1).expand(channels, 1, 5, 1)
    return F.conv2d(F.pad(blurred, (0, 0, 2, 2), mode="replicate"), column, groups=channels)


def surface(images: Tensor, radius: int = 2, eps: float = 0.2) -> Tensor:
    """A guided filter of each image by itself (He et al. 2010), per channel: the white-box
    cartoonization's surface representation. ``radius`` 2 (a 5x5 box) at 64x64 matches their
    radius 5 at 256x256 in spirit: it flattens skin, keeps outlines."""

    def box(t: Tensor) -> Tensor:
        return F.avg_pool2d(t, 2 * radius + 1, 1, radius, count_include_pad=False)

    mean = box(images)
    variance = box(images * images) - mean * mean
    a = variance / (variance + eps)
    b = mean - a * mean
    return box(a) * images + box(b)
