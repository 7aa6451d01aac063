"""ganzoo: a plugin-based GAN model zoo for PyTorch.

Importing ganzoo is cheap: listing goes through plugin manifests and never imports torch; the
functions that build or load models import it when called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ganzoo.errors import GanzooError
from ganzoo.registry import list_models, list_plugins, registry
from ganzoo.version import __version__

if TYPE_CHECKING:
    from ganzoo.models import GAN

__all__ = [
    "GanzooError",
    "__version__",
    "create",
    "export_onnx",
    "list_models",
    "list_plugins",
    "load",
    "registry",
]


def create(name: str, recipe: str = "default", **overrides: Any) -> GAN:
    """An untrained model from the registry, e.g. ``create("dcgan", size=64)``."""
    import ganzoo.hub  # noqa: F401  the hub layer gives every model save_pretrained and push_to_hub
    from ganzoo.models import create as _create

    return _create(name, recipe, **overrides)


def load(source: str, device: str | None = None) -> GAN:
    """A pretrained model from a zoo name, ``hf://ORG/NAME[@REV]``, a Hub-ready folder or a run."""
    from ganzoo.hub import load as _load

    return _load(source, device=device)


def export_onnx(model: GAN, directory: str) -> list:
    """The model's generator(s) as ONNX files in ``directory`` (needs ``ganzoo-core[onnx]``)."""
    from ganzoo.hub.onnx_export import export_onnx as _export_onnx

    return _export_onnx(model, directory)
