"""Throughput of the metrics' heavy parts: Inception features (fid, kid, is), SWD, MS-SSIM and
the toon classifier (toon-modes, toon-content, toon-fid), in images per second.

Inception uses the real weights when ``find_weights`` finds them without a download, else random
weights in the same layout (same architecture, same cost) and says so. Inputs are toon faces
rendered once; rendering is not timed.

    python benchmarks/bench_metrics.py [--device cpu] [--n 128] [--size 64] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import torch

from ganzoo.data.toon import toon_anime
from ganzoo.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.metrics import inception
from ganzoo.metrics.msssim import mean_pair_msssim
from ganzoo.metrics.swd import swd


def best_rate(work: Callable[[], object], count: int, runs: int, device: torch.device) -> float:
    """Images per second of the fastest of ``runs`` timed runs, after one warm-up run."""
    work()
    times = []
    for _ in range(runs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        work()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return count / min(times)


def inception_net(device: torch.device, scratch: str):
    try:
        path = inception.find_weights(download=False)  # a benchmark never downloads
        note = f"real weights ({path.name})"
    except GanzooError:
        path = inception.random_inception_weights(os.path.join(scratch, "random.pth"))
        note = "RANDOM weights (real ones absent; same architecture and cost)"
    net, _, _ = inception.load_inception(device, path)
    return net, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=128, help="images per timed run")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    device = resolve_device(args.device)
    faces = toon_anime(size=(args.size, args.size), length=max(2 * args.n, 1000))
    a = faces.render_batch(range(args.n))
    b = faces.render_batch(range(args.n, 2 * args.n))
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, {args.n} images of "
        f"{args.size}x{args.size} per run, best of {args.runs}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        net, note = inception_net(device, scratch)
        rate = best_rate(lambda: inception.extract(net, a, device), args.n, args.runs, device)
        rows.append(("Inception features (299x299)", rate, note))
    rate = best_rate(lambda: swd(a, b, 0, device), 2 * args.n, args.runs, device)
    rows.append(("SWD (both sets, all levels)", rate, "images of both sets per second"))
    rate = best_rate(lambda: mean_pair_msssim(a, 0, device), args.n, args.runs, device)
    rows.append(("MS-SSIM (random pairs)", rate, f"{args.n // 2} pairs"))
    from ganzoo.data.toon_classifier import ToonClassifier, load_classifier

    try:
        clf, note = load_classifier(device), "shipped weights"
    except GanzooError:
        clf = ToonClassifier().eval().to(device)
        note = "RANDOM weights (shipped ones absent; same architecture and cost)"
    rate = best_rate(lambda: clf.modes(a), args.n, args.runs, device)
    rows.append(("toon classifier (modes)", rate, note + ", resized to 64x64"))
    print(f"{'what':<32} {'images/s':>10}  note")
    for what, rate, note in rows:
        print(f"{what:<32} {rate:>10.1f}  {note}")


if __name__ == "__main__":
    main()
