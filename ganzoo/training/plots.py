"""Pictures a person can read: enlarged sample grids and the loss curves of a run.

Models here make 32x32 or 64x64 images; a grid of them at their own size is a few hundred pixels
wide and unreadable on a modern screen. Grids are therefore enlarged with nearest neighbour (no
blur is invented, every model pixel stays a sharp square) to at least ``READABLE_PX`` per image.
"""

from __future__ import annotations

import csv
import math
import os
import statistics
from pathlib import Path

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


# ---------------------------------------------------------------------------------------------
# losses


def smooth(values: list[float], window: int) -> list[float]:
    """A centred running median over ``window`` points, skipping missing values (nan). A median,
    not a moving average: one huge early value does not drag the curve for many steps after it,
    and a centred window does not lag behind the raw curve."""
    half = window // 2
    out = []
    for i in range(len(values)):
        near = [v for v in values[max(0, i - half) : i + half + 1] if math.isfinite(v)]
        out.append(statistics.median(near) if near else math.nan)
    return out


def robust_limits(values: list[float]) -> tuple[float, float] | None:
    """Y limits from the 2nd to the 98th percentile with a margin: a huge first value (a fresh
    discriminator's loss) otherwise flattens the rest of the curve into a line."""
    finite = sorted(v for v in values if math.isfinite(v))
    if not finite:
        return None
    low = finite[int(0.02 * (len(finite) - 1))]
    high = finite[math.ceil(0.98 * (len(finite) - 1))]
    margin = (high - low) * 0.1 or abs(high) * 0.1 or 1.0
    return low - margin, high + margin


def _read_losses(metrics_csv: Path, keys: tuple[str, ...]) -> tuple[list[int], dict]:
    with metrics_csv.open() as handle:
        rows = list(csv.DictReader(handle))
    steps = [int(r["step"]) for r in rows]
    series = {
        key: [float(r[key]) if r.get(key) not in (None, "") else math.nan for r in rows]
        for key in keys
    }
    return steps, series


def plot_losses(metrics_csv: Path, out: Path, loss_keys: tuple[str, ...]) -> None:
    """``losses.png``: one panel per loss (their scales differ by orders of magnitude), each on
    a robust y scale, a smoothed curve drawn over the raw one in faint colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, series = _read_losses(Path(metrics_csv), loss_keys)
    if not steps:
        return
    window = 2 * (len(steps) // 20) + 1  # about 10% of the points
    keys = list(series)
    fig, axes = plt.subplots(
        len(keys), 1, figsize=(8, 2.4 * len(keys)), dpi=110, sharex=True, squeeze=False
    )
    for i, (ax, key) in enumerate(zip(axes[:, 0], keys, strict=True)):
        colour = f"C{i % 10}"
        raw = series[key]
        ax.plot(steps, raw, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(steps, smooth(raw, window), color=colour, linewidth=1.6)
        limits = robust_limits(raw)
        if limits:
            ax.set_ylim(*limits)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(
        f"losses (faint: logged means; bold: running median of {window}; y: 2nd-98th percentile)",
        fontsize=9,
    )
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
