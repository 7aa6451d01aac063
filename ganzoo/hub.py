"""Loading and publishing models: Hub-ready folders, run directories, the zoo and the Hub.

A Hub-ready folder (the same layout as a model repository on the Hub) holds:

- ``config.json``: the model config of ``ganzoo.models.make_config`` (versions, plugin, components
  with their arguments, image size, channels, normalisation, recipe); ``build`` rebuilds from it;
- ``model.safetensors``: the exported networks only (``GAN.exported()``), keys namespaced by the
  network, e.g. ``generator.net.0.weight``;
- ``README.md``: the model card (``ganzoo.cards``), and ``sample.png`` when a grid was given.

Weights are read with safetensors only: nothing is ever unpickled, and a file is checked (size of
its header against the file, keys, shapes, and the zoo card's sha256) before it reaches a model.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from ganzoo import __version__
from ganzoo.checkpoints import FORMAT as CHECKPOINT_FORMAT
from ganzoo.checkpoints import atomic_save, list_checkpoints
from ganzoo.devices import resolve_device
from ganzoo.errors import GanzooError
from ganzoo.files import make_public
from ganzoo.models import GAN, build
from ganzoo.network import hub_reachable, quiet_hub

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
SAMPLE_NAME = "sample.png"
#: safetensors' own upper bound on a header; a larger claim is corrupt or hostile
MAX_HEADER_BYTES = 100_000_000
#: suffixes of pickled weights, which ganzoo refuses to load
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_CONFIG_KEYS = ("model", "plugin", "components", "image_size", "channels", "recipe")


# ---------------------------------------------------------------------------------------------
# small helpers


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Writes through a temporary file in the same folder and renames it into place, so a crash
    leaves the old file or the complete new one, never half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    make_public(tmp)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _few(keys: list[str], limit: int = 3) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (and {len(keys) - limit} more)" if len(keys) > limit else "")


# ---------------------------------------------------------------------------------------------
# reading weights safely


def read_safetensors(
    path: Path, select: Callable[[str], bool] = lambda key: True
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors whose key ``select`` accepts, metadata) of a safetensors file, on the CPU.

    Refuses pickles by their first bytes and checks the header length against the file size
    before safetensors parses anything; every failure is one GanzooError line.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(9)
    except FileNotFoundError:
        raise GanzooError(f"{path} does not exist") from None
    except OSError as exc:
        raise GanzooError(f"cannot read {path}: {exc.strerror or exc}") from None
    # torch.save writes a zip archive (PK..) or, in its legacy format, a pickle (protocol 2+
    # starts with 0x80); either would run code if unpickled. A safetensors header length can
    # start with 0x80 too, but its JSON header then opens with "{" at byte 8.
    pickled = head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"
    if pickled and head[8:9] != b"{":
        raise GanzooError(
            f"{path} is a pickle (torch.save) file, not safetensors; ganzoo never unpickles "
            "weights: convert them with safetensors.torch.save_file"
        )
    if len(head) < 8:
        raise GanzooError(f"{path} is not a safetensors file: only {size} bytes")
    (header_bytes,) = struct.unpack("<Q", head[:8])
    if header_bytes > min(size - 8, MAX_HEADER_BYTES):
        raise GanzooError(
            f"{path} is not a valid safetensors file: its header claims {header_bytes} bytes "
            f"but the file has {size} (truncated or corrupt)"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys() if select(key)}
    except (SafetensorError, ValueError, RuntimeError, OSError) as exc:
        raise GanzooError(f"{path} is not a valid safetensors file: {_first_line(exc)}") from None
    return tensors, metadata


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


def _exported_state(model: GAN) -> dict[str, torch.Tensor]:
    """The tensors model.safetensors holds for a model: ``<prefix>.<state_dict key>``."""
    return {
        f"{prefix}.{key}": value
        for prefix, module in model.published().items()
        for key, value in module.state_dict().items()
        if isinstance(value, torch.Tensor)
    }


def _load_exported(model: GAN, tensors: dict[str, torch.Tensor], origin: str) -> None:
    """Copies ``tensors`` into the exported networks after a strict check of keys and shapes."""
    expected = _exported_state(model)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(
        f"{key} {list(tensors[key].shape)} (model: {list(expected[key].shape)})"
        for key in set(expected) & set(tensors)
        if tensors[key].shape != expected[key].shape
    )
    # fp16 or bf16 storage of float weights is upcast by load_state_dict; anything else that
    # differs (int32 weights, float step counters) would be converted silently, so it is refused
    wrong += sorted(
        f"{key} {tensors[key].dtype} (model: {expected[key].dtype})"
        for key in set(expected) & set(tensors)
        if tensors[key].dtype != expected[key].dtype
        and not (tensors[key].is_floating_point() and expected[key].is_floating_point())
    )
    if missing or unexpected or wrong:
        problems = [
            f"{label} {_few(keys)}"
            for label, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("wrong shape or dtype", wrong),
            )
            if keys
        ]
        raise GanzooError(
            f"{origin} does not fit the {model.config['model']} model its config.json "
            f"describes: {'; '.join(problems)}"
        )
    for prefix, module in model.exported().items():
        own = {
            key[len(prefix) + 1 :]: value
            for key, value in tensors.items()
            if key.startswith(prefix + ".")
        }
        # keys and shapes are checked above; strict=False only lets non-tensor extra state be
        module.load_state_dict(own, strict=False)


# ---------------------------------------------------------------------------------------------
# where a model comes from


@dataclass
class Source:
    """A resolved SOURCE: its config, the file holding its weights, and how to read them."""

    config: dict[str, Any]
    weights: Path
    label: str  # how messages name it
    kind: str  # "folder", "run" or "hub"
    sha256: str | None = None  # what the zoo card pins, when it does
    step: int | None = None  # the checkpoint's step, for runs


def _read_config(path: Path, label: str) -> dict[str, Any]:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GanzooError(f"{label} has no {CONFIG_NAME}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GanzooError(f"{CONFIG_NAME} of {label} cannot be read: {_first_line(exc)}") from None
    if not isinstance(config, dict) or any(key not in config for key in _CONFIG_KEYS):
        raise GanzooError(
            f"{CONFIG_NAME} of {label} is not a ganzoo model config (it needs "
            f"{', '.join(_CONFIG_KEYS)})"
        )
    return config


def _local_source(path: Path) -> Source:
    if not path.is_dir():
        raise GanzooError(
            f"{path} is a file; give the folder holding {CONFIG_NAME} and {WEIGHTS_NAME}, a run "
            "directory, a zoo name or hf://ORG/NAME"
        )
    weights = path / WEIGHTS_NAME
    if weights.exists():
        from ganzoo.zoo import card_sha256

        config = _read_config(path / CONFIG_NAME, str(path))
        # a zoo entry's folder: its card pins the weights' sha256, which load() checks
        return Source(config, weights, str(path), "folder", sha256=card_sha256(path))
    if (path / "checkpoints").is_dir():
        # A run: its newest checkpoint, even when export/ exists, because export/ is only
        # rewritten when training ends and is stale after an interrupted --resume.
        checkpoints = list_checkpoints(path)
        if not checkpoints:
            raise GanzooError(f"run directory {path} has no checkpoint yet")
        step, latest = checkpoints[-1]
        config = _read_config(path / CONFIG_NAME, str(path))
        return Source(config, latest, f"{path} (checkpoint step {step})", "run", step=step)
    pickles = sorted(p.name for p in path.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise GanzooError(
            f"{path} holds pickled weights ({_few(pickles)}) and no {WEIGHTS_NAME}; ganzoo loads "
            "safetensors only and never unpickles"
        )
    raise GanzooError(
        f"{path} has no {WEIGHTS_NAME} (a Hub-ready folder) and no checkpoints/ (a run directory)"
    )


def hub_download(repo_id: str, filename: str, revision: str | None) -> Path:
    """One file of a model repository through the Hub cache (HF_HOME, HF_HUB_CACHE and
    HF_HUB_OFFLINE apply as in any huggingface_hub program)."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{repo_id}@{revision}" if revision else repo_id
    # unreachable: the cache only, at once, instead of half a minute of retries
    cache_only = not constants.HF_HUB_OFFLINE and not hub_reachable()
    try:
        with quiet_hub():
            return Path(
                hf_hub_download(
                    repo_id,
                    filename,
                    revision=revision,
                    library_name="ganzoo",
                    library_version=__version__,
                    local_files_only=cache_only,
                )
            )
    except LocalEntryNotFoundError:
        why = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "the Hub cannot be reached"
        raise GanzooError(
            f"{filename} of {where} is not in the Hub cache ({constants.HF_HUB_CACHE}) and {why}"
        ) from None
    except RepositoryNotFoundError:
        raise GanzooError(
            f"no model repository {repo_id} on the Hub (or it is private or gated: log in with "
            "`hf auth login`)"
        ) from None
    except RevisionNotFoundError:
        raise GanzooError(f"{repo_id} has no revision {revision!r}") from None
    except EntryNotFoundError:
        hint = "; ganzoo loads safetensors only" if filename == WEIGHTS_NAME else ""
        raise GanzooError(f"{where} has no {filename}{hint}") from None
    except HFValidationError as exc:
        raise GanzooError(f"{repo_id!r} is not a repository id: {_first_line(exc)}") from None
    except OSError as exc:  # other HTTP errors (HfHubHTTPError is an OSError), disk errors
        raise GanzooError(f"cannot download {filename} of {where}: {_first_line(exc)}") from None


def _hub_source(repo_id: str, revision: str | None, label: str, sha256: str | None) -> Source:
    config_path = hub_download(repo_id, CONFIG_NAME, revision)
    weights = hub_download(repo_id, WEIGHTS_NAME, revision)
    return Source(_read_config(config_path, label), weights, label, "hub", sha256=sha256)


def resolve_source(source: str | os.PathLike) -> Source:
    """SOURCE: ``hf://ORG/NAME[@REVISION]``, an existing folder (Hub-ready or a run), or a zoo
    entry name. A folder that exists wins over a zoo entry of the same name."""
    text = str(source)
    if text.startswith("hf://"):
        repo_id, _, revision = text.removeprefix("hf://").partition("@")
        if repo_id.startswith("datasets/"):
            raise GanzooError(f"{text} is a dataset; a model SOURCE is hf://ORG/NAME")
        return _hub_source(repo_id.strip("/"), revision or None, text, None)
    path = Path(text).expanduser()
    if path.exists():
        return _local_source(path)
    from ganzoo.zoo import find_zoo_entry

    entry = find_zoo_entry(text)
    if entry is not None:
        from ganzoo.zoo import entry_source

        return entry_source(entry)  # its bundled folder or its pinned Hub commit
    raise GanzooError(
        f"no folder or zoo entry named {text!r}; a SOURCE is a Hub-ready folder, a run "
        "directory, a zoo entry (`ganzoo list --kind zoo`) or hf://ORG/NAME[@REVISION]"
    )


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
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from None
    if src.kind == "run":
        names = list(model.exported())
        prefixes = tuple(f"model/{p}." for p in names) + tuple(f"model/ema.{p}." for p in names)
        tensors, metadata = read_safetensors(src.weights, lambda key: key.startswith(prefixes))
        if metadata.get("format") != CHECKPOINT_FORMAT:
            raise GanzooError(f"{src.weights} is not a ganzoo checkpoint")
        tensors = _run_networks(tensors)
        origin = src.label
    else:
        tensors, _ = read_safetensors(src.weights)
        origin = f"{WEIGHTS_NAME} of {src.label}"
    _load_exported(model, tensors, origin)
    return model.to(resolve_device(device)).eval()


# ---------------------------------------------------------------------------------------------
# writing Hub-ready folders


def save_pretrained(
    model: GAN,
    directory: str | os.PathLike,
    *,
    sample_grid: str | os.PathLike | None = None,
    metrics: list[dict[str, Any]] | None = None,
    data: str | None = None,
    force: bool = False,
    step: int | None = None,
) -> Path:
    """Writes a Hub-ready folder: config.json, model.safetensors, README.md and, with
    ``sample_grid``, sample.png. Refuses a non-empty folder unless ``force``."""
    from ganzoo.cards import render_model_card

    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise GanzooError(f"{directory} is a file, not a folder")
    if directory.is_dir() and any(directory.iterdir()) and not force:
        raise GanzooError(
            f"{directory} exists and is not empty; pass --force to overwrite its files"
        )
    if sample_grid is not None and not Path(sample_grid).is_file():
        raise GanzooError(f"sample grid {sample_grid} does not exist")
    directory.mkdir(parents=True, exist_ok=True)

    run = model.config.get("run") or {}
    data = data or run.get("data")
    # the run's own settings (local paths, start time) stay in the run directory
    config = {key: value for key, value in model.config.items() if key != "run"}
    pairs = (("data", data), ("source", run.get("source")), ("step", step))
    training = {key: value for key, value in pairs if value}
    if training:
        config["training"] = training

    tensors = {
        key: value.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for key, value in _exported_state(model).items()
    }
    atomic_save(tensors, {"format": "pt", "ganzoo_version": __version__}, directory / WEIGHTS_NAME)
    text = json.dumps(config, indent=2, default=str) + "\n"
    _atomic_write(directory / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    sample_path = directory / SAMPLE_NAME
    if sample_grid is not None:
        if Path(sample_grid).resolve() != sample_path.resolve():
            _atomic_write(sample_path, lambda tmp: shutil.copyfile(sample_grid, tmp))
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
    _atomic_write(directory / CARD_NAME, card.save)
    return directory


def export_run(run_dir: str | os.PathLike, out_dir: str | os.PathLike, force: bool = False) -> Path:
    """A Hub-ready folder from a run's latest checkpoint, with its newest sample grid as the
    card's picture and the metrics recorded in the run's own export card, if any."""
    from ganzoo.cards import card_metrics

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).is_file() or not (run_dir / "checkpoints").is_dir():
        raise GanzooError(
            f"{run_dir} is not a run directory (it needs config.json and checkpoints/)"
        )
    src = _local_source(run_dir)
    model = load(run_dir, device="cpu")
    samples = sorted(
        (run_dir / "samples").glob("step-*.png"),
        key=lambda p: int(p.stem.split("-")[1]) if p.stem.split("-")[1].isdigit() else -1,
    )
    metrics = None
    run_card = run_dir / "export" / CARD_NAME
    if run_card.is_file() and Path(out_dir).resolve() != run_card.parent.resolve():
        try:
            metrics = card_metrics(run_card) or None
        except GanzooError as exc:  # a hand-edited card must not stop the export
            warnings.warn(f"{exc}; the export's card has no metrics", stacklevel=2)
    return save_pretrained(
        model,
        out_dir,
        sample_grid=samples[-1] if samples else None,
        metrics=metrics,
        data=src.config.get("run", {}).get("data"),
        force=force,
        step=src.step,
    )


def update_card_metrics(folder: str | os.PathLike, results: list[dict[str, Any]]) -> Path:
    """Records metric results (dicts with name, value or values, protocol) in the model card of a
    Hub-ready folder, or of a run's export/ folder; returns the card's path."""
    from ganzoo.cards import update_card_metrics as update

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
    _atomic_write(path, card.save)
    return path


# ---------------------------------------------------------------------------------------------
# pushing


def _upload(folder: Path, repo_id: str, private: bool) -> tuple[str, str]:
    """Creates the repository if needed and uploads ``folder`` as one commit."""
    from huggingface_hub import HfApi

    from ganzoo.cards import REPO_PLACEHOLDER

    card = folder / CARD_NAME
    if card.is_file():  # the card's usage lines name this repository from now on
        card.write_text(
            card.read_text(encoding="utf-8").replace(f"hf://{REPO_PLACEHOLDER}", f"hf://{repo_id}"),
            encoding="utf-8",
        )
    config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    api = HfApi(library_name="ganzoo", library_version=__version__)
    # Everything from here is the network and the Hub's answer: no token, offline mode, HTTP
    # errors and connection failures all become one line naming the repository.
    try:
        with quiet_hub():
            url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            commit = api.upload_folder(
                repo_id=repo_id,
                folder_path=str(folder),
                repo_type="model",
                commit_message=f"Upload {config['model']} with ganzoo {__version__}",
            )
    except Exception as exc:  # noqa: BLE001 - see above
        raise GanzooError(f"cannot push to {repo_id}: {_first_line(exc)}") from None
    return str(url), commit.oid


def push_to_hub(source: str | os.PathLike, repo_id: str, private: bool = False) -> tuple[str, str]:
    """Uploads a Hub-ready folder, or a run (exported first), to ``repo_id``; returns the
    repository URL and the commit id. The folder is checked by loading it first."""
    path = Path(source)
    if not path.is_dir():
        from ganzoo.zoo import find_zoo_entry

        entry = find_zoo_entry(str(source))
        if entry is None or not entry.bundled:
            raise GanzooError(
                f"{source} is not a folder; push takes a Hub-ready folder, a run or a bundled "
                "zoo entry"
            )
        path = entry.folder  # published unchanged, as the zoo ships it
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        staged = Path(tmp) / "upload"
        src = _local_source(path)
        if src.kind == "run":
            export_run(path, staged)
        else:
            load(path, device="cpu")  # never publish what ganzoo itself cannot load
            shutil.copytree(path, staged, ignore=shutil.ignore_patterns(".*", "*.tmp"))
        return _upload(staged, repo_id, private)


def push_model_to_hub(
    model: GAN, repo_id: str, private: bool = False, **card: Any
) -> tuple[str, str]:
    """``GAN.push_to_hub``: save_pretrained to a temporary folder, then upload it."""
    with tempfile.TemporaryDirectory(prefix="ganzoo-push-") as tmp:
        staged = save_pretrained(model, Path(tmp) / "upload", **card)
        return _upload(staged, repo_id, private)
