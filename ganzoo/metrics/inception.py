"""FID, KID and Inception Score with the standard Inception, through torch-fidelity.

The network is torch-fidelity's ``FeatureExtractorInceptionV3``: the TensorFlow Inception of
2015-12-05 ported to PyTorch, with TF1's bilinear resize to 299x299 inside it, so the numbers
are comparable with the TTUR / torch-fidelity / clean literature. The metrics themselves are
torch-fidelity's functions on feature arrays; nothing of the arithmetic is re-implemented here.

Weights, in order: an explicit path (argument or ``GANZOO_INCEPTION_WEIGHTS``), torch hub's
checkpoint folder (where torch-fidelity and pytorch-fid put their downloads), then a download.
"""

from __future__ import annotations

import functools
import os
import pickle
import sys
import urllib.error
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from torch_fidelity.feature_extractor_inceptionv3 import (
    URL_INCEPTION_V3,
    FeatureExtractorInceptionV3,
)
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric

from ganzoo.errors import GanzooError
from ganzoo.metrics import cache
from ganzoo.metrics.base import Context, Metric, MetricResult, derive_seed

WEIGHTS_ENV = "GANZOO_INCEPTION_WEIGHTS"
WEIGHTS_URL = URL_INCEPTION_V3
WEIGHTS_NAME = URL_INCEPTION_V3.rsplit("/", 1)[-1]  # weights-inception-2015-12-05-6726825d.pth
# pytorch-fid's name for the same converted weights (same hash suffix); found if present
OTHER_NAMES = ("pt_inception-2015-12-05-6726825d.pth",)
EXTRACTOR = "inception-v3-compat"
LAYERS = ("2048", "logits_unbiased")  # pool3 features for FID/KID, logits for IS
BATCH = 64  # torch-fidelity's default batch size
PREPROCESSING = "uint8 RGB, TF1-compatible bilinear resize to 299x299 inside the network"
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
IS_SPLITS = 10
MAX_STORED_FEATURES = 10_000  # rows of real features kept in the cache for KID


def default_weights_path() -> Path:
    """Where torch-fidelity's download lands: ``$TORCH_HOME/hub/checkpoints/<name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def _offline() -> bool:
    return any(
        os.environ.get(var, "").strip().lower() in ("1", "on", "yes", "true")
        for var in ("GANZOO_OFFLINE", "HF_HUB_OFFLINE")
    )


def _download(url: str, path: Path) -> None:
    # torch hub writes to a temporary file and renames it: no half file is left behind
    print(f"downloading the Inception weights (about 95 MB) to {path}", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(url, str(path), progress=True)


def _missing_message(reason: str) -> str:
    return (
        f"the Inception weights for fid/kid/is are not available ({reason}); download "
        f"{WEIGHTS_URL} to {default_weights_path()}, or set {WEIGHTS_ENV} to the file"
    )


def find_weights(path: str | Path | None = None, download: bool = True) -> Path:
    """The Inception weights file: ``path``, ``$GANZOO_INCEPTION_WEIGHTS``, the torch hub
    cache, or a download into it. Raises one GanzooError line saying where to put the file."""
    given = path or os.environ.get(WEIGHTS_ENV)
    if given:
        given = Path(given).expanduser()
        if not given.is_file():
            raise GanzooError(f"Inception weights file {given} does not exist")
        return given
    target = default_weights_path()
    for name in (WEIGHTS_NAME, *OTHER_NAMES):
        if (target.parent / name).is_file():
            return target.parent / name
    if not download or _offline():
        raise GanzooError(_missing_message("offline: GANZOO_OFFLINE or HF_HUB_OFFLINE is set"))
    try:
        _download(WEIGHTS_URL, target)
    except (urllib.error.URLError, OSError, RuntimeError) as exc:
        reason = str(getattr(exc, "reason", exc)).splitlines()[0]
        raise GanzooError(_missing_message(f"download failed: {reason}")) from None
    return target


def _bare_inception() -> FeatureExtractorInceptionV3:
    """torch-fidelity's Inception with its layers built but no weights loaded: its constructor
    always loads some, from the URL or by unpickling a given path; we load ours ourselves."""
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    with (
        mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: None),
        mock.patch.object(FeatureExtractorInceptionV3, "load_state_dict", lambda *a, **k: None),
    ):
        return FeatureExtractorInceptionV3(EXTRACTOR, list(LAYERS))


@functools.cache
def _load(path: str, sha256: str, device: str) -> FeatureExtractorInceptionV3:
    # sha256 is in the key so that a replaced file is reloaded
    net = _bare_inception()
    try:
        # weights_only: a weights file from anywhere must not run code when it is read
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise GanzooError(
            f"{path} is not an Inception weights file for torch-fidelity: "
            f"{str(exc).splitlines()[0]}"
        ) from None
    return net.to(device)


def load_inception(
    device: str | torch.device = "cpu", weights: str | Path | None = None
) -> tuple[FeatureExtractorInceptionV3, Path, str]:
    """(network, weights path, weights sha256); loaded once per process and device."""
    path = find_weights(weights)
    digest = cache.file_sha256(path)
    return _load(str(path), digest, str(torch.device(device))), path, digest


def extract(
    net: FeatureExtractorInceptionV3, images: torch.Tensor, device: str | torch.device
) -> dict[str, torch.Tensor]:
    """{layer: float32 [N, D] on the CPU} for uint8 images [N, 3, H, W], in batches of 64."""
    if images.dtype != torch.uint8:
        raise GanzooError("Inception features need uint8 images")  # as torch-fidelity asserts
    out: dict[str, list[torch.Tensor]] = {name: [] for name in LAYERS}
    with torch.no_grad():
        for start in range(0, len(images), BATCH):
            batch = images[start : start + BATCH].to(device)
            for name, value in zip(LAYERS, net(batch), strict=True):
                out[name].append(value.cpu())
    return {name: torch.cat(parts) for name, parts in out.items()}


def random_inception_weights(path: str | Path, seed: int = 0) -> Path:
    """Writes randomly initialised weights in torch-fidelity's layout, for tests and benchmarks
    on machines without the real file. He-initialised so that features neither vanish nor blow
    up through the network (PyTorch's default init leaves pool3 features around 1e-8)."""
    torch.manual_seed(seed)
    net = _bare_inception()
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
    """Shared by fid, kid and is: one feature pass per image set and evaluation."""

    def check(self, context: Context) -> None:
        find_weights(context.inception_weights)

    def _net(self, context: Context):
        return load_inception(context.device, context.inception_weights)

    def fake_features(self, fake: torch.Tensor, context: Context) -> dict[str, torch.Tensor]:
        net, _, digest = self._net(context)
        key = ("inception-fake", digest, id(fake))
        if key not in context.memo:
            # the images are kept with their features so that their id() cannot be reused
            context.memo[key] = (fake, extract(net, fake, context.device))
        return context.memo[key][1]

    def real_reference(self, real: torch.Tensor, context: Context) -> dict[str, np.ndarray]:
        """mu, sigma, features (at most 10,000 rows, for KID) and logits of the real images."""
        net, _, digest = self._net(context)
        key = ("inception-real", digest, id(real))
        if key in context.memo:
            return context.memo[key][1]

        def compute() -> dict[str, np.ndarray]:
            feats = extract(net, real, context.device)
            stats = fid_features_to_statistics(feats["2048"])
            rows = np.arange(len(real))
            if len(rows) > MAX_STORED_FEATURES:
                rng = np.random.default_rng(derive_seed(context.seed, 10))
                rows = np.sort(rng.choice(rows, MAX_STORED_FEATURES, replace=False))
            return {
                "mu": stats["mu"],
                "sigma": stats["sigma"],
                "features": feats["2048"].numpy()[rows],
                "logits": feats["logits_unbiased"].numpy()[rows],
                "count": np.array(len(real)),
            }

        parts = None
        if context.real_key is not None:
            parts = {
                "real": context.real_key,
                "extractor": EXTRACTOR,
                "layers": list(LAYERS),
                "weights_sha256": digest,
                "preprocessing": PREPROCESSING,
                "max_rows": MAX_STORED_FEATURES,
            }
        context.memo[key] = (real, cache.cached_arrays("inception", parts, compute))
        return context.memo[key][1]

    def protocol(self, fake: torch.Tensor, real: torch.Tensor, context: Context, layer: str) -> str:
        _, path, digest = self._net(context)
        h, w = fake.shape[-2:]
        return (
            f"{len(fake)} generated vs {len(real)} real images at {w}x{h}, {PREPROCESSING}; "
            f"torch-fidelity {EXTRACTOR} ({path.name}, sha256 {digest[:12]}), {layer}; "
            f"seed {context.seed}"
        )


class FID(InceptionMetric):
    """Frechet Inception distance on pool3 features (Heusel et al. 2017); lower is better."""

    name = "fid"

    def compute(self, fake, real, *, context):
        ref = self.real_reference(real, context)
        stats = fid_features_to_statistics(self.fake_features(fake, context)["2048"])
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
        fake_features = self.fake_features(fake, context)["2048"]
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

    def compute(self, fake, real, *, context):
        logits = self.fake_features(fake, context)["logits_unbiased"]
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
