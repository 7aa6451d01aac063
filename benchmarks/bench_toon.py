"""Rendering speed of the embedded toon dataset, in images per second, single process.

Images are rendered the way the training loop asks for them: a batch of shuffled indices at a
time through ``render_batch`` (DataLoader reaches it through ``__getitems__``). Each figure is
the best of several timed rounds, so that other work on the machine disturbs it less.

    python benchmarks/bench_toon.py [--batch 256] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from ganzoo.data.toon import toon_anime, toon_photo

SIZES = (32, 64, 128)


def images_per_second(dataset, batch: int, rounds: int, seconds: float) -> float:
    rng = np.random.default_rng(0)
    dataset.render_batch(rng.integers(0, len(dataset), batch))  # warm up
    best = 0.0
    for _ in range(rounds):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            dataset.render_batch(rng.integers(0, len(dataset), batch))
            count += batch
        best = max(best, count / (time.perf_counter() - start))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one round")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"toon rendering, batch {args.batch}, {args.threads} thread(s), best of {args.rounds}")
    print(f"{'dataset':<12} {'size':>8} {'images/s':>10}")
    for size in SIZES:
        for name, builder in (("toon/anime", toon_anime), ("toon/photo", toon_photo)):
            rate = images_per_second(
                builder(size=(size, size)), args.batch, args.rounds, args.seconds
            )
            print(f"{name:<12} {f'{size}x{size}':>8} {rate:>10.0f}")


if __name__ == "__main__":
    main()
