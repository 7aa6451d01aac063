"""Where a model comes from: a SOURCE resolved to its config and the file holding its weights.

A SOURCE is ``hf://ORG/NAME[@REVISION]``, a Hub-ready folder, a run directory or a zoo entry's
name. A Hub-ready folder (the same layout as a model repository on the Hub) holds ``config.json``
(the model config of ``ganzoo.models.make_config``, which ``build`` rebuilds from) and
``model.safetensors`` (see ``ganzoo.hub.weights``); a run's weights are its newest checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError, first_line
from ganzoo.hub.weights import PICKLE_SUFFIXES, few
from ganzoo.io.checkpoints import list_checkpoints
from ganzoo.io.hub_errors import cache_only_reason, hub_errors
from ganzoo.version import __version__
from ganzoo.zoo import ZooEntry, card_sha256, find_zoo_entry

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
_CONFIG_KEYS = ("model", "plugin", "components", "image_size", "channels", "recipe")


@dataclass
class Source:
    """A resolved SOURCE: its config, the file holding its weights, and how to read them."""

    config: dict[str, Any]
    weights: Path
    label: str  # how messages name it
    kind: str  # "folder", "run" or "hub"
    sha256: str | None = None  # what the zoo card pins, when it does
    step: int | None = None  # the checkpoint's step, for runs


def resolve_source(source: str | os.PathLike) -> Source:
    """SOURCE: ``hf://ORG/NAME[@REVISION]``, an existing folder (Hub-ready or a run), or a zoo
    entry name. A folder that exists wins over a zoo entry of the same name."""
    text = str(source)
    if text.startswith("hf://"):
        repo_id, _, revision = text.removeprefix("hf://").partition("@")
        if repo_id.startswith("datasets/"):
            raise GanzooError(f"{text} is a dataset; a model SOURCE is hf://ORG/NAME")
        return hub_source(repo_id.strip("/"), revision or None, text, None)
    path = Path(text).expanduser()
    if path.exists():
        return local_source(path)
    entry = find_zoo_entry(text)
    if entry is not None:
        return entry_source(entry)  # its bundled folder or its pinned Hub commit
    raise GanzooError(
        f"no folder or zoo entry named {text!r}; a SOURCE is a Hub-ready folder, a run "
        "directory, a zoo entry (`ganzoo list --kind zoo`) or hf://ORG/NAME[@REVISION]"
    )


def entry_source(entry: ZooEntry) -> Source:
    """The Source of a zoo entry; ``load`` then checks the card's sha256.

    A published entry is read from its pinned Hub commit through the Hugging Face cache, unless
    it is bundled and HF_HUB_OFFLINE is set; when the Hub cannot give it (no network, not
    cached), a bundled copy is used instead. Without either, the card's training command is the
    way to get the model."""
    from huggingface_hub import constants

    if entry.bundled and not entry.sha256:
        raise GanzooError(
            f"zoo entry {entry.name!r} ships {WEIGHTS_NAME} but its card {entry.card_path} "
            "records no sha256 to check it against"
        )
    if entry.published and not (entry.bundled and constants.HF_HUB_OFFLINE):
        label = f"zoo entry {entry.name} ({entry.repo}@{entry.revision})"
        try:
            return hub_source(entry.repo, entry.revision, label, entry.sha256)
        except GanzooError:
            if not entry.bundled:
                raise
    if entry.bundled:
        label = f"zoo entry {entry.name} (bundled in {entry.folder})"
        config = read_config(entry.folder / CONFIG_NAME, label)
        weights = entry.folder / WEIGHTS_NAME
        return Source(config, weights, label, "folder", sha256=entry.sha256)
    raise GanzooError(
        f"zoo entry {entry.name!r} has no published weights yet; train it with "
        f"`{entry.train_command}` and load the run directory it writes"
    )


def read_config(path: Path, label: str) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanzooError(f"{label} has no {CONFIG_NAME}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GanzooError(f"{CONFIG_NAME} of {label} cannot be read: {first_line(exc)}") from None
    if not isinstance(config, dict) or any(key not in config for key in _CONFIG_KEYS):
        raise GanzooError(
            f"{CONFIG_NAME} of {label} is not a ganzoo model config (it needs "
            f"{', '.join(_CONFIG_KEYS)})"
        )
    return config


def local_source(path: Path) -> Source:
    """A Hub-ready folder (a zoo entry's too) or a run directory."""
    if not path.is_dir():
        raise GanzooError(
            f"{path} is a file; give the folder holding {CONFIG_NAME} and {WEIGHTS_NAME}, a run "
            "directory, a zoo name or hf://ORG/NAME"
        )
    weights = path / WEIGHTS_NAME
    if weights.exists():
        config = read_config(path / CONFIG_NAME, str(path))
        # a zoo entry's folder: its card pins the weights' sha256, which load() checks
        return Source(config, weights, str(path), "folder", sha256=card_sha256(path))
    if (path / "checkpoints").is_dir():
        # A run: its newest checkpoint, even when export/ exists, because export/ is only
        # rewritten when training ends and is stale after an interrupted --resume.
        checkpoints = list_checkpoints(path)
        if not checkpoints:
            raise GanzooError(f"run directory {path} has no checkpoint yet")
        step, latest = checkpoints[-1]
        config = read_config(path / CONFIG_NAME, str(path))
        return Source(config, latest, f"{path} (checkpoint step {step})", "run", step=step)
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise GanzooError(
            f"{path} holds pickled weights ({few(pickles)}) and no {WEIGHTS_NAME}; ganzoo loads "
            "safetensors only and never unpickles"
        )
    raise GanzooError(
        f"{path} has no {WEIGHTS_NAME} (a Hub-ready folder) and no checkpoints/ (a run directory)"
    )


def hub_source(repo_id: str, revision: str | None, label: str, sha256: str | None) -> Source:
    """A model repository on the Hub, at ``revision`` (default: main), through the Hub cache."""
    config_path = hub_download(repo_id, CONFIG_NAME, revision)
    weights = hub_download(repo_id, WEIGHTS_NAME, revision)
    return Source(read_config(config_path, label), weights, label, "hub", sha256=sha256)


def hub_download(repo_id: str, filename: str, revision: str | None) -> Path:
    """One file of a model repository through the Hub cache (HF_HOME, HF_HUB_CACHE and
    HF_HUB_OFFLINE apply as in any huggingface_hub program)."""
    from huggingface_hub import hf_hub_download

    cache_only = cache_only_reason()
    with hub_errors(repo_id, revision=revision, filename=filename, cache_only=cache_only):
        return Path(
            hf_hub_download(
                repo_id,
                filename,
                revision=revision,
                library_name="ganzoo",
                library_version=__version__,
                local_files_only=cache_only is not None,
            )
        )
