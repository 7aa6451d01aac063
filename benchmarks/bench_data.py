"""Data loading speed beside what a training step consumes.

    GANZOO_DATA=../shared/data python benchmarks/bench_data.py [--dataset anime] [--size 64]
        [--batches 200] [--steps 10] [--workers 0] [--cache DIR]

For a real dataset found through GANZOO_DATA (default: ../shared/data beside the repository):

1. cold open: ``open_dataset`` with an empty decode cache (a fresh temporary GANZOO_CACHE unless
   --cache is given): hash the archive, list it, decode every image, write the cache;
2. warm open: the same call again (hash and cache hit; nothing is decoded);
3. loader: images/s of uint8 batches through ``DataLoader(batch_size=64, shuffle=True)`` from
   the cache (the engine converts them to floats on the device, as part of its step);
4. training step: images/s that one DCGAN 64x64 batch-64 fp32 training step consumes on the CPU.

The loader should deliver at least 10x what the step consumes, so that data is never the
bottleneck. Timings are wall-clock and the load average is printed: on a busy machine, torch's
threads wait for each other and every figure drops; run it twice.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def loader_rate(ds, batches: int, workers: int) -> float:
    from torch.utils.data import DataLoader

    loader = DataLoader(ds, batch_size=64, shuffle=True, drop_last=True, num_workers=workers)
    images, start, it = 0, None, iter(loader)
    for i in range(batches + 2):
        try:
            batch = next(it)
        except StopIteration:  # smaller datasets: start another epoch
            it = iter(loader)
            batch = next(it)
        if i == 1:  # the first batches include starting workers
            start = time.perf_counter()
        elif i > 1:
            images += len(batch)
    return images / (time.perf_counter() - start)


def step_rate(steps: int, warmup: int = 2) -> float:
    import torch

    import ganzoo
    from ganzoo.optim import Stepper

    for _attempt in range(10):
        try:
            model = ganzoo.create("dcgan", size=64)
            break
        except ganzoo.GanzooError as exc:  # the networks may still be being written
            print(f"dcgan not ready ({exc}); retrying in 60 s", file=sys.stderr)
            time.sleep(60)
    else:
        raise SystemExit("dcgan could not be created")
    model.train()
    stepper = Stepper(model.configure_optimizers(), torch.device("cpu"), "fp32")
    x = torch.rand(64, 3, 64, 64) * 2 - 1
    for step in range(warmup):
        model.train_step({"target": x}, step, stepper)
        stepper.update()
    start = time.perf_counter()
    for step in range(warmup, warmup + steps):
        model.train_step({"target": x}, step, stepper)
        stepper.update()
    return steps * 64 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="anime")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batches", type=int, default=200, help="loader batches to time")
    parser.add_argument("--steps", type=int, default=10, help="training steps to time")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    parser.add_argument("--cache", help="decode cache folder (default: a fresh temporary one)")
    args = parser.parse_args()

    os.environ.setdefault("GANZOO_DATA", str(REPO.parent / "shared" / "data"))
    temporary = None
    if args.cache:
        os.environ["GANZOO_CACHE"] = args.cache
    else:
        temporary = tempfile.TemporaryDirectory(prefix="ganzoo-bench-cache-")
        os.environ["GANZOO_CACHE"] = temporary.name

    import torch

    from ganzoo.data import open_dataset

    size = (args.size, args.size)
    start = time.perf_counter()
    ds = open_dataset(args.dataset, size)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    ds = open_dataset(args.dataset, size)
    warm = time.perf_counter() - start
    loader = loader_rate(ds, args.batches, args.workers)
    step = step_rate(args.steps)

    print(f"{args.dataset} {args.size}x{args.size}: {len(ds)} images, cache {ds.path}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"  torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(f"  cold open (decode + write cache): {cold:8.2f} s  ({len(ds) / cold:,.0f} images/s)")
    print(f"  warm open (cache hit):            {warm:8.2f} s")
    print(f"  loader, batch 64, {args.workers} workers:    {loader:10,.0f} images/s")
    print(f"  dcgan 64x64 training step (cpu):  {step:10,.0f} images/s")
    print(f"  loader / step:                    {loader / step:10,.0f}x  (target >= 10x)")
    if temporary:
        del ds
        temporary.cleanup()


if __name__ == "__main__":
    main()
