"""Loading a model from any SOURCE (``ganzoo.hub.model_sources``): rebuilt from its config, its
weights checked (the zoo card's sha256, then keys, shapes and dtypes) before they are copied in."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch

from ganzoo.devices import resolve_device
from ganzoo.errors import GanzooError, first_line
from ganzoo.hub.model_sources import CONFIG_NAME, WEIGHTS_NAME, resolve_source
from ganzoo.hub.weights import load_exported, read_safetensors
from ganzoo.io.checkpoints import FORMAT as CHECKPOINT_FORMAT
from ganzoo.io.checkpoints import list_checkpoints
from ganzoo.models import GAN, build


def load(source: str | os.PathLike, device: str | torch.device | None = None) -> GAN:
    """A model in eval mode on ``device`` (auto by default) from any SOURCE (see resolve_source).

    For a run directory the weights are its latest checkpoint's ``model/`` tensors.
    """
    src = resolve_source(source)
    if src.sha256:
        actual = _sha256(src.weights)
        if actual != src.sha256.lower():
            raise GanzooError(
                f"{WEIGHTS_NAME} of {src.label} has sha256 {actual[:12]}..., but its zoo card "
                f"records {src.sha256[:12]}...; the download is corrupt or the card is wrong"
            )
    try:
        model = build(src.config, training=False)
    except (KeyError, TypeError, ValueError) as exc:  # a config.json edited or from elsewhere
        raise GanzooError(
            f"{CONFIG_NAME} of {src.label} does not describe a model ganzoo can build: "
            f"{type(exc).__name__}: {first_line(exc)}"
        ) from None
    if src.kind == "run":
        tensors = checkpoint_networks(src.weights, list(model.exported()))
        origin = src.label
    else:
        tensors, _ = read_safetensors(src.weights)
        origin = f"{WEIGHTS_NAME} of {src.label}"
    load_exported(model, tensors, origin)
    return model.to(resolve_device(device)).eval()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def checkpoint_networks(path: Path, names: list[str]) -> dict[str, torch.Tensor]:
    """The exported networks ``names`` of a run's checkpoint, as ``<name>.<key>``."""
    prefixes = tuple(f"model/{p}." for p in names) + tuple(f"model/ema.{p}." for p in names)
    tensors, metadata = read_safetensors(path, lambda key: key.startswith(prefixes))
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise GanzooError(f"{path} is not a ganzoo checkpoint")
    return _run_networks(tensors)


def load_checkpoint_average(model: GAN, run_dir: Path, count: int) -> list[int]:
    """Copies into ``model`` the mean of its exported networks over the run's last ``count``
    checkpoints and returns their steps. Averaging weights after training (as timm's
    ``avg_checkpoints.py`` does) smooths a GAN generator's swings from one checkpoint to the
    next, as an EMA does during training. Counters (BatchNorm's ``num_batches_tracked``) are the
    last checkpoint's."""
    checkpoints = list_checkpoints(run_dir)[-count:]
    if len(checkpoints) < count:
        raise GanzooError(
            f"{run_dir} keeps {len(checkpoints)} checkpoint(s); averaging {count} needs as many "
            "(the recipe's keep_checkpoints sets how many a run keeps)"
        )
    states = [checkpoint_networks(path, list(model.exported())) for _, path in checkpoints]
    mean = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            mean[key] = torch.stack([state[key].float() for state in states]).mean(0)
            mean[key] = mean[key].to(last.dtype)
        else:
            mean[key] = last
    load_exported(model, mean, f"the last {count} checkpoints of {run_dir}")
    return [step for step, _ in checkpoints]


def _run_networks(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A checkpoint's exported networks as ``<prefix>.<key>``: their EMA copies when the run
    kept them (``model/ema.<prefix>.module.<key>``), else the trained weights."""
    ema = {
        key.removeprefix("model/ema.").replace(".module.", ".", 1): value
        for key, value in tensors.items()
        if key.startswith("model/ema.") and ".module." in key
    }
    if ema:
        return ema
    return {key.removeprefix("model/"): value for key, value in tensors.items()}
