"""The training engine: one loop for every model, driven only through the ``GAN`` interface.

A run directory holds ``config.json`` (model config, resolved recipe, run settings, versions),
``checkpoints/step-N.safetensors`` (written atomically; the newest ``keep_checkpoints`` kept),
``samples/step-N.png`` (enlarged to be readable, ``ganzoo.plots``), ``metrics.csv``, TensorBoard
events, ``losses.png`` and ``export/``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import random
import shlex
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm import tqdm

from ganzoo import __version__
from ganzoo.batches import StepBatches
from ganzoo.checkpoints import (
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    save_checkpoint,
)
from ganzoo.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.models import GAN, build, make_config
from ganzoo.optim import Stepper
from ganzoo.plots import plot_losses, save_readable_grid
from ganzoo.rundirs import (
    RunLock,
    check_new_run_dir,
    check_resume,
    claim_existing,
    claim_new,
    default_run_dir,
    read_run_config,
)
from ganzoo.threads import SlowdownWatch, choose_threads
from ganzoo.validate import check_memory, check_recipe, check_seed

PREVIEW_COUNT = {1: 64, 3: 8}  # images for unconditional grids, triples for translators


@dataclass
class TrainOptions:
    model: str
    data: str
    source: str | None = None
    data_root: str | None = None
    recipe: str = "default"
    overrides: dict[str, Any] = field(default_factory=dict)
    out: str | None = None
    resume: str | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    compile: bool = False
    quiet: bool = False
    threads: int | None = None  # CPU threads; None: auto (see ganzoo.threads)


# ---------------------------------------------------------------------------------------------
# processes


@dataclass
class Processes:
    """Where this process stands under torchrun (rank 0 of 1 otherwise)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Processes:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        return cls(int(os.environ["RANK"]), world_size, int(os.environ.get("LOCAL_RANK", "0")))

    def device(self, requested: str) -> torch.device:
        device = resolve_device(requested)
        if self.world_size > 1 and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def start(self, device: torch.device) -> None:
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    def stop(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# run directory


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _new_run_dir(options: TrainOptions) -> Path:
    """--out as given (checked now, claimed when the first file is written), or a default name."""
    check_new_run_dir(options.out)
    return Path(options.out) if options.out else default_run_dir(options.model, options.data)


def _versions(config: dict[str, Any]) -> dict[str, str]:
    return {
        "ganzoo": __version__,
        config["distribution"]: config["plugin_version"],
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _load_resume_config(options: TrainOptions) -> tuple[Path, dict[str, Any]]:
    run_dir = Path(options.resume)
    config = read_run_config(run_dir)
    check_resume(run_dir, config, options.model, options.data, options.source, options.overrides)
    for key in ("steps", "epochs"):
        if key in options.overrides:
            config["recipe"][key] = options.overrides[key]
    check_recipe(config["recipe"])
    return run_dir, config


def _load_state(model: GAN, stepper: Stepper, state: dict[str, Any], path: Path) -> None:
    """A checkpoint into the run's model, or one line when it is another model's."""
    expected, found = set(model.state_dict()), set(state["model"])
    try:
        if expected != found:
            raise ValueError(
                f"{len(expected - found)} missing and {len(found - expected)} unexpected tensors"
            )
        model.load_state_dict(state["model"])
        stepper.load_state_dict(state["optimizers"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise GanzooError(
            f"checkpoint {path} does not fit the {model.config['model']} model its run's "
            f"config.json describes ({str(exc).strip().splitlines()[-1]})"
        ) from None


# ---------------------------------------------------------------------------------------------
# state


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_device(batch: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 images to [-1, 1] floats on the device; the conversion runs there, after the copy
    of four times fewer bytes."""
    images = batch.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


class MetricsLog:
    """metrics.csv: one row per logged step, columns fixed by the model's ``log_keys``."""

    def __init__(self, path: Path, loss_keys: tuple[str, ...], resume_step: int | None):
        self.path = path
        self.columns = ["step", "epoch", "images", "seconds", "images_per_s", *loss_keys]
        if resume_step is not None and path.exists():
            # rows after the checkpoint we resume from will be logged again
            with path.open() as handle:
                rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= resume_step]
        else:
            rows = []
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, self.columns)
            writer.writeheader()
            writer.writerows(rows)

    def append(self, row: dict[str, Any]) -> None:
        with self.path.open("a", newline="") as handle:
            csv.DictWriter(handle, self.columns, extrasaction="ignore").writerow(row)


@contextmanager
def _stop_on_signals():
    """Ctrl-C or SIGTERM asks the loop to stop after the current step, so the checkpoint it then
    writes is consistent; a second Ctrl-C stops at once."""
    requested = {"stop": None}

    def handler(signum, frame):
        if requested["stop"] is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        requested["stop"] = signal.Signals(signum).name

    try:
        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        previous = {}
    try:
        yield requested
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


# ---------------------------------------------------------------------------------------------
# the loop


def train(options: TrainOptions) -> Path:
    procs = Processes.from_env()
    device = procs.device(options.device)
    procs.start(device)
    claims: list[RunLock] = []  # the run directory's lock, held until training ends
    try:
        return _train(options, procs, device, claims)
    finally:
        for claim in claims:
            claim.release()
        procs.stop()


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()}, {os.cpu_count()} cores"


def _set_threads(options: TrainOptions, run_info: dict[str, Any], quiet: bool) -> int:
    """Sets torch's CPU threads: ``--threads``, else what the resumed run used (the same
    summation order, so resume stays bit-identical), else the cores free now."""
    requested = options.threads or (run_info.get("threads") if options.resume else None)
    threads, note = choose_threads(requested)
    if note and not quiet:
        print(f"note: {note}", file=sys.stderr)
    torch.set_num_threads(threads)
    return threads


def _train(
    options: TrainOptions, procs: Processes, device: torch.device, claims: list[RunLock]
) -> Path:
    from ganzoo.data import open_domains

    if options.resume:
        run_dir, config = _load_resume_config(options)
        run_info = config["run"]
    else:
        check_seed(options.seed)
        config = make_config(options.model, options.recipe, options.overrides)
        run_dir = _new_run_dir(options)
        run_info = {
            "data": options.data,
            "source": options.source,
            "data_root": options.data_root,
            "seed": options.seed,
            "precision": options.precision,
            "world_size": procs.world_size,
            "versions": _versions(config),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            # how it was trained, for the card of a zoo entry made from this run
            "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            "device": f"{device} ({_device_name(device)})",
        }
    recipe = config["recipe"]
    if device.type == "cpu":
        run_info["threads"] = _set_threads(options, run_info, quiet=options.quiet)
    seed = int(run_info["seed"])
    precision = options.precision if not options.resume else run_info["precision"]

    batch_size = int(recipe["batch_size"])
    if batch_size % procs.world_size:
        raise GanzooError(
            f"batch size {batch_size} (global) does not split over {procs.world_size} processes"
        )
    local_batch = batch_size // procs.world_size
    height, width = config["image_size"]
    check_memory(
        f"a batch of {local_batch} images at {width}x{height}",
        local_batch,
        (int(config["channels"]), height, width),
        device,
        "use a smaller --batch-size or --size",
    )

    torch.manual_seed(seed)
    random.seed(seed)
    model: GAN = build(config).to(device)
    model.train()
    channels_last = device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)

    datasets = open_domains(
        run_info["data"],
        model.domains,
        tuple(config["image_size"]),
        source=run_info.get("source"),
        root=run_info.get("data_root"),
    )
    target = datasets["target"]
    if len(target) and target[0].shape[0] != model.channels:
        raise GanzooError(
            f"recipe field channels={model.channels} is not allowed: the images of "
            f"{run_info['data']} have {target[0].shape[0]} channels"
        )
    per_epoch = len(target) // procs.world_size // local_batch
    if per_epoch == 0:
        raise GanzooError(f"{run_info['data']} has {len(target)} images, fewer than one batch")
    total = int(recipe["epochs"]) * per_epoch if recipe.get("epochs") else int(recipe["steps"])

    stepper = Stepper(model.configure_optimizers(), device, precision)
    start = 0
    checkpoints = list_checkpoints(run_dir) if options.resume else []
    if options.resume:
        if not checkpoints:
            raise GanzooError(f"{run_dir} has no checkpoint to resume from")
        start, state = load_checkpoint(checkpoints[-1][1])
        _load_state(model, stepper, state, checkpoints[-1][1])
        _set_rng_state(state["rng"])
        if start >= total:
            raise GanzooError(
                f"{run_dir} is already at step {start} of {total}; pass --steps N to go further"
            )
    if options.compile:
        for module in model.children():
            module.compile()

    loaders = {
        role: iter(
            DataLoader(
                ds,
                batch_sampler=StepBatches(
                    len(ds), local_batch, seed + 1000 * i, start, procs.rank, procs.world_size
                ),
                num_workers=int(recipe["num_workers"]),
                pin_memory=device.type == "cuda",
                # its own generator: the default one draws from the global RNG when the
                # iterator starts, which a resumed run would replay at a different point
                generator=torch.Generator().manual_seed(seed),
            )
        )
        for i, (role, ds) in enumerate(sorted(datasets.items()))
    }
    preview_count = PREVIEW_COUNT.get(model.preview_group, 16)
    preview_batch = {
        role: _to_device(
            torch.stack([ds[i] for i in range(min(preview_count, len(ds)))]),
            torch.device("cpu"),
            False,
        )
        for role, ds in datasets.items()
    }
    preview_inputs = model.preview_inputs(preview_batch, preview_count, seed)

    writer = None
    metrics = None
    if procs.is_main:
        # claimed only now, so that a run refused above leaves nothing behind
        claim = claim_existing(run_dir) if options.resume else claim_new(run_dir, bool(options.out))
        claims.append(claim)
        run_dir = claim.path
        for sub in ("checkpoints", "samples"):
            (run_dir / sub).mkdir(parents=True, exist_ok=True)
        config["run"] = run_info
        _write_json(run_dir / "config.json", config)
        metrics = MetricsLog(
            run_dir / "metrics.csv", model.log_keys, start if options.resume else None
        )
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=start or None)
        threads_text = f" ({torch.get_num_threads()} threads)" if device.type == "cpu" else ""
        print(
            f"training {config['model']} on {run_info['data']} at "
            f"{config['image_size'][1]}x{config['image_size'][0]}: steps {start}..{total}, "
            f"global batch {batch_size} ({procs.world_size} process(es) x {local_batch}), "
            f"{device}{threads_text}, {precision}; run directory {run_dir}",
            file=sys.stderr,
        )

    def write_samples(step: int) -> Path:
        path = run_dir / "samples" / f"step-{step}.png"
        model.eval()
        images = model.preview(preview_inputs)
        model.train()
        group = model.preview_group
        nrow = group * max(1, round(math.sqrt(images.shape[0] / group)))
        save_readable_grid(images, path, nrow)  # enlarged: 32 px faces are unreadable
        return path

    def write_checkpoint(step: int) -> Path:
        path = run_dir / "checkpoints" / f"step-{step}.safetensors"
        state = {
            "model": model.state_dict(),
            "optimizers": stepper.state_dict(),
            "rng": _rng_state(),
        }
        try:
            save_checkpoint(path, step, state)
        except OSError as exc:  # a full disk: the last complete checkpoint is still there
            then = (
                f"last good checkpoint: {last_good}; free space and continue with --resume "
                f"{run_dir}"
                if last_good
                else f"no checkpoint yet; free space, remove {run_dir} and start again"
            )
            raise GanzooError(
                f"cannot write checkpoint {path}: {exc.strerror or exc}; {then}"
            ) from None
        prune_checkpoints(run_dir, int(recipe["keep_checkpoints"]))
        return path

    last_good = checkpoints[-1][1] if checkpoints else None
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}
    bar = tqdm(
        total=total,
        initial=start,
        unit="step",
        dynamic_ncols=True,
        disable=options.quiet or not procs.is_main or not sys.stderr.isatty(),
    )
    log_every = int(recipe["log_every"])
    watch = SlowdownWatch(torch.get_num_threads())
    t_log, step_log = time.perf_counter(), start
    t_start = time.perf_counter()
    step = start
    with _stop_on_signals() as stop:
        while step < total:
            batch = {
                role: _to_device(next(it), device, channels_last) for role, it in loaders.items()
            }
            logs = model.train_step(batch, step, stepper)
            stepper.update()
            model.update_ema()
            for key, value in logs.items():
                sums[key] = sums[key] + value if key in sums else value.float()
                counts[key] = counts.get(key, 0) + 1
            step += 1
            bar.update(1)
            at_log = step % log_every == 0 or step == total
            at_checkpoint = step % int(recipe["checkpoint_every"]) == 0 or step == total
            if at_log or at_checkpoint or stop["stop"]:
                means = {k: (sums[k] / counts[k]).item() for k in sums}
                bad = [k for k, v in means.items() if not math.isfinite(v)]
                if bad:
                    where = (
                        f"last good checkpoint: {last_good}" if last_good else "no checkpoint yet"
                    )
                    raise GanzooError(
                        f"{', '.join(bad)} became nan or inf by step {step} "
                        f"(logged since step {step_log}); {where}"
                    )
                now = time.perf_counter()
                rate = (step - step_log) * batch_size / max(now - t_log, 1e-9)
                if procs.is_main and at_log:
                    row = {
                        "step": step,
                        "epoch": round(step / per_epoch, 3),
                        "images": step * batch_size,
                        "seconds": round(now - t_start, 2),
                        "images_per_s": round(rate, 1),
                        **{k: f"{v:.5g}" for k, v in means.items()},
                    }
                    metrics.append(row)
                    for k, v in means.items():
                        writer.add_scalar(f"loss/{k}", v, step)
                    writer.add_scalar("speed/images_per_s", rate, step)
                    slow = watch.observe(rate)
                    if slow and not options.quiet:
                        bar.write(f"warning: {slow}", file=sys.stderr)
                    bar.set_postfix(
                        {"img/s": f"{rate:.0f}", **{k: f"{v:.3g}" for k, v in means.items()}}
                    )
                sums.clear()
                counts.clear()
                t_log, step_log = now, step
            if procs.is_main and (step % int(recipe["sample_every"]) == 0 or step == total):
                write_samples(step)
            if procs.is_main and (at_checkpoint or stop["stop"]):
                last_good = write_checkpoint(step)
            if stop["stop"]:
                bar.close()
                if procs.is_main:
                    print(
                        f"{stop['stop']} at step {step}: checkpoint {last_good}; continue with "
                        f"`ganzoo run {config['model']} --data {run_info['data']} "
                        f"--resume {run_dir}`",
                        file=sys.stderr,
                    )
                raise KeyboardInterrupt
    bar.close()

    if procs.is_main:
        writer.close()
        plot_losses(run_dir / "metrics.csv", run_dir / "losses.png", model.log_keys)
        from ganzoo.hub import save_pretrained

        samples = sorted(
            (run_dir / "samples").glob("step-*.png"), key=lambda p: int(p.stem.split("-")[1])
        )
        save_pretrained(
            model,
            run_dir / "export",
            sample_grid=samples[-1] if samples else None,
            data=run_info["data"],
            force=True,
            step=total,
        )
    return run_dir
