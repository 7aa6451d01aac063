"""Readable pictures: enlarged grids and the losses plot."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image
from torchvision.utils import save_image

from ganzoo.io.images import save_grid, upscale_factor
from ganzoo.training.plots import plot_losses, robust_limits, smooth


def test_upscale_factor_reaches_128_px():
    assert upscale_factor(32, 32) == 4
    assert upscale_factor(64, 64) == 2
    assert upscale_factor(48, 80) == 3  # the shorter edge decides
    assert upscale_factor(256, 256) == 1


def test_grid_is_torchvision_grid_enlarged(tmp_path):
    images = torch.rand(6, 3, 8, 10, generator=torch.Generator().manual_seed(0))
    save_image(images, tmp_path / "tv.png", nrow=3, padding=2)
    save_grid(images, tmp_path / "x1.png", nrow=3)
    save_grid(images, tmp_path / "x3.png", nrow=3, scale=3)
    tv = np.asarray(Image.open(tmp_path / "tv.png"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x1.png")), tv)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "x3.png")), tv.repeat(3, 0).repeat(3, 1))


def test_smooth_ignores_a_spike_and_skips_gaps():
    assert smooth([1e6, 1.0, 1.0, 1.0, 1.0], 5) == [1.0] * 5
    out = smooth([math.nan, math.nan, 2.0, math.nan, 4.0], 3)
    assert math.isnan(out[0]) and out[1:] == [2.0, 2.0, 3.0, 4.0]


def test_one_huge_first_loss_does_not_set_the_scale(tmp_path):
    steps = range(10, 1010, 10)
    loss_d = [1e6] + [1.0 + 0.1 * math.sin(s) for s in steps][1:]
    low, high = robust_limits(loss_d)
    assert 0.5 < low < 0.9 and 1.1 < high < 2  # the curve fills the panel

    csv_path = tmp_path / "metrics.csv"
    rows = ["step,loss_d,loss_g,loss_cycle"]
    for step, d in zip(steps, loss_d, strict=True):
        rows.append(f"{step},{d},{'' if step % 20 else -d},{0.01 * d}")  # loss_g every 2nd step
    csv_path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "losses.png"
    plot_losses(csv_path, out, ("loss_d", "loss_g", "loss_cycle"))
    with Image.open(out) as img:
        width, height = img.size
    assert height > 2 * width / 3  # three stacked panels, one per loss
