"""The generators of a model as ONNX files, to run without PyTorch or ganzoo (onnxruntime, a
browser, a phone).

Each file takes and gives what ``GAN.sample`` and ``GAN.translate`` do, so a user needs no
knowledge of the networks' [-1, 1] range:

- an unconditional model's ``generator.onnx``: ``noise`` float32 ``[N, latent_dim]`` (standard
  normal) to ``image`` float32 ``[N, 3, H, W]`` in [0, 1];
- a translator's ``generator.onnx`` (source to target) and ``generator_reverse.onnx`` (back):
  ``image`` float32 ``[N, 3, H, W]`` in [0, 1] to ``image`` in [0, 1].

The batch dimension ``N`` is dynamic. Needs the optional extra: ``pip install ganzoo-core[onnx]``.
"""

from __future__ import annotations

import copy
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.io.files import atomic_write
from ganzoo.models import GAN, from_unit, to_unit

# Opset 18: it is the opset that torch's exporter (torch.onnx.export with dynamo=True, the
# default since torch 2.9) writes natively, so no version conversion pass runs, which can fail
# or change numerics; and onnxruntime has run it since 1.14 (2023), as do current ONNX Runtime
# Web and most mobile runtimes. Nothing in these generators (convolutions, instance/batch norm,
# upsampling, tanh) needs a newer operator.
OPSET = 18
#: the example batch the exporter traces with; 1 would let it specialise the batch dimension
TRACE_BATCH = 2


class _Unit(nn.Module):
    """A generator between [0, 1] images (and noise), as ``sample`` and ``translate`` see it."""

    def __init__(self, net: nn.Module, image_input: bool):
        super().__init__()
        self.net = net
        self.image_input = image_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return to_unit(self.net(from_unit(x) if self.image_input else x))


def example_input(model: GAN, name: str) -> torch.Tensor:
    """A float32 input of batch ``TRACE_BATCH`` for the network exported as ``name``."""
    net = model.exported()[name]
    latent_dim = getattr(net, "latent_dim", None)
    if model.task == "unconditional" and latent_dim:
        return torch.randn(TRACE_BATCH, latent_dim)
    height, width = model.image_size
    return torch.rand(TRACE_BATCH, model.channels, height, width)


def require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401  - torch's exporter builds the graph with it
    except ImportError:
        raise GanzooError(
            "ONNX export needs the onnx extra: pip install 'ganzoo-core[onnx]'"
        ) from None


def _export_one(net: nn.Module, example: torch.Tensor, image_input: bool, path: Path) -> None:
    input_name = "image" if image_input else "noise"
    batch = torch.export.Dim("batch", min=1, max=65536)
    wrapped = _Unit(net, image_input).eval()

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on its own internals
            torch.onnx.export(
                wrapped,
                (example,),
                str(tmp),
                input_names=[input_name],
                output_names=["image_out" if image_input else "image"],
                dynamic_shapes=({0: batch},),
                opset_version=OPSET,
                dynamo=True,
                verbose=False,  # no progress lines on stdout
                external_data=False,  # one self-contained file; these networks are small
            )

    try:
        atomic_write(path, write)
    except GanzooError:
        raise
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types
        raise GanzooError(f"cannot export {path.stem} to ONNX: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def export_onnx(model: GAN, directory: str | os.PathLike) -> list[Path]:
    """Writes ``NAME.onnx`` in ``directory`` for each exported generator (``generator``, and a
    translator's ``generator_reverse``); returns the paths written. The model is not changed."""
    require_onnx()
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise GanzooError(f"{directory} is a file; give a folder for the ONNX files")
    directory.mkdir(parents=True, exist_ok=True)
    image_input = model.task != "unconditional"
    written = []
    for name, net in model.exported().items():
        path = directory / f"{name}.onnx"
        # a copy, on the CPU in fp32, so the caller's model keeps its device and mode
        _export_one(copy.deepcopy(net).cpu().float(), example_input(model, name), image_input, path)
        written.append(path)
    return written
