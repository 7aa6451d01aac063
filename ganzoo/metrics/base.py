"""What a metric is: ``compute(fake, real, context=...) -> MetricResult``.

Metrics are registered in the registry's ``metrics`` kind (see ``ganzoo.builtins``) by a builder
that takes no arguments, so a plugin adds one by subclassing ``Metric`` and naming it in its
manifest. ``ganzoo.evaluate`` draws the images and calls every metric with the same ``Context``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class MetricResult:
    """Numbers of one metric and the protocol that produced them (a value means nothing without
    the number of images, the resizing, the feature extractor and the seed)."""

    name: str
    values: dict[str, float]
    protocol: str
    data: str | None = None
    #: set by ``ganzoo.evaluate``: n, n_real, real (which real set), size and resize
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "values": {k: float(v) for k, v in self.values.items()},
            "protocol": self.protocol,
            "data": self.data,
            **self.details,
        }


@dataclass
class Context:
    """Everything a metric may need besides the two image sets.

    ``real_key`` names the content of the real images (dataset identity, size, how many, which):
    metrics cache reference statistics under it, or not at all when it is None.
    """

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    data: str | None = None
    task: str = "unconditional"
    real_key: str | None = None
    real_dataset: Any = None
    #: translators: the source images that were translated (uint8) and, where the source dataset
    #: knows them (toon), their true attributes [N, 3]
    source: torch.Tensor | None = None
    source_dataset: Any = None
    source_attributes: np.ndarray | None = None
    inception_weights: str | None = None
    #: what the metrics of one evaluation share: the Inception metrics' features (one pass per
    #: image set), and precision/recall and density/coverage, each pair computed once
    memo: dict[Any, Any] = field(default_factory=dict)


class Metric:
    """Subclasses set ``name`` and implement ``compute``; ``check`` fails early (before any image
    is generated) when something the metric needs is missing."""

    name = "metric"

    def check(self, context: Context) -> None:
        """Raises GanzooError if this metric cannot run in ``context``."""

    def compute(self, fake: torch.Tensor, real: torch.Tensor, *, context: Context) -> MetricResult:
        """``fake`` and ``real`` are uint8 tensors [N, 3, H, W] on the CPU."""
        raise NotImplementedError


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] float images to uint8, rounded as when saved to PNG; uint8 passes through."""
    if images.dtype == torch.uint8:
        return images
    return images.detach().float().mul(255).round_().clamp_(0, 255).to(torch.uint8)


def derive_seed(seed: int, *stream: int) -> int:
    """An independent 63-bit seed for one use of the user's seed (real draw, a batch, ...)."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, *stream]).generate_state(2)
    return int((int(state[0]) << 31) ^ int(state[1])) & (2**63 - 1)
