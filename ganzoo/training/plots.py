"""A run's loss curves as a picture a person can read (its sample grids: ``ganzoo.io.images``)."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

from ganzoo.io.files import atomic_write


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
