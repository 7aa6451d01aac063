"""Grids a person can read: images side by side, enlarged.

Models here make 32x32 or 64x64 images; a grid of them at their own size is a few hundred pixels
wide and unreadable on a modern screen. Grids are therefore enlarged with nearest neighbour (no
blur is invented, every model pixel stays a sharp square) to at least ``READABLE_PX`` per image.
"""

from __future__ import annotations

import math
import os

import torch
from torchvision.utils import make_grid

from ganzoo.io.files import atomic_write

#: the smallest edge, in screen pixels, of one image in a grid meant to be looked at
READABLE_PX = 128
PADDING = 2


def upscale_factor(height: int, width: int, min_px: int = READABLE_PX) -> int:
    """The integer factor that makes an image of this size at least ``min_px`` on its shorter
    edge (1 for images already that large). An integer keeps pixels square."""
    return max(1, math.ceil(min_px / min(height, width)))


def grid_image(images: torch.Tensor, nrow: int, scale: int = 1) -> torch.Tensor:
    """Images ``[N, C, H, W]`` in [0, 1] as one uint8 grid ``[C, H', W']``, 2 px padding (as
    torchvision's ``save_image``), every pixel repeated ``scale`` times in each direction."""
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=PADDING)
    grid = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
    if scale > 1:
        grid = grid.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)
    return grid


def save_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int, scale: int = 1) -> None:
    """Writes a PNG grid atomically, so an interrupted write leaves no broken image. The result
    is pixel for pixel what torchvision's ``save_image`` writes, enlarged by ``scale``."""
    from PIL import Image

    array = grid_image(images, nrow, scale).permute(1, 2, 0).numpy()
    picture = Image.fromarray(array.squeeze(-1) if array.shape[-1] == 1 else array)
    atomic_write(path, lambda tmp: picture.save(tmp, "PNG"))


def save_readable_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int) -> int:
    """A grid enlarged to at least ``READABLE_PX`` per image; returns the factor used."""
    scale = upscale_factor(images.shape[-2], images.shape[-1])
    save_grid(images, path, nrow, scale)
    return scale


def save_preview_grid(images: torch.Tensor, path: str | os.PathLike, group: int) -> None:
    """A model's preview (``GAN.preview``) as a readable grid, ``group`` images to a unit (a
    translator's source, translation and reconstruction), about as many units down as across."""
    nrow = group * max(1, round(math.sqrt(images.shape[0] / group)))
    save_readable_grid(images, path, nrow)
