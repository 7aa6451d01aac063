"""Turning the user's ``--device`` into a torch device."""

from __future__ import annotations

import torch

from ganzoo.errors import GanzooError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else CPU; ``cuda:i`` is checked against what exists."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise GanzooError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:i") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise GanzooError(f"device {device!r} asked for, but no CUDA device is available")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise GanzooError(
                f"device {device!r} does not exist; {torch.cuda.device_count()} CUDA device(s)"
            )
    return resolved
