"""Loading and publishing models: the public functions, gathered from the modules that do each
job, so that ``from ganzoo.hub import load`` and ``ganzoo.hub.save_pretrained`` keep working.

- ``ganzoo.weights``: reading safetensors safely, and the strict key and shape check;
- ``ganzoo.model_sources``: SOURCE (``hf://``, a folder, a run, a zoo name) to config and weights;
- ``ganzoo.loading``: ``load``;
- ``ganzoo.export``: Hub-ready folders, a run's export, metrics in a model card;
- ``ganzoo.push``: uploads to the Hub;
- ``ganzoo.hub_errors``: huggingface_hub's errors as one line, for models and datasets alike.

Code inside ganzoo imports from those modules; to replace a function in a test, patch it where
it is looked up (``ganzoo.model_sources.hub_download``, not ``ganzoo.hub.hub_download``).
"""

from __future__ import annotations

from ganzoo.export import (
    CARD_NAME,
    SAMPLE_NAME,
    export_run,
    save_pretrained,
    update_card_metrics,
)
from ganzoo.loading import load
from ganzoo.model_sources import (
    CONFIG_NAME,
    WEIGHTS_NAME,
    Source,
    hub_download,
    resolve_source,
)
from ganzoo.push import push_model_to_hub, push_to_hub
from ganzoo.weights import MAX_HEADER_BYTES, PICKLE_SUFFIXES, read_safetensors

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
