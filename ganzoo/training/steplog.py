"""The step log of a training run: losses averaged between log points, checked for nan and inf,
and written as rows of ``metrics.csv``, TensorBoard scalars and the progress bar's figures.

When stderr is no terminal (nohup, CI, a pipe) there is no bar, whose redraws would fill a log
file; a plain progress line is printed instead, at each tenth of the run and at least every
``PROGRESS_SECONDS``, so that a long run is never silent between its first and last line."""

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
from ganzoo.training.threads import SlowdownWatch

PROGRESS_SECONDS = 30.0  # without a terminal: a progress line at least this often...
PROGRESS_PARTS = 10  # ...and at each tenth of the run


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
        shown = not quiet and run_dir is not None
        terminal = sys.stderr.isatty()
        self.bar = tqdm(
            total=total,
            initial=start,
            unit="step",
            dynamic_ncols=True,
            disable=not (shown and terminal),
        )
        self.lines = shown and not terminal  # progress lines instead of the bar
        self.watch = SlowdownWatch(torch.get_num_threads())
        self.t_start = self.t_span = self.t_line = time.perf_counter()
        self.start = self.step = self.span_start = self.line_step = start
        self.total = total

    def add(self, logs: dict[str, torch.Tensor]) -> None:
        """One step's losses, kept as tensors: reading them (``item``) would wait for the device."""
        for key, value in logs.items():
            self.sums[key] = self.sums[key] + value if key in self.sums else value.float()
            self.counts[key] = self.counts.get(key, 0) + 1
        self.bar.update(1)
        self.step += 1
        if self.lines and self._line_due():
            self._progress_line()

    def _line_due(self) -> bool:
        if time.perf_counter() - self.t_line >= PROGRESS_SECONDS:
            return True
        part = self.step * PROGRESS_PARTS // self.total
        return part > self.line_step * PROGRESS_PARTS // self.total

    def _progress_line(self) -> None:
        """One line: step, images/s since the last line, the losses since the last log point
        (reading them waits for the device, at most this often) and the time left."""
        now = time.perf_counter()
        rate = (self.step - self.line_step) * self.batch_size / max(now - self.t_line, 1e-9)
        left = (self.total - self.step) * (now - self.t_start) / (self.step - self.start)
        losses = " ".join(f"{k} {(self.sums[k] / self.counts[k]).item():.4g}" for k in self.sums)
        print(
            f"step {self.step}/{self.total} ({100 * self.step // self.total}%), "
            f"{rate:.1f} img/s, {losses}, ETA {_duration(left)}",
            file=sys.stderr,
            flush=True,
        )
        self.t_line, self.line_step = now, self.step

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


def _duration(seconds: float) -> str:
    """H:MM:SS."""
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
