"""The training engine: one loop for every model, driven only through the ``GAN`` interface.

A run directory holds ``config.json`` (model config, resolved recipe, run settings, versions),
``checkpoints/step-N.safetensors`` (written atomically; the newest ``keep_checkpoints`` kept),
``samples/step-N.png`` (enlarged to be readable, ``ganzoo.io.images``) and the inputs they show
(``samples/preview-inputs.safetensors``), ``metrics.csv``, TensorBoard events, ``losses.png`` and
``export/``.

As in StyleGAN2-ADA's training loop, the work is in three parts: ``_prepare`` sets everything up
(settings, model, optimizers, data, resumed state) before anything is written; ``_loop`` only
steps, logs (``ganzoo.training.steplog``) and writes previews and checkpoints into the run
directory (``ganzoo.training.rundirs.RunDirectory``); ``train``, its caller, claims the directory
and exports the trained model. Processes under torchrun are kept identical by
``ganzoo.training.processes``.
"""

from __future__ import annotations

import os
import platform
import random
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader

from ganzoo.errors import GanzooError
from ganzoo.io.checkpoints import (
    list_checkpoints,
    load_checkpoint,
    restore_training_state,
    training_state,
)
from ganzoo.models import GAN, build, make_config
from ganzoo.optim import Stepper, lr_factor
from ganzoo.recipes import Recipe
from ganzoo.training.batches import StepBatches, random_flips
from ganzoo.training.processes import Processes
from ganzoo.training.rundirs import (
    RESUME_FREE,
    RunDirectory,
    check_new_run_dir,
    check_resume,
    default_run_dir,
    read_run_config,
)
from ganzoo.training.steplog import StepLog
from ganzoo.training.threads import choose_threads
from ganzoo.validate import check_memory, check_seed
from ganzoo.version import __version__

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
    threads: int | None = None  # CPU threads; None: auto (see ganzoo.training.threads)


@dataclass
class Session:
    """Everything the loop needs, prepared before the run directory is claimed."""

    options: TrainOptions
    procs: Processes
    device: torch.device
    run_dir: Path  # as proposed: --out, the resumed run, or a default name made unique on claim
    config: dict[str, Any]  # the model config, with the run's settings under "run"
    model: GAN
    stepper: Stepper
    loaders: dict[str, Iterator[torch.Tensor]]
    preview_inputs: torch.Tensor
    start: int
    total: int
    per_epoch: int
    batch_size: int  # global: over all processes
    resumed_from: Path | None  # the checkpoint a resumed run starts from

    @property
    def run_info(self) -> dict[str, Any]:
        return self.config["run"]


# ---------------------------------------------------------------------------------------------
# the loop and its caller


def train(options: TrainOptions) -> Path:
    """Trains as ``options`` say; returns the run directory, with the trained model exported to
    its ``export/`` folder."""
    procs = Processes.from_env()
    device = procs.device(options.device)
    procs.start(device)
    run = None
    try:
        session = _prepare(options, procs, device)
        if not procs.is_main:
            _loop(session, None)
            return session.run_dir
        # claimed only now, so that a run refused above leaves nothing behind
        keep = session.config["recipe"].keep_checkpoints
        run = RunDirectory.claim_for(session.run_dir, bool(options.resume), bool(options.out), keep)
        run.write_config(session.config)
        run.write_preview_inputs(session.preview_inputs)
        _announce(session, run.path)
        _loop(session, run)
        run.plot_losses(session.model.log_keys)
        _export(session, run)
        return run.path
    finally:
        if run is not None:
            run.release()
        procs.stop()


def _loop(s: Session, run: RunDirectory | None) -> None:
    """Steps from ``s.start`` to ``s.total``. Only rank 0 has a ``run`` to write samples and
    checkpoints into; Ctrl-C or SIGTERM stop the loop after the current step, with a checkpoint."""
    model, recipe = s.model, s.config["recipe"]
    every = {key: recipe.every(key) for key in ("log", "sample", "checkpoint")}
    log = StepLog(
        run.path if run else None,
        model.log_keys,
        start=s.start,
        total=s.total,
        per_epoch=s.per_epoch,
        batch_size=s.batch_size,
        resumed=s.resumed_from is not None,
        quiet=s.options.quiet,
    )
    last_good, step, stopping = s.resumed_from, s.start, None
    try:
        with _stop_on_signals() as stop:
            while step < s.total and not stopping:
                batch = {role: _to_device(next(it), s.device) for role, it in s.loaders.items()}
                s.procs.reseed(int(s.run_info["seed"]), step)  # each process draws its own noise
                s.stepper.scale_lr(lr_factor(step, s.total, recipe.lr_decay_steps))
                logs = model.train_step(batch, step, s.stepper)
                s.stepper.update()
                model.update_ema()
                s.procs.share_buffers(model)
                step += 1
                log.add(logs)
                stopping = stop["stop"]  # read once: a signal from now on counts at the next step
                due = {key: step % n == 0 or step == s.total for key, n in every.items()}
                if due["log"] or due["checkpoint"] or stopping:
                    log.close_span(step, write=due["log"], last_good=last_good)
                if run and due["sample"]:
                    run.write_samples(step, _preview(model, s.preview_inputs), model.preview_group)
                if due["checkpoint"]:
                    s.procs.check_in_sync(model)
                if run and (due["checkpoint"] or stopping):
                    state = training_state(model, s.stepper)
                    last_good = run.write_checkpoint(step, state, last_good)
    finally:
        log.close()
    if stopping:
        if run:
            print(
                f"{stopping} at step {step}: checkpoint {last_good}; continue with "
                f"`ganzoo run {s.config['model']} --data {s.run_info['data']} "
                f"--resume {run.path}`",
                file=sys.stderr,
            )
        raise KeyboardInterrupt


def _preview(model: GAN, inputs: torch.Tensor) -> torch.Tensor:
    model.eval()
    images = model.preview(inputs)
    model.train()
    return images


def _to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 images to [-1, 1] floats on the device; the conversion runs there, after the copy
    of four times fewer bytes. CUDA convolutions are fastest channels-last."""
    images = batch.to(device, non_blocking=True).float().div_(127.5).sub_(1.0)
    if device.type == "cuda":
        images = images.contiguous(memory_format=torch.channels_last)
    return images


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


def _announce(s: Session, run_dir: Path) -> None:
    height, width = s.config["image_size"]
    threads = f" ({torch.get_num_threads()} threads)" if s.device.type == "cpu" else ""
    world = s.procs.world_size
    print(
        f"training {s.config['model']} on {s.run_info['data']} at {width}x{height}: steps "
        f"{s.start}..{s.total}, global batch {s.batch_size} ({world} process(es) x "
        f"{s.batch_size // world}), {s.device}{threads}, {s.run_info['precision']}; run "
        f"directory {run_dir}",
        file=sys.stderr,
    )


def _export(s: Session, run: RunDirectory) -> None:
    """The trained model as a Hub-ready folder, ``export/``, with the last preview as its
    picture."""
    from ganzoo.hub.export import save_pretrained

    save_pretrained(
        s.model,
        run.path / "export",
        sample_grid=run.latest_samples(),
        data=s.run_info["data"],
        force=True,
        step=s.total,
    )


# ---------------------------------------------------------------------------------------------
# preparing a session


def _prepare(options: TrainOptions, procs: Processes, device: torch.device) -> Session:
    """Settings, model, optimizers, data and resumed state; fails before anything is written."""
    run_dir, config, run_info = _settings(options, procs, device)
    if device.type == "cpu":
        run_info["threads"] = _set_threads(options, run_info, quiet=options.quiet)
    seed = int(run_info["seed"])
    batch_size = config["recipe"].batch_size
    local_batch = _local_batch(config, batch_size, procs, device)

    torch.manual_seed(seed)
    random.seed(seed)
    model: GAN = build(config).to(device)
    model.train()
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    datasets = _open_data(config, run_info, model)
    per_epoch = len(datasets["target"]) // procs.world_size // local_batch
    if per_epoch == 0:
        raise GanzooError(
            f"{run_info['data']} has {len(datasets['target'])} images, fewer than one batch"
        )
    recipe = config["recipe"]
    total = recipe.total_steps(per_epoch)

    stepper = Stepper(model.configure_optimizers(), device, run_info["precision"])
    start, resumed_from = _resume(options, run_dir, model, stepper, total)
    procs.share_weights(model)  # every process starts from rank 0's weights
    if options.compile:
        for module in model.children():
            module.compile()
    loaders = _loaders(datasets, local_batch, seed, start, procs, recipe, device)
    preview_inputs = _preview_inputs(model, datasets, seed)
    config["run"] = run_info
    return Session(
        options=options,
        procs=procs,
        device=device,
        run_dir=run_dir,
        config=config,
        model=model,
        stepper=stepper,
        loaders=loaders,
        preview_inputs=preview_inputs,
        start=start,
        total=total,
        per_epoch=per_epoch,
        batch_size=batch_size,
        resumed_from=resumed_from,
    )


def _settings(
    options: TrainOptions, procs: Processes, device: torch.device
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """(run directory, model config, run settings): a resumed run's own, or new ones."""
    if options.resume:
        run_dir = Path(options.resume)
        config = read_run_config(run_dir)
        check_resume(
            run_dir, config, options.model, options.data, options.source, options.overrides
        )
        length = {k: v for k, v in options.overrides.items() if k in RESUME_FREE}
        config["recipe"] = Recipe.read(config["recipe"]).replace(**length)
        _record_resume(config["run"])
        return run_dir, config, config["run"]
    check_seed(options.seed)
    config = make_config(options.model, options.recipe, options.overrides)
    # --out as given (checked now, claimed when the first file is written), or a default name;
    # only rank 0 writes there, and on a shared disk the others could see its first files
    if procs.is_main:
        check_new_run_dir(options.out)
    run_dir = Path(options.out) if options.out else default_run_dir(options.model, options.data)
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
        "command": _command_line(),
        "device": f"{device} ({_device_name(device)})",
    }
    return run_dir, config, run_info


def _command_line() -> str:
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _record_resume(run_info: dict[str, Any]) -> None:
    """Adds the command that resumed the run to its settings, once per distinct command (a
    script that resumes stage after stage runs one), so that a card lists every leg."""
    command = _command_line()
    resumes = run_info.setdefault("resumed_with", [])
    if command not in (run_info.get("command"), *resumes):
        resumes.append(command)


def _versions(config: dict[str, Any]) -> dict[str, str]:
    return {
        "ganzoo": __version__,
        config["distribution"]: config["plugin_version"],
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{platform.machine()}, {os.cpu_count()} cores"


def _set_threads(options: TrainOptions, run_info: dict[str, Any], quiet: bool) -> int:
    """Sets torch's CPU threads: ``--threads``, else what the resumed run used (the same
    summation order, so resume stays bit-identical), else ``auto``: a count fixed by the
    machine, never by its load, so that a seed gives the same weights
    (``ganzoo.training.threads``)."""
    requested = options.threads or (run_info.get("threads") if options.resume else None)
    threads, note = choose_threads(requested)
    if note and not quiet:
        print(f"note: {note}", file=sys.stderr)
    torch.set_num_threads(threads)
    return threads


def _local_batch(
    config: dict[str, Any], batch_size: int, procs: Processes, device: torch.device
) -> int:
    """Each process's share of the global batch, checked to fit in memory."""
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
    return local_batch


def _open_data(config: dict[str, Any], run_info: dict[str, Any], model: GAN) -> dict[str, Any]:
    from ganzoo.data import open_domains

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
    return datasets


def _resume(
    options: TrainOptions, run_dir: Path, model: GAN, stepper: Stepper, total: int
) -> tuple[int, Path | None]:
    """(step to start from, checkpoint resumed from): the run's newest checkpoint restored into
    the model, its optimizers and the random generators; (0, None) for a new run."""
    if not options.resume:
        return 0, None
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise GanzooError(f"{run_dir} has no checkpoint to resume from")
    path = checkpoints[-1][1]
    start, state = load_checkpoint(path)
    restore_training_state(model, stepper, state, path)
    if start >= total:
        raise GanzooError(
            f"{run_dir} is already at step {start} of {total}; pass --steps N to go further"
        )
    return start, path


def _preview_inputs(model: GAN, datasets: dict[str, Any], seed: int) -> torch.Tensor:
    """What every preview grid of the run shows: fixed noise, or each domain's first images."""
    count, cpu = PREVIEW_COUNT.get(model.preview_group, 16), torch.device("cpu")
    batch = {
        role: _to_device(torch.stack([ds[i] for i in range(min(count, len(ds)))]), cpu)
        for role, ds in datasets.items()
    }
    return model.preview_inputs(batch, count, seed)


def _loaders(
    datasets: dict[str, Any],
    local_batch: int,
    seed: int,
    start: int,
    procs: Processes,
    recipe: Recipe,
    device: torch.device,
) -> dict[str, Iterator[torch.Tensor]]:
    """Endless batches for each role, which depend only on (seed, step, rank): a resumed run
    reads exactly what the uninterrupted one would have."""
    loaders, flip = {}, recipe.get("flip", False)
    for i, (role, ds) in enumerate(sorted(datasets.items())):
        role_seed = seed + 1000 * i
        batches = DataLoader(
            ds,
            batch_sampler=StepBatches(
                len(ds), local_batch, role_seed, start, procs.rank, procs.world_size
            ),
            num_workers=recipe.num_workers,
            pin_memory=device.type == "cuda",
            # its own generator: the default one draws from the global RNG when the
            # iterator starts, which a resumed run would replay at a different point
            generator=torch.Generator().manual_seed(seed),
        )
        loaders[role] = (
            random_flips(batches, role_seed, start, procs.rank) if flip else iter(batches)
        )
    return loaders
