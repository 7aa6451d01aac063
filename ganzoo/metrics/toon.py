"""Metrics on the embedded toon faces, read by the shipped attribute classifier
(``ganzoo.data.toon_classifier``): every toon face has one of 1,000 modes (hair colour x eye
colour x hair style), so mode coverage can be counted exactly as in Stacked MNIST, a translator's
content preservation checked against the true attributes of its inputs, and a Frechet distance
taken in a feature space that knows these faces.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import torch
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

from ganzoo.data.toon import ATTRIBUTES
from ganzoo.errors import GanzooError
from ganzoo.metrics import cache
from ganzoo.metrics.base import Context, Metric, MetricResult

MODES = 1000


@functools.cache
def _classifier(device: str):
    from ganzoo.data.toon_classifier import load_classifier

    return load_classifier(device)


def classifier(device: torch.device):
    return _classifier(str(device))


def classifier_text() -> str:
    from ganzoo.data.toon_classifier import INPUT_SIZE

    return f"toon attribute classifier (input resized to {INPUT_SIZE}x{INPUT_SIZE})"


def weights_digest(net) -> str:
    """sha256 of the classifier's tensors (a few hundred kB: cheap), for the cache key."""
    h = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def is_toon(dataset) -> bool:
    # duck-typed so that toon subsets or wrappers that keep the attribute API count too
    return hasattr(dataset, "attribute_array") and hasattr(dataset, "mode")


def expected_coverage(n: int, modes: int = MODES) -> float:
    """Modes covered on average by ``n`` draws from the uniform distribution over ``modes``."""
    return modes * (1 - (1 - 1 / modes) ** n)


def mode_stats(modes: torch.Tensor) -> tuple[int, float]:
    """(modes covered, KL divergence in nats of the mode histogram from uniform)."""
    counts = torch.bincount(modes.cpu().long(), minlength=MODES).double()
    p = counts / counts.sum()
    nz = p[p > 0]
    return int((counts > 0).sum()), float((nz * (nz * MODES).log()).sum())


class ToonMetric(Metric):
    def check(self, context: Context) -> None:
        if not is_toon(context.real_dataset):
            raise GanzooError(
                f"{self.name} needs toon data (--data toon): the attribute classifier only knows "
                f"the toon faces, and {context.data!r} is not toon"
            )
        classifier(context.device)  # fails here, before sampling, if its weights are missing


class ToonModes(ToonMetric):
    """Modes covered out of 1,000 and KL(generated modes || uniform), as in Stacked MNIST."""

    name = "toon-modes"

    def compute(self, fake, real, *, context):
        net = classifier(context.device)
        covered, kl = mode_stats(net.modes(fake))
        covered_real, kl_real = mode_stats(net.modes(real))
        values = {
            "modes": float(covered),
            "kl": kl,
            "modes_real": float(covered_real),
            "kl_real": kl_real,
            "modes_uniform": expected_coverage(len(fake)),
        }
        protocol = (
            f"{len(fake)} generated and {len(real)} real images classified by the "
            f"{classifier_text()}; modes = distinct (hair colour, eye colour, hair style) of "
            f"{MODES}; kl = KL(p || uniform) in nats; modes_uniform = expected coverage of "
            f"{len(fake)} uniform draws; seed {context.seed}"
        )
        return MetricResult(self.name, values, protocol, context.data)


class ToonContent(ToonMetric):
    """Fraction of translations whose three attributes equal those of their input."""

    name = "toon-content"

    def check(self, context: Context) -> None:
        if context.task != "translation":
            raise GanzooError(f"{self.name} scores translators; this model is {context.task}")
        if context.source_attributes is None:
            raise GanzooError(
                f"{self.name} needs toon source images with known attributes (--data toon)"
            )
        super().check(context)

    def compute(self, fake, real, *, context):
        net = classifier(context.device)
        truth = torch.as_tensor(np.asarray(context.source_attributes), dtype=torch.long)
        predicted = net.predict(fake)
        names = ATTRIBUTES  # hair_colour, eye_colour, hair_style: the columns of truth
        same = torch.stack([predicted[k].cpu() == truth[:, i] for i, k in enumerate(names)], 1)
        values = {"all": same.all(1).double().mean().item()}
        values.update({k: same[:, i].double().mean().item() for i, k in enumerate(names)})
        if context.source is not None:
            # the classifier's own accuracy on the inputs: the ceiling of "all"
            src = net.predict(context.source)
            src_same = torch.stack([src[k].cpu() == truth[:, i] for i, k in enumerate(names)], 1)
            values["source_all"] = src_same.all(1).double().mean().item()
        protocol = (
            f"{len(fake)} source images translated and classified by the "
            f"{classifier_text()}, compared with the inputs' true attributes; source_all = the "
            f"classifier on the inputs themselves; seed {context.seed}"
        )
        return MetricResult(self.name, values, protocol, context.data)


class ToonFID(ToonMetric):
    """Frechet distance in the classifier's feature space against real toon (anime) images."""

    name = "toon-fid"

    def compute(self, fake, real, *, context):
        net = classifier(context.device)
        digest = weights_digest(net)

        def reference() -> dict[str, np.ndarray]:
            stats = fid_features_to_statistics(net.features(real).cpu())
            return {"mu": stats["mu"], "sigma": stats["sigma"]}

        parts = None
        if context.real_key is not None:
            parts = {"real": context.real_key, "classifier_sha256": digest}
        ref = cache.cached_arrays("toon-features", parts, reference)
        stats = fid_features_to_statistics(net.features(fake).cpu())
        fid = fid_statistics_to_metric(stats, {"mu": ref["mu"], "sigma": ref["sigma"]}, False)
        protocol = (
            f"{len(fake)} generated vs {len(real)} real images, features of the "
            f"{classifier_text()} ({net.feature_dim}-d, weights sha256 {digest[:12]}), Frechet "
            f"distance by torch-fidelity; seed {context.seed}"
        )
        values = {"toon-fid": fid["frechet_inception_distance"]}
        return MetricResult(self.name, values, protocol, context.data)
