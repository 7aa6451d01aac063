"""The translator's training step at the zoo's size (64x64, batch 8, width 16), profiled, and
its speed in img/s under each option the engine has: fp32, bf16 autocast, torch.compile.

All variants are built in one process and timed in turns (round robin), so that they share the
machine's state; run it with nothing else running. The profile lists the operators of one fp32
step by self CPU time.

    python benchmarks/bench_translator_step.py [--threads 1] [--steps 6] [--rounds 4]
"""

from __future__ import annotations

import argparse
import time


def build(precision: str, compile_: bool, overrides: dict):
    import torch

    import ganzoo
    from ganzoo.optim import Stepper

    torch.manual_seed(0)
    model = ganzoo.create("improved", size=64, batch_size=8, **overrides)
    stepper = Stepper(model.configure_optimizers(), torch.device("cpu"), precision)
    if compile_:
        for module in model.children():  # as `ganzoo run --compile` does
            module.compile()
    batch = {role: torch.rand(8, 3, 64, 64) * 2 - 1 for role in model.domains}
    return model, stepper, batch


def profile_step(model, stepper, batch) -> str:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.train_step(batch, 0, stepper)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=6, help="steps per turn")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled variants")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {"fp32": ("fp32", False), "bf16": ("bf16", False)}
    if not args.no_compile:
        variants.update({"fp32 compile": ("fp32", True), "bf16 compile": ("bf16", True)})
    built = {}
    for name, (precision, compile_) in variants.items():
        started = time.perf_counter()
        built[name] = build(precision, compile_, {})
        model, stepper, batch = built[name]
        for step in range(2):  # warm-up; compiles the compiled ones
            model.train_step(batch, step, stepper)
        print(f"{name}: built and warmed up in {time.perf_counter() - started:.0f} s", flush=True)
    print(profile_step(*built["fp32"]))
    seconds = dict.fromkeys(built, 0.0)
    for _ in range(args.rounds):
        for name, (model, stepper, batch) in built.items():
            started = time.perf_counter()
            for step in range(args.steps):
                model.train_step(batch, step, stepper)
            seconds[name] += time.perf_counter() - started
    images = 8 * args.steps * args.rounds
    print(f"| variant | img/s ({args.threads} thread(s)) | vs fp32 |\n|---|---|---|")
    for name, spent in seconds.items():
        print(f"| {name} | {images / spent:.1f} | {seconds['fp32'] / spent:.2f}x |")


if __name__ == "__main__":
    main()
