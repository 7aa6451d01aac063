"""Weights, read safely: safetensors only, checked before they reach a model.

Nothing is ever unpickled. A file is refused when its first bytes are a pickle's, or when its
header claims more bytes than the file has, before safetensors parses anything; its keys, shapes
and dtypes are then checked against the model they are loaded into. ``model.safetensors`` holds a
model's exported networks, keys namespaced by the network (``generator.net.0.weight``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open

from ganzoo.errors import GanzooError, first_line
from ganzoo.models import GAN

#: safetensors' own upper bound on a header; a larger claim is corrupt or hostile
MAX_HEADER_BYTES = 100_000_000
#: suffixes of pickled weights, which ganzoo refuses to load
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


def few(keys: list[str], limit: int = 3) -> str:
    """The first ``limit`` of ``keys``, and how many more there are."""
    shown = ", ".join(keys[:limit])
    return shown + (f" (and {len(keys) - limit} more)" if len(keys) > limit else "")


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
        raise GanzooError(f"{path} is not a valid safetensors file: {first_line(exc)}") from None
    return tensors, metadata


def exported_state(model: GAN) -> dict[str, torch.Tensor]:
    """The tensors model.safetensors holds for a model: ``<prefix>.<state_dict key>``."""
    return {
        f"{prefix}.{key}": value
        for prefix, module in model.published().items()
        for key, value in module.state_dict().items()
        if isinstance(value, torch.Tensor)
    }


def load_exported(model: GAN, tensors: dict[str, torch.Tensor], origin: str) -> None:
    """Copies ``tensors`` into the exported networks after a strict check of keys and shapes."""
    expected = exported_state(model)
    problems = [
        f"{label} {few(keys)}" for label, keys in _mismatches(expected, tensors).items() if keys
    ]
    if problems:
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


def _mismatches(
    expected: dict[str, torch.Tensor], tensors: dict[str, torch.Tensor]
) -> dict[str, list[str]]:
    both = set(expected) & set(tensors)
    wrong = sorted(
        f"{key} {list(tensors[key].shape)} (model: {list(expected[key].shape)})"
        for key in both
        if tensors[key].shape != expected[key].shape
    )
    # fp16 or bf16 storage of float weights is upcast by load_state_dict; anything else that
    # differs (int32 weights, float step counters) would be converted silently, so it is refused
    wrong += sorted(
        f"{key} {tensors[key].dtype} (model: {expected[key].dtype})"
        for key in both
        if tensors[key].dtype != expected[key].dtype
        and not (tensors[key].is_floating_point() and expected[key].is_floating_point())
    )
    return {
        "missing": sorted(set(expected) - set(tensors)),
        "unexpected": sorted(set(tensors) - set(expected)),
        "wrong shape or dtype": wrong,
    }
