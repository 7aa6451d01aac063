"""The step log of a training run: losses averaged between log points, checked for nan and inf,
and written as rows of ``metrics.csv``, TensorBoard scalars and the progress bar's figures."""

from __future__ import annotations

import csv
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ganzoo.errors import GanzooError
from ganzoo.threads import SlowdownWatch


class MetricsLog:
    """metrics.csv: one row per logged step, columns fixed by the model's ``log_keys``."""

    def __init__(self, path: Path, loss_keys: tuple[str, ...], resume_step: int | None):
        self.path = path
        self.columns = ["step", "epoch", "images", "seconds", "images_per_s", *loss_keys]
        if resume_step is not None and path.exists():
            # rows after the checkpoint we resume from will be logged again
            with path.open() as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= resume_step]
        else:
            rows = []
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def append(self, row: dict[str, Any]) -> None:
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, self.columns, extrasaction="ignore").writerow(row)


class StepLog:
    """Sums the losses of each step; ``close_span`` averages them since the last call, fails on
    nan or inf, and (``write``) logs a row. Every process checks its own losses; only the process
    given a ``run_dir`` (rank 0) writes files and shows the bar."""

    def __init__(
        self,
        run_dir: Path | None,
        loss_keys: tuple[str, ...],
        *,
        start: int,
        total: int,
        per_epoch: int,
        batch_size: int,
        resumed: bool,
        quiet: bool,
    ):
        self.per_epoch, self.batch_size = per_epoch, batch_size
        self.quiet = quiet
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.csv = self.board = None
        if run_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.csv = MetricsLog(run_dir / "metrics.csv", loss_keys, start if resumed else None)
            self.board = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start or None)
        self.bar = tqdm(
            total=total,
            initial=start,
            unit="step",
            dynamic_ncols=True,
            disable=quiet or run_dir is None or not sys.stderr.isatty(),
        )
        self.watch = SlowdownWatch(torch.get_num_threads())
        self.t_start = self.t_span = time.perf_counter()
        self.span_start = start

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        """One step's losses, kept as tensors: reading them (``item``) would wait for the device."""
        for key, value in logs.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value.float()
            self.counts[key] = self.counts.get(key, 0) + 1
        self.bar.update(1)

    def close_span(self, step: int, write: bool, last_good: Path | None) -> None:
        means = {k: (self.sums[k] / self.counts[k]).item() for k in self.sums}
        bad = [k for k, v in means.items() if not math.isfinite(v)]
        if bad:
            where = f"last good checkpoint: {last_good}" if last_good else "no checkpoint yet"
            raise GanzooError(
                f"{', '.join(bad)} became nan or inf by step {step} "
                f"(logged since step {self.span_start}); {where}"
            )
        now = time.perf_counter()
        rate = (step - self.span_start) * self.batch_size / max(now - self.t_span, 1e-9)
        if write and self.csv is not None:
            self._write(step, means, rate, now)
        self.sums.clear()
        self.counts.clear()
        self.t_span, self.span_start = now, step

    def _write(self, step: int, means: dict[str, float], rate: float, now: float) -> None:
        self.csv.append(
            {
                "step": step,
                "epoch": round(step / self.per_epoch, 3),
                "images": step * self.batch_size,
                "seconds": round(now - self.t_start, 2),
                "images_per_s": round(rate, 1),
                **{k: f"{v:.5g}" for k, v in means.items()},
            }
        )
        for k, v in means.items():
            self.board.add_scalar(f"loss/{k}", v, step)
        self.board.add_scalar("speed/images_per_s", rate, step)
        slow = self.watch.observe(rate)
        if slow and not self.quiet:
            self.bar.write(f"warning: {slow}", file=sys.stderr)
        self.bar.set_postfix({"img/s": f"{rate:.0f}", **{k: f"{v:.3g}" for k, v in means.items()}})

    def close(self) -> None:
        self.bar.close()
        if self.board is not None:
            self.board.close()
