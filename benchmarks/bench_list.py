"""How long `ganzoo list` takes, beside timm's model listing.

Both run as fresh processes, as a user would type them; the figure is the median wall time of
several runs. `ganzoo list` reads plugin manifests only and never imports torch.

    python benchmarks/bench_list.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "ganzoo list": [sys.executable, "-m", "ganzoo.cli", "list"],
    "ganzoo list --json": [sys.executable, "-m", "ganzoo.cli", "list", "--json"],
    "python -c 'import timm; timm.list_models()'": [
        sys.executable,
        "-c",
        "import timm; timm.list_models()",
    ],
    "python -c 'pass' (interpreter start-up)": [sys.executable, "-c", "pass"],
}


def wall_times(command: list[str], runs: int) -> list[float]:
    subprocess.run(command, check=True, capture_output=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    print(f"{'command':<48} {'median s':>9} {'min s':>7} {'max s':>7}")
    for name, command in COMMANDS.items():
        times = wall_times(command, args.runs)
        print(f"{name:<48} {statistics.median(times):>9.3f} {min(times):>7.3f} {max(times):>7.3f}")


if __name__ == "__main__":
    main()
