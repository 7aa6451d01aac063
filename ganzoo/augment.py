"""Differentiable augmentation for discriminators (DiffAugment; Zhao et al. 2020, "Differentiable
Augmentation for Data-Efficient GAN Training").

With a few thousand images a discriminator memorises the real set and its gradients stop teaching
the generator. DiffAugment applies the same kind of random transform to real and generated images
before every discriminator call, in the discriminator's step and in the generator's. The
transforms are differentiable, so the generator's gradient passes through them, and the generator
is never asked to produce augmented images.

A policy is a comma-separated list of transforms, applied in that order: ``color`` (brightness,
saturation, contrast), ``translation`` (a shift of up to 1/8 of the image, zero-filled) and
``cutout`` (a zeroed square of half the image's side). The paper's choice for small sets is all
three. Images are in [-1, 1]; each image in a batch draws its own parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ganzoo.errors import GanzooError


def _color(images: torch.Tensor) -> torch.Tensor:
    n = images.shape[0]
    rand = torch.rand(3, n, 1, 1, 1, dtype=images.dtype, device=images.device)
    images = images + (rand[0] - 0.5)  # brightness: a shift of up to +-0.5
    grey = images.mean(dim=1, keepdim=True)
    images = (images - grey) * (rand[1] * 2) + grey  # saturation: scaled by 0 to 2
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    return (images - mean) * (rand[2] + 0.5) + mean  # contrast: scaled by 0.5 to 1.5


def _shifted_indices(length: int, n: int, max_shift: int, device) -> tuple:
    """For each image, where each output row (or column) reads from, and whether that is inside."""
    shift = torch.randint(-max_shift, max_shift + 1, (n, 1), device=device)
    source = torch.arange(length, device=device) + shift
    inside = (source >= 0) & (source < length)
    return source.clamp(0, length - 1), inside


def _translation(images: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    n, _, height, width = images.shape
    rows, rows_inside = _shifted_indices(height, n, int(height * ratio + 0.5), images.device)
    cols, cols_inside = _shifted_indices(width, n, int(width * ratio + 0.5), images.device)
    batch = torch.arange(n, device=images.device)[:, None, None]
    # advanced indexing picks [n, height, width, channels]; pixels shifted in from outside are 0
    moved = images[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    inside = rows_inside[:, :, None] & cols_inside[:, None, :]
    return moved * inside[:, None].to(images.dtype)


def _cutout(images: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    n, _, height, width = images.shape
    cut_h, cut_w = int(height * ratio + 0.5), int(width * ratio + 0.5)
    # the square's top-left corner; it may hang over the edge, as in the paper
    top = torch.randint(-(cut_h // 2), height - cut_h // 2 + 1, (n, 1, 1), device=images.device)
    left = torch.randint(-(cut_w // 2), width - cut_w // 2 + 1, (n, 1, 1), device=images.device)
    rows = torch.arange(height, device=images.device)[None, :, None]
    cols = torch.arange(width, device=images.device)[None, None, :]
    inside = (rows >= top) & (rows < top + cut_h) & (cols >= left) & (cols < left + cut_w)
    return images * (~inside)[:, None].to(images.dtype)


TRANSFORMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "color": _color,
    "translation": _translation,
    "cutout": _cutout,
}


def parse_policy(policy: str | None) -> tuple[str, ...]:
    """``"color,translation"`` -> ("color", "translation"); empty, ``none`` or None -> ()."""
    if policy is None or str(policy).strip().lower() in ("", "none", "off"):
        return ()
    names = tuple(part.strip().lower() for part in str(policy).split(",") if part.strip())
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise GanzooError(
            f"augment policy {policy!r}: unknown transform {unknown[0]!r}; "
            f"known: {', '.join(TRANSFORMS)} (comma-separated), or none"
        )
    return names


def diff_augment(images: torch.Tensor, policy: tuple[str, ...]) -> torch.Tensor:
    """The policy's transforms applied to a batch of [-1, 1] images, differentiably."""
    for name in policy:
        images = TRANSFORMS[name](images)
    return images
