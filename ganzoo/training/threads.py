"""How many CPU threads torch trains with, and a warning when the CPU is taken away.

Two facts fix the design. On a small machine torch's OpenMP threads spin while they wait for each
other: when another process holds a core, every parallel region waits for a thread that is not
running (measured on 2 cores: one busy process made the translator's steps 3.4x slower with 2
threads, while 1 thread ran as fast as 2 on an idle machine). And the thread count changes the
floating-point summation order, so 1 and 2 threads train different weights from the same seed
(after 6 DCGAN steps, 22 of its 36 tensors differed).

``--threads auto`` (the default) therefore depends on the machine only, never on the moment: half
the cores this process may use (its CPU affinity and cgroup quota), shared among the processes
torchrun starts on this machine, capped by ``OMP_NUM_THREADS`` when set, at least one. Half leaves
room for another job, a browser or the data loader, so that a thread rarely waits for a core; on
the 2-core machines the zoo trains on it is the one thread that runs as fast as two. An earlier
design counted the cores other processes kept busy in the 0.3 s before a run, which kept the
speed under contention but made a seed's weights depend on what else ran at that moment. The
model does not enter: it is fixed by the command, but no measurement here ties a count to a model.

The count is chosen once, when a run starts, and recorded in its config.json: a resumed run must
repeat the original's arithmetic bit for bit. When other processes keep the cores busy at the
start, or the CPU is taken away later, one line says so; neither changes the count.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

from ganzoo.errors import GanzooError

SAMPLE_SECONDS = 0.3  # how long /proc/stat is watched to see what else runs
SLOWDOWN = 2.0  # logged rates this many times below the best one so far get a warning...
SLOW_LOGS = 3  # ...when that many in a row are (one slow interval is a checkpoint being written)


def available_cpus() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = Path("/sys/fs/cgroup/cpu.max")
    try:
        limit, period = quota.read_text().split()[:2]
        if limit != "max":
            cpus = min(cpus, max(1, int(int(limit) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def _busy_jiffies() -> tuple[int, int]:
    """(all cores' busy time, this process's own CPU time), in clock ticks."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(v) for v in fields]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    busy = sum(values[:8]) - idle  # guest time is already inside user time
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return busy, int(own[11]) + int(own[12])  # utime + stime


def busy_elsewhere(seconds: float = SAMPLE_SECONDS) -> float | None:
    """How many cores other processes keep busy, watched for ``seconds``; None off Linux."""
    try:
        busy0, own0 = _busy_jiffies()
        start = time.monotonic()
        time.sleep(seconds)
        busy1, own1 = _busy_jiffies()
    except (OSError, ValueError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK") * (time.monotonic() - start)
    return max(0.0, ((busy1 - busy0) - (own1 - own0)) / ticks)


def parse_threads(value: str | int | None) -> int | None:
    """``--threads``: a positive count, or ``auto`` (None)."""
    if value is None or str(value).strip().lower() == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        raise GanzooError(f"--threads {value!r} is not a number or auto") from None
    if count < 1:
        raise GanzooError(f"--threads must be at least 1 or auto, got {count}")
    return count


def auto_threads() -> int:
    """What ``--threads auto`` resolves to: half the cores this process may use, shared among
    torchrun's processes on this machine, capped by ``OMP_NUM_THREADS``; at least one."""
    local_processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)
    threads = available_cpus() // 2 // max(1, local_processes)
    limit = os.environ.get("OMP_NUM_THREADS", "")
    if limit.isdigit() and int(limit) > 0:  # the user's own cap stays a cap
        threads = min(threads, int(limit))
    return max(1, threads)


def choose_threads(requested: int | None) -> tuple[int, str | None]:
    """(threads, a line to show or None): ``requested`` as given, else ``auto_threads``. The
    line says when other processes leave fewer free cores than that; the count stays."""
    if requested is not None:
        return requested, None
    threads, cpus = auto_threads(), available_cpus()
    busy = busy_elsewhere() if cpus > 1 else None
    # a core counts as taken when other processes keep it busy more than half the time
    if busy is None or cpus - math.floor(busy + 0.5) >= threads:
        return threads, None
    return threads, (
        f"other processes keep {busy:.1f} of {cpus} cores busy: training may be slow (auto keeps "
        f"{threads} torch thread{'s' if threads > 1 else ''} whatever the load, so that a seed "
        "gives the same weights; --threads N to choose)"
    )


class SlowdownWatch:
    """Says once, in one line, when training runs far slower than it did earlier in the run."""

    def __init__(self, threads: int):
        self.threads = threads
        self.best = 0.0
        self.slow = 0
        self.warned = False

    def observe(self, rate: float) -> str | None:
        """The warning line, the first time ``SLOW_LOGS`` logged rates in a row are slow."""
        self.best = max(self.best, rate)
        self.slow = self.slow + 1 if 0 < rate * SLOWDOWN <= self.best else 0
        if self.warned or self.slow < SLOW_LOGS:
            return None
        self.warned = True
        busy = busy_elsewhere(0.1)
        cause = (
            f"other processes keep {busy:.1f} of {available_cpus()} cores busy"
            if busy is not None
            else "something else is using the CPU"
        )
        advice = (
            "stop it (Ctrl-C) and continue with --resume RUN --threads 1"
            if self.threads > 1
            else "close other heavy programs, or run one training at a time"
        )
        return (
            f"training slowed to {rate:.1f} img/s from {self.best:.1f}: {cause}; with "
            f"{self.threads} torch thread{'s' if self.threads > 1 else ''} {advice}"
        )
