"""Training throughput of `ganzoo run` beside a plain PyTorch loop, with FLOPs and peak memory.

For dcgan at 64x64, batch 64, the engine is compared with the loop of the PyTorch DCGAN example
(pytorch/examples, dcgan/main.py) driving the same networks on the same data: the difference is
the engine's overhead. wgan and improved are reported too. FLOPs per image come from
torch.utils.flop_counter over one whole training step (forward and backward of every network);
the machine's peak is measured as a large fp32/bf16 matmul. Every configuration runs in its own
process so that its peak memory (resident set on CPU, max allocated on CUDA) is its own.

    python benchmarks/bench_train.py [--steps 30] [--warmup 5] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The translator at the zoo's 64x64: batch 8 as the recipe searches train it, batch 32 for
# comparison; width 32 (generator and discriminator) gives the searches' quality per FLOP at
# more FLOP/s than width 16, so it is the best per CPU-hour (docs/search/README.md).
W32 = {"generator_args": {"width": 32, "stem_skip": True}, "discriminator_args": {"width": 32}}
IMPROVED_64 = {
    f"64x64 w{width} b{batch}": {"size": 64, "batch_size": batch, **extra}
    for batch in (8, 32)
    for width, extra in ((16, {}), (32, W32))
}

CONFIGS = [
    # (name, model, precision, runner, recipe overrides)
    ("dcgan plain loop fp32", "dcgan", "fp32", "plain", {}),
    ("dcgan ganzoo fp32", "dcgan", "fp32", "engine", {}),
    ("dcgan plain loop bf16", "dcgan", "bf16", "plain", {}),
    ("dcgan ganzoo bf16", "dcgan", "bf16", "engine", {}),
    ("wgan ganzoo fp32", "wgan", "fp32", "engine", {}),
    ("wgan ganzoo bf16", "wgan", "bf16", "engine", {}),
    ("improved ganzoo fp32 (default recipe)", "improved", "fp32", "engine", {}),
    ("improved ganzoo bf16 (default recipe)", "improved", "bf16", "engine", {}),
    *[
        (f"improved {name} {precision}", "improved", precision, "engine", overrides)
        for name, overrides in IMPROVED_64.items()
        for precision in ("fp32", "bf16")
    ],
]


def peak_memory_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class GlobalOnly:
    """Stands in for FlopCounterMode's module tracker: no hooks, one parent."""

    parents = frozenset({"Global"})

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return None


def flops_per_image(model, batch, device, stepper) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # The counter's per-module tracker hooks backward passes, which breaks the double backward of
    # a gradient penalty (torch.autograd.grad with create_graph); only the total is needed here,
    # so every count goes to "Global".
    counter.mod_tracker = GlobalOnly()
    # a whole cycle of n_critic steps (n_critic critic updates, one generator update), so that
    # the figure is the average cost of an image seen, as images/s counts them
    cycle = int(model.recipe["n_critic"])
    with counter:
        for step in range(cycle):
            model.train_step(batch, step, stepper)
    return counter.get_total_flops() / (cycle * batch["target"].shape[0])


def measure(model_name, precision, runner, overrides, steps, warmup, device_name) -> dict:
    import torch

    import ganzoo
    from ganzoo.devices import resolve_device
    from ganzoo.optim import Stepper

    torch.manual_seed(0)
    device = resolve_device(device_name)
    base = {"size": 64} if model_name != "improved" else {}
    if model_name == "dcgan":
        base["batch_size"] = 64
    overrides = {**base, **overrides}
    gan = ganzoo.create(model_name, **overrides).to(device)
    batch_size = int(gan.recipe["batch_size"])
    size = tuple(gan.image_size)
    sample = {role: torch.rand(batch_size, 3, *size, device=device) * 2 - 1 for role in gan.domains}
    flops = flops_per_image(
        gan, sample, device, Stepper(gan.configure_optimizers(), device, "fp32")
    )

    if runner == "engine":
        from ganzoo.training.train import TrainOptions, train

        with tempfile.TemporaryDirectory() as tmp:
            total = warmup + steps
            options = TrainOptions(
                model=model_name,
                data="toon",
                out=str(Path(tmp) / "run"),
                device=device_name,
                precision=precision,
                quiet=True,
                overrides={
                    **overrides,
                    "steps": total,
                    "log_every": warmup if warmup else steps,
                    "sample_every": 10**9,
                    "checkpoint_every": 10**9,
                },
            )
            run_dir = train(options)
            import csv

            rows = {int(r["step"]): r for r in csv.DictReader((run_dir / "metrics.csv").open())}
            seconds = float(rows[total]["seconds"]) - float(rows[warmup]["seconds"])
    else:
        seconds = plain_dcgan_loop(gan, precision, device, batch_size, steps, warmup)
    return {
        "images_per_s": steps * batch_size / seconds,
        "flops_per_image": flops,
        "peak_memory_mb": peak_memory_mb(device),
        "batch_size": batch_size,
        "size": f"{size[1]}x{size[0]}",
        "device": str(device),
        "threads": torch.get_num_threads(),
    }


def plain_dcgan_loop(gan, precision, device, batch_size, steps, warmup) -> float:
    """The PyTorch DCGAN example's loop, on the same networks and the same toon images."""
    import contextlib

    import torch
    from torch import nn, optim
    from torch.utils.data import DataLoader

    from ganzoo.data import open_dataset

    net_g, net_d = gan.generator, gan.discriminator
    criterion = nn.BCEWithLogitsLoss()  # the example's BCELoss after a sigmoid, fused
    opt_d = optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = open_dataset("toon", size=tuple(gan.image_size))
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, drop_last=True)
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if precision == "bf16"
        else contextlib.nullcontext()
    )
    it = iter(loader)
    start = None
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        real = next(it).to(device).float().div_(127.5).sub_(1)
        b = real.shape[0]
        net_d.zero_grad()
        with autocast:
            out = net_d(real).view(-1)
            err_real = criterion(out.float(), torch.ones(b, device=device))
        err_real.backward()
        noise = torch.randn(b, net_g.latent_dim, device=device)
        with autocast:
            fake = net_g(noise)
            out = net_d(fake.detach()).view(-1)
            err_fake = criterion(out.float(), torch.zeros(b, device=device))
        err_fake.backward()
        opt_d.step()
        net_g.zero_grad()
        with autocast:
            out = net_d(fake).view(-1)
            err_g = criterion(out.float(), torch.ones(b, device=device))
        err_g.backward()
        opt_g.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def matmul_peak(device_name: str) -> dict:
    import torch

    from ganzoo.devices import resolve_device

    device = resolve_device(device_name)
    result = {}
    for dtype in (torch.float32, torch.bfloat16):
        n = 2048
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        for _ in range(2):
            a @ b
        reps = 5 if device.type == "cpu" else 50
        best = 0.0
        for _ in range(5):  # the best of five: a peak, not an average over the machine's hiccups
            start = time.perf_counter()
            for _ in range(reps):
                a @ b
            if device.type == "cuda":
                torch.cuda.synchronize()
            best = max(best, 2 * n**3 * reps / (time.perf_counter() - start))
        result[str(dtype).removeprefix("torch.")] = best
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", help="run one configuration (internal)")
    parser.add_argument("--match", default="", help="only configurations whose name has this")
    args = parser.parse_args()

    if args.only == "peak":
        print(json.dumps(matmul_peak(args.device)))
        return
    if args.only is not None:
        name, model, precision, runner, overrides = CONFIGS[int(args.only)]
        print(
            json.dumps(
                measure(model, precision, runner, overrides, args.steps, args.warmup, args.device)
            )
        )
        return

    def child(which: str) -> dict:
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--only",
                which,
                "--steps",
                str(args.steps),
                "--warmup",
                str(args.warmup),
                "--device",
                args.device,
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            raise SystemExit(f"{which} failed:\n{out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    peak = child("peak")
    print(
        f"machine: matmul peak fp32 {peak['float32'] / 1e9:.1f} GFLOP/s, "
        f"bf16 {peak['bfloat16'] / 1e9:.1f} GFLOP/s"
    )
    print(
        f"{'configuration':<40} {'img/s':>8} {'GFLOP/img':>10} {'% fp32 pk':>9} "
        f"{'% bf16 pk':>9} {'peak MB':>8}"
    )
    results = {}
    for index, (name, *_) in enumerate(CONFIGS):
        if args.match not in name:
            continue
        r = child(str(index))
        results[name] = r
        achieved = r["images_per_s"] * r["flops_per_image"]
        print(
            f"{name:<40} {r['images_per_s']:>8.1f} {r['flops_per_image'] / 1e9:>10.3f} "
            f"{100 * achieved / peak['float32']:>8.1f}% {100 * achieved / peak['bfloat16']:>8.1f}% "
            f"{r['peak_memory_mb']:>8.0f}   ({r['size']}, batch {r['batch_size']}, "
            f"{r['threads']} threads, {r['device']})",
            flush=True,
        )
    for precision in ("fp32", "bf16"):
        if f"dcgan ganzoo {precision}" not in results:
            continue
        plain = results[f"dcgan plain loop {precision}"]["images_per_s"]
        engine = results[f"dcgan ganzoo {precision}"]["images_per_s"]
        print(
            f"dcgan {precision}: ganzoo overhead vs the plain loop: "
            f"{100 * (plain - engine) / plain:+.1f}% (negative: ganzoo is faster)"
        )


if __name__ == "__main__":
    main()
