"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018, ProGAN, appendix
D), ported from their ``metrics/sliced_wasserstein.py`` to torch.

Per pyramid level (full resolution down to 16 px): 128 random 7x7 patches per image, each set's
descriptors normalised per colour channel, then the sliced Wasserstein distance with 512 random
unit directions, repeated 4 times and averaged. Reported x1e3 per level and as their mean, as in
ProGAN. Fine levels measure texture and detail, coarse levels layout and colour.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ganzoo.metrics.base import Context, Metric, MetricResult, derive_seed

PATCH = 7
PATCHES_PER_IMAGE = 128
DIRECTIONS = 512
REPEATS = 4
MIN_RESOLUTION = 16
IMAGE_BATCH = 256  # images per pyramid pass
DIRECTION_CHUNK = 128  # projections sorted at once; bounds memory for large N

# ProGAN's 5x5 binomial filter (what cv2.pyrDown uses)
_TAPS = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16
GAUSSIAN = _TAPS[:, None] * _TAPS[None, :]


def _filter(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    c = x.shape[1]
    kernel = (GAUSSIAN * scale).to(x).expand(c, 1, 5, 5)
    # 'reflect' is scipy.ndimage's 'mirror', which ProGAN uses
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=c)


def laplacian_pyramid(images: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """Band-pass levels, finest first; the last is the low-pass residual."""
    pyramid = [images.float()]
    for _ in range(1, levels):
        down = _filter(pyramid[-1])[:, :, ::2, ::2]
        up = torch.zeros_like(pyramid[-1])
        up[:, :, ::2, ::2] = down
        pyramid[-1] = pyramid[-1] - _filter(up, 4.0)
        pyramid.append(down)
    return pyramid


def _patches(level: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """``PATCHES_PER_IMAGE`` random 7x7 patches of each image: [N * 128, C, 7, 7]."""
    n, _, h, w = level.shape
    r = PATCH // 2
    shape = (n, PATCHES_PER_IMAGE, 1, 1)
    ys = torch.randint(r, h - r, shape, generator=generator).to(level.device)
    xs = torch.randint(r, w - r, shape, generator=generator).to(level.device)
    offsets = torch.arange(-r, r + 1, device=level.device)
    image = torch.arange(n, device=level.device).view(n, 1, 1, 1)
    # advanced indices around a slice put their broadcast shape first: [N, 128, 7, 7, C]
    patches = level[image, :, ys + offsets.view(1, 1, -1, 1), xs + offsets.view(1, 1, 1, -1)]
    return patches.permute(0, 1, 4, 2, 3).reshape(n * PATCHES_PER_IMAGE, -1, PATCH, PATCH)


def descriptors(
    images: torch.Tensor, levels: int, generator: torch.Generator, device: torch.device
) -> list[torch.Tensor]:
    """Normalised patch descriptors [N * 128, C * 49] of every pyramid level."""
    per_level: list[list[torch.Tensor]] = [[] for _ in range(levels)]
    for start in range(0, len(images), IMAGE_BATCH):
        batch = images[start : start + IMAGE_BATCH].to(device)
        for i, level in enumerate(laplacian_pyramid(batch, levels)):
            per_level[i].append(_patches(level, generator))
    out = []
    for parts in per_level:
        desc = torch.cat(parts)
        # each set normalised on its own, per channel: SWD then compares shapes of the
        # distributions, not their overall brightness or contrast
        desc = desc - desc.mean(dim=(0, 2, 3), keepdim=True)
        desc = desc / desc.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8)
        out.append(desc.flatten(1))
    return out


def _sort_columns(x: torch.Tensor) -> torch.Tensor:
    if x.is_cuda:
        return torch.sort(x, dim=0).values
    # numpy's vectorised sort is about five times faster than torch's on the CPU
    return torch.from_numpy(np.sort(x.numpy(), axis=0))


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> float:
    """Mean over ``REPEATS`` x ``DIRECTIONS`` random unit directions of the 1-D Wasserstein-1
    distance between the projected point sets (equal sizes: sorted projections pair up)."""
    results = []
    for _ in range(REPEATS):
        dirs = torch.randn(a.shape[1], DIRECTIONS, generator=generator).to(a)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        total = 0.0
        for start in range(0, DIRECTIONS, DIRECTION_CHUNK):
            d = dirs[:, start : start + DIRECTION_CHUNK]
            pa = _sort_columns(a @ d)
            pb = _sort_columns(b @ d)
            total += (pa - pb).abs().sum().item()
        results.append(total / (a.shape[0] * DIRECTIONS))
    return sum(results) / len(results)


def pyramid_levels(height: int, width: int) -> int:
    levels, res = 0, min(height, width)
    while res >= MIN_RESOLUTION:
        levels, res = levels + 1, res // 2
    return max(levels, 1)


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(derive_seed(seed, stream))


def swd(
    fake: torch.Tensor, real: torch.Tensor, seed: int = 0, device: str | torch.device = "cpu"
) -> dict[str, float]:
    """Per-level SWD x1e3, keyed by resolution (finest first), and their mean under ``avg``."""
    n = min(len(fake), len(real))  # sorted projections pair up only for equal sizes
    h, w = fake.shape[-2:]
    levels = pyramid_levels(h, w)
    device = torch.device(device)
    desc_fake = descriptors(fake[:n], levels, _generator(seed, 1), device)
    desc_real = descriptors(real[:n], levels, _generator(seed, 2), device)
    directions = _generator(seed, 3)
    values = {}
    for i, (a, b) in enumerate(zip(desc_fake, desc_real, strict=True)):
        lh, lw = -(-h // 2**i), -(-w // 2**i)  # [::2] keeps the odd row: ceil
        key = f"{lh}px" if lh == lw else f"{lw}x{lh}"
        values[key] = sliced_wasserstein(a, b, directions) * 1e3
    values["avg"] = sum(values.values()) / len(values)
    return values


class SWD(Metric):
    """Multi-scale sliced Wasserstein distance (ProGAN); lower is better."""

    name = "swd"

    def compute(self, fake, real, *, context: Context) -> MetricResult:
        values = swd(fake, real, context.seed, context.device)
        n = min(len(fake), len(real))
        h, w = fake.shape[-2:]
        protocol = (
            f"{n} generated vs {n} real images at {w}x{h}, no resizing; Laplacian pyramid "
            f"({len(values) - 1} levels down to {MIN_RESOLUTION} px, 5x5 binomial filter), "
            f"{PATCHES_PER_IMAGE} {PATCH}x{PATCH} patches per image and level, normalised per "
            f"channel; {DIRECTIONS} directions x {REPEATS} repeats; x1e3 (ProGAN); "
            f"seed {context.seed}"
        )
        return MetricResult(self.name, values, protocol, context.data)
