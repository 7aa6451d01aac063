"""Training throughput while other processes compete for the CPU.

Starts 0, 1 and 2 busy processes (plain Python loops, as a browser tab or a second job would
be), runs ``ganzoo run`` under each with ``--threads auto`` and with every core (torch's own
default, what ganzoo did before), stops them, and prints images per second and the ratio to the
idle figure of the same setting. Run it on an otherwise idle machine.

    python benchmarks/bench_contention.py [--model improved] [--data toon] [--steps 160]
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ganzoo.training.threads import available_cpus

SPIN = "while True: pass"


def run_rate(args, threads: str, out: Path) -> float:
    """Median img/s of the logged intervals after the first (warm-up) one."""
    command = [
        sys.executable, "-m", "ganzoo.cli", "run", args.model, "--data", args.data,
        "--steps", str(args.steps), "--threads", threads, "--out", str(out), "--quiet",
        "--set", f"log_every={args.steps // 8}", "--set", f"checkpoint_every={args.steps}",
        "--set", f"sample_every={args.steps}", *args.extra,
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    return statistics.median(float(r["images_per_s"]) for r in rows[1:-1])


def busy_processes(count: int) -> list[subprocess.Popen]:
    procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(count)]
    time.sleep(1.0)  # running, so that auto can see them
    return procs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="improved")
    parser.add_argument("--data", default="toon")
    parser.add_argument("--steps", type=int, default=160)
    parser.add_argument("--busy", default="0,1,2", help="numbers of busy processes")
    parser.add_argument("extra", nargs="*", help="more `ganzoo run` options, after --")
    args = parser.parse_args()
    cpus = available_cpus()
    env_threads = os.environ.get("OMP_NUM_THREADS")
    if env_threads:
        print(f"note: OMP_NUM_THREADS={env_threads} is set; unset it to measure auto")
    settings = {"auto": "auto", f"{cpus} (all cores)": str(cpus)}
    print(f"{args.model} on {args.data}, {args.steps} steps per run, {cpus} cores")
    print(f"{'busy processes':>14}  {'threads':<16} {'img/s':>7}  {'of idle':>7}")
    idle: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for busy in (int(b) for b in args.busy.split(",")):
            for label, threads in settings.items():
                procs = busy_processes(busy)
                try:
                    out = Path(scratch) / f"run-{busy}-{threads}"
                    rate = run_rate(args, threads, out)
                finally:
                    for proc in procs:
                        proc.kill()
                        proc.wait()
                idle.setdefault(label, rate)
                share = rate / idle[label]
                print(f"{busy:>14}  {label:<16} {rate:>7.1f}  {share:>7.0%}", flush=True)


if __name__ == "__main__":
    main()
