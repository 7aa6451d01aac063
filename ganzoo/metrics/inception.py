"""FID, KID and Inception Score with the standard Inception, through torch-fidelity.

The network is torch-fidelity's ``FeatureExtractorInceptionV3``: the TensorFlow Inception of
2015-12-05 ported to PyTorch, with TF1's bilinear resize to 299x299 inside it, so the numbers
are comparable with the TTUR / torch-fidelity / StyleGAN2-ADA literature. The metrics themselves
are torch-fidelity's functions on feature arrays; nothing of the arithmetic is re-implemented.
Which weights file fills the network is ``inception_weights.find_weights``'s business.
"""

from __future__ import annotations

import functools
import pickle
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from ganzoo.errors import GanzooError
from ganzoo.metrics import cache
from ganzoo.metrics.base import Context, Metric, MetricResult, derive_seed
from ganzoo.metrics.inception_weights import (
    FIDELITY_URL,
    WEIGHTS_ENV,
    InceptionWeights,
    find_weights,
)

__all__ = ["FID", "KID", "InceptionScore", "WEIGHTS_ENV", "FIDELITY_URL", "find_weights"]

EXTRACTOR = "inception-v3-compat"
POOL3, LOGITS = "2048", "logits_unbiased"  # pool3 features for FID/KID, logits for IS
BATCH = 64  # torch-fidelity's default batch size
RESIZE = "TF1-compatible bilinear resize to 299x299 inside the network"
PREPROCESSING = f"uint8 RGB, {RESIZE}"
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
IS_SPLITS = 10
MAX_STORED_FEATURES = 10_000  # rows of real features kept in the cache for KID
# the n at which FID is usually reported; below it FID is biased upward (Chong & Forsyth 2020)
FULL_N = 10_000


def bare_inception(layers: tuple[str, ...] = (POOL3, LOGITS)) -> FeatureExtractorInceptionV3:
    """torch-fidelity's Inception with its layers built but no weights loaded: its constructor
    always loads some, from the URL or by unpickling a given path; we load ours ourselves."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with (
        mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: None),
        mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None),
    ):
        return FeatureExtractorInceptionV3(EXTRACTOR, list(layers))


def layers_of(weights: InceptionWeights) -> tuple[str, ...]:
    return (POOL3, LOGITS) if weights.has_logits else (POOL3,)


@functools.cache
def _load(weights: InceptionWeights, device: str) -> FeatureExtractorInceptionV3:
    # cached per weights (path and sha256), so that a replaced file is reloaded
    net = bare_inception(layers_of(weights))
    try:
        state = weights.state_dict()
        missing, unexpected = net.load_state_dict(state, strict=False)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise GanzooError(
            f"{weights.path} is not an Inception weights file for torch-fidelity: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    # a pool3-only file has no logits layer; anything else missing is a wrong file
    allowed = set() if weights.has_logits else {"fc.weight", "fc.bias"}
    missing = {k for k in missing if not k.endswith("num_batches_tracked")} - allowed
    if missing or unexpected:
        names = sorted(missing or unexpected)[:3]
        raise GanzooError(
            f"{weights.path} is not an Inception weights file for torch-fidelity: "
            f"{'missing' if missing else 'unexpected'} {', '.join(names)}"
        )
    return _channels_last(net.eval().to(device))


def _channels_last(net: FeatureExtractorInceptionV3) -> FeatureExtractorInceptionV3:
    """oneDNN and cuDNN convolve NHWC faster (measured 1.5x on 2 CPU cores); the resize inside
    torch-fidelity's forward returns a strided tensor, so the first convolution's input is laid
    out again. Features change by about 1e-5 (summation order), far below FID's noise."""
    net = net.to(memory_format=torch.channels_last)
    net.Conv2d_1a_3x3.register_forward_pre_hook(
        lambda module, inputs: (inputs[0].contiguous(memory_format=torch.channels_last),)
    )
    return net


def load_inception(
    device: str | torch.device = "cpu", weights: str | None = None, logits: bool = False
) -> tuple[FeatureExtractorInceptionV3, InceptionWeights]:
    """(network, its weights); loaded once per process, weights file and device."""
    found = find_weights(weights, logits=logits)
    return _load(found, str(torch.device(device))), found


def extract(
    net: FeatureExtractorInceptionV3, images: torch.Tensor, device: str | torch.device
) -> dict[str, torch.Tensor]:
    """{layer: float32 [N, D] on the CPU} for uint8 images [N, 3, H, W], in batches of 64."""
    if images.dtype != torch.uint8:
        raise GanzooError("Inception features need uint8 images")  # as torch-fidelity asserts
    layers = list(net.features_list)
    out: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            batch = images[start : start + BATCH].to(device)
            for name, value in zip(layers, net(batch), strict=True):
                out[name].append(value.cpu())
    return {name: torch.cat(parts) for name, parts in out.items()}


def random_inception_weights(path: str | Path, seed: int = 0) -> Path:
    """Writes randomly initialised weights in torch-fidelity's layout, for tests and benchmarks
    on machines without the real file. He-initialised so that features neither vanish nor blow
    up through the network (PyTorch's default init leaves pool3 features around 1e-8)."""
    torch.manual_seed(seed)
    net = bare_inception()
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        elif isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=module.in_features**-0.5)
            torch.nn.init.zeros_(module.bias)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return path


class InceptionMetric(Metric):
    """Shared by fid, kid and is: one feature pass per image set, network and evaluation."""

    needs_logits = False

    def check(self, context: Context) -> None:
        find_weights(context.inception_weights, logits=self.needs_logits)

    def _net(self, context: Context) -> tuple[FeatureExtractorInceptionV3, InceptionWeights]:
        return load_inception(context.device, context.inception_weights, self.needs_logits)

    def fake_features(self, fake: torch.Tensor, context: Context) -> dict[str, torch.Tensor]:
        net, weights = self._net(context)
        key = ("inception-fake", weights.sha256, id(fake))
        if key not in context.memo:
            # the images are kept with their features so that their id() cannot be reused
            context.memo[key] = (fake, extract(net, fake, context.device))
        return context.memo[key][1]

    def real_reference(self, real: torch.Tensor, context: Context) -> dict[str, np.ndarray]:
        """mu, sigma, features (at most 10,000 rows, for KID) and, where the network has them,
        logits of the real images; cached per (network, real set, size, n, seed)."""
        net, weights = self._net(context)
        key = ("inception-real", weights.sha256, id(real))
        if key in context.memo:
            return context.memo[key][1]

        def compute() -> dict[str, np.ndarray]:
            feats = extract(net, real, context.device)
            stats = fid_features_to_statistics(feats[POOL3])
            rows = np.arange(len(real))
            if len(rows) > MAX_STORED_FEATURES:
                rng = np.random.default_rng(derive_seed(context.seed, 10))
                rows = np.sort(rng.choice(rows, MAX_STORED_FEATURES, replace=False))
            arrays = {
                "mu": stats["mu"],
                "sigma": stats["sigma"],
                "features": feats[POOL3].numpy()[rows],
                "count": np.array(len(real)),
            }
            if LOGITS in feats:
                arrays["logits"] = feats[LOGITS].numpy()[rows]
            return arrays

        parts = None
        if context.real_key is not None:
            parts = {
                "real": context.real_key,
                "extractor": EXTRACTOR,
                "layers": list(layers_of(weights)),
                "weights_sha256": weights.sha256,
                "preprocessing": PREPROCESSING,
                "max_rows": MAX_STORED_FEATURES,
            }
        context.memo[key] = (real, cache.cached_arrays("inception", parts, compute))
        return context.memo[key][1]

    def protocol(self, fake: torch.Tensor, real: torch.Tensor, context: Context, layer: str) -> str:
        _, weights = self._net(context)
        h, w = fake.shape[-2:]
        note = ""
        if min(len(fake), len(real)) < FULL_N:
            note = f" (n below {FULL_N:,}: biased upward, compare only at equal n)"
        return (
            f"{len(fake)} generated vs {len(real)} real images{note} at {w}x{h}, "
            f"{PREPROCESSING}; torch-fidelity {EXTRACTOR} with {weights.origin} "
            f"(sha256 {weights.sha256[:12]}), {layer}; seed {context.seed}"
        )


class FID(InceptionMetric):
    """Frechet Inception distance on pool3 features (Heusel et al. 2017); lower is better."""

    name = "fid"

    def compute(self, fake, real, *, context):
        ref = self.real_reference(real, context)
        stats = fid_features_to_statistics(self.fake_features(fake, context)[POOL3])
        fid = fid_statistics_to_metric(stats, {"mu": ref["mu"], "sigma": ref["sigma"]}, False)
        return MetricResult(
            self.name,
            {"fid": fid["frechet_inception_distance"]},
            self.protocol(fake, real, context, "pool3 features (2048-d)"),
            context.data,
        )


class KID(InceptionMetric):
    """Kernel Inception distance (Binkowski et al. 2018): unbiased MMD^2, cubic polynomial
    kernel, averaged over random subsets; lower is better."""

    name = "kid"

    def __init__(self, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE):
        self.subsets, self.subset_size = subsets, subset_size

    def compute(self, fake, real, *, context):
        ref = self.real_reference(real, context)
        fake_features = self.fake_features(fake, context)[POOL3]
        real_features = torch.from_numpy(ref["features"])
        # torch-fidelity's default subset size, or all images when there are fewer
        subset = min(self.subset_size, len(fake_features), len(real_features))
        kid = kid_features_to_metric(
            fake_features,
            real_features,
            kid_subsets=self.subsets,
            kid_subset_size=subset,
            rng_seed=context.seed,
            verbose=False,
        )
        protocol = self.protocol(fake, real, context, "pool3 features (2048-d)") + (
            f"; {self.subsets} subsets of {subset}, polynomial kernel degree 3"
        )
        return MetricResult(
            self.name,
            {
                "kid": kid["kernel_inception_distance_mean"],
                "std": kid["kernel_inception_distance_std"],
            },
            protocol,
            context.data,
        )


class InceptionScore(InceptionMetric):
    """Inception Score (Salimans et al. 2016) of the generated images, with the real images'
    beside it; higher is better."""

    name = "is"
    needs_logits = True

    def compute(self, fake, real, *, context):
        logits = self.fake_features(fake, context)[LOGITS]
        ref = self.real_reference(real, context)
        splits = min(IS_SPLITS, len(logits), len(ref["logits"]))  # no empty splits for tiny n
        score = isc_features_to_metric(logits, splits, True, context.seed)
        real_score = isc_features_to_metric(
            torch.from_numpy(ref["logits"]), splits, True, context.seed
        )
        return MetricResult(
            self.name,
            {
                "is": score["inception_score_mean"],
                "std": score["inception_score_std"],
                "real": real_score["inception_score_mean"],
            },
            self.protocol(fake, real, context, "unbiased logits") + f"; {splits} splits",
            context.data,
        )
