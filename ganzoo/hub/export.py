"""Writing Hub-ready folders: a model's ``config.json`` and ``model.safetensors``, its model card
``README.md`` (``ganzoo.hub.cards``) and ``sample.png`` when a grid is given; a run exported the
same way; metric results recorded in a card. Every file is written atomically."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.hub.loading import load, load_checkpoint_average
from ganzoo.hub.model_sources import CONFIG_NAME, WEIGHTS_NAME, local_source
from ganzoo.hub.weights import exported_state, read_safetensors
from ganzoo.io.checkpoints import atomic_save
from ganzoo.io.files import atomic_write
from ganzoo.models import GAN
from ganzoo.version import __version__

CARD_NAME = "README.md"
SAMPLE_NAME = "sample.png"
#: in a run directory: the inputs of its preview grids (``GAN.preview_inputs``)
PREVIEW_INPUTS = "samples/preview-inputs.safetensors"


def save_pretrained(
    model: GAN,
    directory: str | os.PathLike,
    *,
    sample_grid: str | os.PathLike | None = None,
    metrics: list[dict[str, Any]] | None = None,
    data: str | None = None,
    force: bool = False,
    step: int | None = None,
    averaged_steps: list[int] | None = None,
) -> Path:
    """Writes a Hub-ready folder: config.json, model.safetensors, README.md and, with
    ``sample_grid``, sample.png. Refuses a non-empty folder unless ``force``. ``averaged_steps``:
    the checkpoints whose mean the weights are, recorded in config.json and the card."""
    from ganzoo.hub.cards import render_model_card

    directory = Path(directory)
    _check_target(directory, force)
    if sample_grid is not None and not Path(sample_grid).is_file():
        raise GanzooError(f"sample grid {sample_grid} does not exist")
    directory.mkdir(parents=True, exist_ok=True)

    run = model.config.get("run") or {}
    data = data or run.get("data")
    # the run's own settings (local paths, start time) stay in the run directory
    config = {key: value for key, value in model.config.items() if key != "run"}
    facts = {"data": data, "source": run.get("source"), "step": step}
    training = {k: v for k, v in (facts | {"averaged_steps": averaged_steps}).items() if v}
    if training:
        config["training"] = training

    tensors = {
        key: value.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for key, value in exported_state(model).items()
    }
    atomic_save(tensors, {"format": "pt", "ganzoo_version": __version__}, directory / WEIGHTS_NAME)
    text = json.dumps(config, indent=2, default=str) + "\n"
    atomic_write(directory / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    sample_path = directory / SAMPLE_NAME
    if sample_grid is not None:
        if Path(sample_grid).resolve() != sample_path.resolve():
            atomic_write(sample_path, lambda tmp: shutil.copyfile(sample_grid, tmp))
    else:
        sample_path.unlink(missing_ok=True)  # a stale picture would not show this model

    latent_dim = next(
        (m.latent_dim for m in model.exported().values() if getattr(m, "latent_dim", None)), None
    )
    card = render_model_card(
        config,
        data=data,
        metrics=metrics,
        has_sample=sample_grid is not None,
        step=step,
        latent_dim=latent_dim,
        source=run.get("source"),
    )
    atomic_write(directory / CARD_NAME, card.save)
    return directory


def _check_target(directory: Path, force: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise GanzooError(f"{directory} is a file, not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise GanzooError(
            f"{directory} exists and is not empty; pass --force to overwrite its files"
        )


def export_run(
    run_dir: str | os.PathLike, out_dir: str | os.PathLike, force: bool = False, average: int = 1
) -> Path:
    """A Hub-ready folder from a run's latest checkpoint, or the mean of its last ``average``
    checkpoints (``load_checkpoint_average``), with the metrics recorded in the run's own export
    card, if any (none for an average). Its picture is the run's newest sample grid; an average
    draws its own, of the same inputs."""
    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).is_file() or not (run_dir / "checkpoints").is_dir():
        raise GanzooError(
            f"{run_dir} is not a run directory (it needs config.json and checkpoints/)"
        )
    src = local_source(run_dir)
    model = load(run_dir, device="cpu")
    averaged = load_checkpoint_average(model, run_dir, average) if average > 1 else None
    # the run's grids and its export's metrics are of single checkpoints, not of an average
    # (``ganzoo eval`` scores it)
    metrics = None if averaged else _run_card_metrics(run_dir, Path(out_dir))
    with tempfile.TemporaryDirectory() as scratch:
        grid = _preview_of(model, run_dir, Path(scratch)) if averaged else _newest_grid(run_dir)
        return save_pretrained(
            model,
            out_dir,
            sample_grid=grid,
            metrics=metrics,
            data=src.config.get("run", {}).get("data"),
            force=force,
            step=src.step,
            averaged_steps=averaged,
        )


def _preview_of(model: GAN, run_dir: Path, scratch: Path) -> Path | None:
    """The model's own grid of the run's preview inputs (none for a run from before they were
    kept)."""
    from ganzoo.io.images import save_preview_grid

    if not (run_dir / PREVIEW_INPUTS).is_file():
        return None
    inputs = read_safetensors(run_dir / PREVIEW_INPUTS)[0]["inputs"]
    model.eval()
    save_preview_grid(model.preview(inputs), scratch / SAMPLE_NAME, model.preview_group)
    return scratch / SAMPLE_NAME


def _newest_grid(run_dir: Path) -> Path | None:
    grids = sorted(
        (run_dir / "samples").glob("step-*.png"),
        key=lambda p: int(p.stem.split("-")[1]) if p.stem.split("-")[1].isdigit() else -1,
    )
    return grids[-1] if grids else None


def _run_card_metrics(run_dir: Path, out_dir: Path) -> list[dict[str, Any]] | None:
    """The metrics recorded in the run's own export card, for an export elsewhere."""
    from ganzoo.hub.cards import card_metrics

    run_card = run_dir / "export" / CARD_NAME
    if not run_card.is_file() or out_dir.resolve() == run_card.parent.resolve():
        return None
    try:
        return card_metrics(run_card) or None
    except GanzooError as exc:  # a hand-edited card must not stop the export
        warnings.warn(f"{exc}; the export's card has no metrics", stacklevel=2)
        return None


def update_card_metrics(folder: str | os.PathLike, results: list[dict[str, Any]]) -> Path:
    """Records metric results (dicts with name, value or values, protocol) in the model card of a
    Hub-ready folder, or of a run's export/ folder; returns the card's path."""
    from ganzoo.hub.cards import update_card_metrics as update

    folder = Path(folder)
    if not (folder / CARD_NAME).is_file() and (folder / "export" / CARD_NAME).is_file():
        folder = folder / "export"
    path = folder / CARD_NAME
    if not path.is_file():
        raise GanzooError(f"{folder} has no model card ({CARD_NAME}) to record metrics in")
    try:
        card = update(path, results)
    except GanzooError as exc:
        # the metrics were computed at some cost: the caller still reports them, and the card
        # (a person's file) is left as it is
        warnings.warn(f"{exc}; the results are not recorded in it", stacklevel=2)
        return path
    atomic_write(path, card.save)
    return path
