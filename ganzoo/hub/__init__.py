"""Loading and publishing models: the public functions, gathered from the modules that do each
job, so that ``from ganzoo.hub import load`` and ``ganzoo.hub.save_pretrained`` keep working.

- ``ganzoo.hub.weights``: reading safetensors safely, and the strict key and shape check;
- ``ganzoo.hub.model_sources``: SOURCE (``hf://``, a folder, a run, a zoo name) to config and
  weights;
- ``ganzoo.hub.loading``: ``load``;
- ``ganzoo.hub.export``: Hub-ready folders, a run's export, metrics in a model card;
- ``ganzoo.hub.push``: uploads to the Hub;
- ``ganzoo.io.hub_errors``: huggingface_hub's errors as one line, for models and datasets alike.

Code inside ganzoo imports from those modules; to replace a function in a test, patch it where
it is looked up (``ganzoo.hub.model_sources.hub_download``, not ``ganzoo.hub.hub_download``).
"""

from __future__ import annotations

from ganzoo.hub.export import (
    CARD_NAME,
    SAMPLE_NAME,
    export_run,
    save_pretrained,
    update_card_metrics,
)
from ganzoo.hub.loading import load
from ganzoo.hub.model_sources import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    Source,
    hub_download,
    resolve_source,
)
from ganzoo.hub.push import push_model_to_hub, push_to_hub
from ganzoo.hub.weights import MAX_HEADER_BYTES, PICKLE_SUFFIXES, read_safetensors
from ganzoo.models import register_publishers

# GAN.save_pretrained and GAN.push_to_hub call these: models.py, below this layer, cannot import it
register_publishers(save_pretrained, push_model_to_hub)

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "MAX_HEADER_BYTES",
    "PICKLE_SUFFIXES",
    "SAMPLE_NAME",
    "WEIGHTS_NAME",
    "Source",
    "export_run",
    "hub_download",
    "load",
    "push_model_to_hub",
    "push_to_hub",
    "read_safetensors",
    "resolve_source",
    "save_pretrained",
    "update_card_metrics",
]
