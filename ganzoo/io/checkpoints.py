"""Checkpoints: everything needed to resume a run, in one safetensors file, written atomically.

Tensors (network weights, optimizer moments, RNG states) are stored as safetensors tensors; the
structure around them (optimizer param groups, step counts, Python's RNG state) is stored as JSON
in the file's metadata, with each tensor replaced by a reference to its key. Nothing is pickled,
so loading a checkpoint cannot run code.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ganzoo.errors import GanzooError
from ganzoo.io.files import atomic_write

FORMAT = "ganzoo-checkpoint/1"
_STEP_FILE = re.compile(r"step-(\d+)\.safetensors$")


def flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Moves every tensor in a nested structure into ``tensors``; returns the JSON-able rest."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        # JSON keys are strings; optimizer state is keyed by int parameter indices.
        return {"__dict__": [[k, flatten(v, f"{prefix}/{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [flatten(v, f"{prefix}/{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    return obj


def unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__dict__" in obj:
            return {k: unflatten(v, tensors) for k, v in obj["__dict__"]}
        if "__tuple__" in obj:
            return tuple(unflatten(v, tensors) for v in obj["__tuple__"])
        return {k: unflatten(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    return obj


def atomic_save(tensors: dict[str, torch.Tensor], metadata: dict[str, str], path: Path) -> None:
    """A safetensors file written whole or not at all (``ganzoo.io.files.atomic_write``), the
    same bytes for the same tensors and metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        save_file(tensors, tmp, metadata=metadata)
        _sort_metadata(tmp)

    atomic_write(path, write)


def _sort_metadata(path: Path) -> None:
    """Rewrites the header's metadata in key order. safetensors writes it in hash order, which
    changes from call to call, so the same weights got a different sha256 each time."""
    with open(path, "r+b") as handle:
        length = int.from_bytes(handle.read(8), "little")
        raw = handle.read(length)
        header = json.loads(raw)
        if "__metadata__" not in header:
            return
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        # the same compact JSON and space padding as safetensors' own, so only the order moves
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) > length:
            raise GanzooError(f"{path}: its safetensors header could not be rewritten in order")
        handle.seek(8)
        handle.write(text.ljust(length))


def save_checkpoint(path: Path, step: int, state: dict[str, Any]) -> None:
    tensors: dict[str, torch.Tensor] = {}
    # top-level keys become tensor-name prefixes: "model/<state_dict key>", "optimizers/...", ...
    structure = {key: flatten(value, key, tensors) for key, value in state.items()}
    metadata = {"format": FORMAT, "step": str(step), "state": json.dumps(structure)}
    atomic_save(tensors, metadata, path)


def load_checkpoint(path: Path) -> tuple[int, dict[str, Any]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise GanzooError(f"checkpoint {path} cannot be read: {exc}") from None
    if metadata.get("format") != FORMAT:
        raise GanzooError(f"{path} is not a ganzoo checkpoint (format {metadata.get('format')!r})")
    structure = json.loads(metadata["state"])
    return int(metadata["step"]), {key: unflatten(v, tensors) for key, v in structure.items()}


def list_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every complete checkpoint in a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    found = []
    for path in folder.glob("step-*.safetensors"):
        match = _STEP_FILE.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Removes all but the newest ``keep`` checkpoints."""
    for _, path in list_checkpoints(run_dir)[: -max(keep, 1)]:
        path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# what a training checkpoint holds: the model, its optimizers and every random generator


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def training_state(model: torch.nn.Module, stepper: Any) -> dict[str, Any]:
    """What ``save_checkpoint`` writes for a run, so that resuming repeats it bit for bit."""
    return {"model": model.state_dict(), "optimizers": stepper.state_dict(), "rng": rng_state()}


def restore_training_state(
    model: torch.nn.Module, stepper: Any, state: dict[str, Any], path: Path
) -> None:
    """A checkpoint into the run's model, optimizers and random generators, or one line when it
    is another model's."""
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
    set_rng_state(state["rng"])
