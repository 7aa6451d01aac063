"""Precision, recall, density and coverage on the Inception pool3 features of fid and kid.

Each metric estimates where the real and the generated images lie from balls around their
feature vectors, a ball reaching each vector's k-th nearest neighbour in its own set:

- precision (Kynkaanniemi et al. 2019): the share of generated images inside some real ball;
  fidelity, whether samples look real.
- recall (same paper): the share of real images inside some generated ball; diversity, whether
  the samples cover what the real images show.
- density (Naeem et al. 2020): how many real balls hold a generated image, over k, averaged;
  about 1 when the two sets are alike. Unlike precision, a few real outliers with large balls
  cannot make every sample count.
- coverage (same paper): the share of real images whose ball holds a generated image. Unlike
  recall, it uses balls around real images only, so generated outliers cannot inflate it.

Precision and recall are torch-fidelity's (``prc``) with the paper's k = 3. Torch-fidelity has
no density and coverage; they are computed here, in torch, as the authors' ``prdc`` package
computes them, with its default k = 5 (tests/test_manifold.py checks them against ``prdc``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch_fidelity.metric_prc import prc_features_to_metric

from ganzoo.errors import GanzooError
from ganzoo.metrics.base import MetricResult, derive_seed
from ganzoo.metrics.inception import MAX_STORED_FEATURES, POOL3, InceptionMetric

__all__ = ["Coverage", "Density", "Precision", "Recall", "density_coverage", "precision_recall"]

PR_K = 3  # Kynkaanniemi et al. 2019
DC_K = 5  # Naeem et al. 2020, the default of their prdc package
CHUNK = 1024  # distance rows at once: 1,024 x 10,000 floats is 40 MB
FAKE_ROWS_STREAM = 11  # derive_seed stream of the generated rows kept when there are too many


def precision_recall(fake: torch.Tensor, real: torch.Tensor, k: int = PR_K) -> dict[str, float]:
    """torch-fidelity's precision and recall of feature rows [N, D]."""
    out = prc_features_to_metric(
        fake,
        real,
        prc_neighborhood=k,
        prc_batch_size=CHUNK,
        save_cpu_ram=True,  # distances in chunks of CHUNK rows, never N x N at once
        verbose=False,
    )
    return {"precision": out["precision"], "recall": out["recall"]}


def kth_neighbour_distances(x: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's distance to its k-th nearest other row (the row itself is the 0th)."""
    return torch.cat(
        [torch.cdist(part, x).kthvalue(k + 1, dim=1).values for part in x.split(CHUNK)]
    )


def density_coverage(fake: torch.Tensor, real: torch.Tensor, k: int = DC_K) -> dict[str, float]:
    """Density and coverage of feature rows [N, D], as ``prdc.compute_prdc`` computes them."""
    radii = kth_neighbour_distances(real, k)
    inside = 0  # (generated image, real ball) pairs with the image inside the ball
    nearest = torch.full((len(real),), float("inf"))  # each real image's nearest generated one
    for part in fake.split(CHUNK):
        distances = torch.cdist(part, real)
        inside += int((distances < radii).sum())
        nearest = torch.minimum(nearest, distances.min(dim=0).values)
    return {
        "density": inside / (k * len(fake)),
        "coverage": float((nearest < radii).float().mean()),
    }


class ManifoldMetric(InceptionMetric):
    """Shared by the four: one feature pass (as fid and kid), one neighbour computation for each
    pair (precision and recall, density and coverage)."""

    compute_pair = staticmethod(precision_recall)
    k = PR_K
    source = "Kynkaanniemi et al. 2019, torch-fidelity's prc"
    small_n = "the balls shrink as n grows, compare only at equal n"

    def compute(self, fake, real, *, context):
        _, weights = self._net(context)
        key = (self.compute_pair.__name__, self.k, weights.sha256, id(fake), id(real))
        if key not in context.memo:
            fake_rows, real_rows = self.feature_rows(fake, real, context)
            # the images are kept with the values so that their id() cannot be reused
            values = self.compute_pair(fake_rows, real_rows, self.k)
            context.memo[key] = (fake, real, values, len(fake_rows), len(real_rows))
        _, _, values, n_fake, n_real = context.memo[key]
        protocol = self.protocol(fake, real, context, "pool3 features (2048-d)") + (
            f"; {self.source}, k={self.k}, balls around {n_real} real and {n_fake} generated "
            "feature vectors"
        )
        return MetricResult(self.name, {self.name: values[self.name]}, protocol, context.data)

    def feature_rows(self, fake, real, context) -> tuple[torch.Tensor, torch.Tensor]:
        """The pool3 rows of both sides: the real rows the reference cache keeps (at most
        10,000), and as many generated rows at most, so that both sides' balls are alike."""
        fake_rows = self.fake_features(fake, context)[POOL3]
        real_rows = torch.from_numpy(self.real_reference(real, context)["features"])
        if len(fake_rows) > MAX_STORED_FEATURES:
            rng = np.random.default_rng(derive_seed(context.seed, FAKE_ROWS_STREAM))
            keep = rng.choice(len(fake_rows), MAX_STORED_FEATURES, replace=False)
            fake_rows = fake_rows[np.sort(keep)]
        if min(len(fake_rows), len(real_rows)) <= self.k:
            raise GanzooError(
                f"{self.name} needs more than {self.k} images on each side (k={self.k} nearest "
                f"neighbours), got {len(fake_rows)} generated and {len(real_rows)} real"
            )
        return fake_rows, real_rows


class Precision(ManifoldMetric):
    """Share of generated images near some real image (fidelity); higher is better."""

    name = "precision"


class Recall(ManifoldMetric):
    """Share of real images near some generated image (diversity); higher is better."""

    name = "recall"


class Density(ManifoldMetric):
    """Real neighbourhoods holding each generated image, over k; about 1 when alike."""

    name = "density"
    compute_pair = staticmethod(density_coverage)
    k = DC_K
    source = "Naeem et al. 2020, as their prdc package"


class Coverage(Density):
    """Share of real images with a generated image in their neighbourhood; higher is better."""

    name = "coverage"
