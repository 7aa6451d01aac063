"""The translator's whole training steps with and without its CPU channels-last switches.

``ganzoo_improved.networks.channels_last`` runs the pools, bilinear upsamples and the output
convolution channels-last on CPU; "without" replaces it by a plain call. Each measurement runs in
its own process, on one in-memory batch (no data loading), alternating with and without so that
a drifting machine hurts both alike.

    python benchmarks/bench_layout.py [--repeats 2] [--images 320]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

CONFIGS = [  # (size, generator width, batch)
    (32, 16, 8),
    (64, 16, 32),
    (64, 32, 32),
    (64, 64, 32),
]


def measure(switch: bool, precision: str, size: int, width: int, batch: int, images: int) -> float:
    import torch

    import ganzoo
    import ganzoo_improved.networks as networks
    from ganzoo.optim import Stepper

    if not switch:
        networks.channels_last = lambda op, x: op(x)
    torch.manual_seed(0)
    gan = ganzoo.create(
        "improved", size=size, batch_size=batch, generator_args={"width": width, "stem_skip": True}
    )
    gan.train()
    stepper = Stepper(gan.configure_optimizers(), torch.device("cpu"), precision)
    sample = {role: torch.rand(batch, 3, size, size) * 2 - 1 for role in gan.domains}
    steps = max(10, images // batch)
    for step in range(3):
        gan.train_step(sample, step, stepper)
    start = time.perf_counter()
    for step in range(steps):
        gan.train_step(sample, step, stepper)
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--images", type=int, default=320, help="timed images per measurement")
    parser.add_argument("--only", nargs=6, help=argparse.SUPPRESS)  # one measurement (internal)
    args = parser.parse_args()
    if args.only:
        switch, precision, *numbers = args.only
        print(measure(switch == "with", precision, *map(int, numbers)))
        return

    def child(*words) -> float:
        command = [sys.executable, __file__, "--only", *map(str, words)]
        out = subprocess.run(command, capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"{words} failed:\n{out.stderr[-2000:]}")
        return float(out.stdout.strip().splitlines()[-1])

    print(f"{'size, width, batch':<20} {'precision':<9} {'without (img/s)':<20} with (img/s)")
    for size, width, batch in CONFIGS:
        for precision in ("fp32", "bf16"):
            runs = {"without": [], "with": []}
            for _ in range(args.repeats):
                for switch in runs:
                    runs[switch].append(child(switch, precision, size, width, batch, args.images))
            cells = [", ".join(f"{v:.1f}" for v in runs[s]) for s in ("without", "with")]
            label = f"{size}x{size}, w{width}, b{batch}"
            print(f"{label:<20} {precision:<9} {cells[0]:<20} {cells[1]}", flush=True)


if __name__ == "__main__":
    main()
