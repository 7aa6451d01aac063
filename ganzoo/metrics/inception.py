"""FID, KID and Inception Score with the standard Inception, through torch-fidelity.

The network is torch-fidelity's ``FeatureExtractorInceptionV3``: the TensorFlow Inception of
2015-12-05 ported to PyTorch, with TF1's bilinear resize to 299x299 inside it, so the numbers
are comparable with the TTUR / torch-fidelity / StyleGAN2-ADA literature. The metrics themselves
are torch-fidelity's functions on feature arrays; nothing of the arithmetic is re-implemented.
Which weights file fills the network is ``inception_weights.find_weights``'s business.

Features are computed on one of two faster paths than torch-fidelity's own (``plain_inception``),
both equal to it to 1e-4 (tests/test_inception_fast.py): ``onnxruntime`` runs the layers in ONNX
Runtime from a copy exported once into the cache, where the ``ganzoo-core[onnx]`` extra is installed
and the device is the CPU; ``torch`` runs them in torch with each batch norm folded into its
convolution, in the channels-last layout. ``BACKEND`` says which; benchmarks/bench_metrics.py
times both against the path before them.
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from torch.nn.utils.fusion import fuse_conv_bn_eval
from torch_fidelity.feature_extractor_inceptionv3 import BasicConv2d, FeatureExtractorInceptionV3
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
from torch_fidelity.metric_isc import isc_features_to_metric
from torch_fidelity.metric_kid import kid_features_to_metric
from tqdm import tqdm

from ganzoo.errors import GanzooError, first_line
from ganzoo.io.files import atomic_write
from ganzoo.metrics import cache
from ganzoo.metrics.base import Context, Metric, MetricResult, derive_seed
from ganzoo.metrics.inception_weights import (
    EXTRACTOR,
    FIDELITY_URL,
    LOGITS,
    POOL3,
    WEIGHTS_ENV,
    InceptionWeights,
    bare_inception,
    find_weights,
)

__all__ = ["FID", "KID", "InceptionScore", "WEIGHTS_ENV", "FIDELITY_URL", "find_weights"]

# images per forward pass: 32 (torch-fidelity's default is 64) measured 5% faster on the torch
# path, and onnxruntime splits it into one part per thread (benchmarks/bench_metrics.py)
BATCH = 32
INPUT_SIZE = FeatureExtractorInceptionV3.INPUT_IMAGE_SIZE  # 299
#: "auto": onnxruntime on the CPU where the ganzoo-core[onnx] extra is installed, else torch
BACKEND = "auto"
ONNX_OPSET = 18  # what torch's exporter writes natively (see ganzoo/hub/onnx_export.py)
ONNX_FORMAT = "pool3-v1"  # in the cached .onnx file's name: bump when the exported graph changes
RESIZE = "TF1-compatible bilinear resize to 299x299 inside the network"
PREPROCESSING = f"uint8 RGB, {RESIZE}"
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
IS_SPLITS = 10
MAX_STORED_FEATURES = 10_000  # rows of real features kept in the cache for KID
# the n at which FID is usually reported; below it FID is biased upward (Chong & Forsyth 2020)
FULL_N = 10_000


def layers_of(weights: InceptionWeights) -> tuple[str, ...]:
    return (POOL3, LOGITS) if weights.has_logits else (POOL3,)


def plain_inception(weights: InceptionWeights, device: str) -> FeatureExtractorInceptionV3:
    """torch-fidelity's network with ``weights``, run as torch-fidelity runs it: the reference
    that the faster paths below are tested against."""
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
    return net.eval().to(device)


@functools.cache
def _load(weights: InceptionWeights, device: str, backend: str, threads: int):
    # cached per weights (path and sha256), so that a replaced file is reloaded; per thread
    # count, which an onnxruntime session fixes when it is made
    if backend == "onnxruntime":
        try:
            return OnnxInception(plain_inception(weights, "cpu"), weights)
        except Exception as exc:  # noqa: BLE001 - the exporter and onnxruntime raise many types
            warnings.warn(
                f"Inception features on onnxruntime failed ({first_line(exc)}); using torch",
                stacklevel=3,
            )
    return channels_last(fold_batch_norms(plain_inception(weights, device)))


def fold_batch_norms(net: FeatureExtractorInceptionV3) -> FeatureExtractorInceptionV3:
    """Each convolution absorbs the batch norm after it (in eval mode a fixed scale and shift
    per channel), which saves a pass over every activation. Features change by about 1e-6."""
    for module in list(net.modules()):
        if isinstance(module, BasicConv2d):
            module.conv = fuse_conv_bn_eval(module.conv, module.bn)
            module.bn = torch.nn.Identity()
    return net


def channels_last(net: FeatureExtractorInceptionV3) -> FeatureExtractorInceptionV3:
    """oneDNN and cuDNN convolve NHWC faster (measured 1.5x on 2 CPU cores); the resize inside
    torch-fidelity's forward returns a strided tensor, so the first convolution's input is laid
    out again. Features change by about 1e-5 (summation order), far below FID's noise."""
    net = net.to(memory_format=torch.channels_last)
    net.Conv2d_1a_3x3.register_forward_pre_hook(
        lambda module, inputs: (inputs[0].contiguous(memory_format=torch.channels_last),)
    )
    return net


def onnxruntime_available() -> bool:
    """onnxruntime, and onnxscript for torch's exporter (the ``ganzoo-core[onnx]`` extra)."""
    return all(importlib.util.find_spec(name) for name in ("onnxruntime", "onnxscript"))


def resolve_backend(backend: str | None, device: str | torch.device) -> str:
    """``torch`` or ``onnxruntime`` for ``backend`` (None: ``BACKEND``) on ``device``."""
    backend = backend or BACKEND
    if backend not in ("auto", "torch", "onnxruntime"):
        raise GanzooError(f"unknown Inception backend {backend!r}; known: auto, torch, onnxruntime")
    if backend == "auto":
        cpu = torch.device(device).type == "cpu"
        return "onnxruntime" if cpu and onnxruntime_available() else "torch"
    return backend


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """The first steps of torch-fidelity's forward: uint8 to float, the TF1 bilinear resize to
    299x299, then [-1, 1)."""
    x = interpolate_bilinear_2d_like_tensorflow1x(
        images.float(), size=(INPUT_SIZE, INPUT_SIZE), align_corners=False
    )
    return (x - 128) / 128


def trunk(net: FeatureExtractorInceptionV3) -> torch.nn.Module:
    """preprocessed images to pool3 features: the network's layers in their forward order."""
    layers = [module for name, module in net.named_children() if name != "fc"]
    return torch.nn.Sequential(*layers, torch.nn.Flatten(1))


def onnx_file(net: FeatureExtractorInceptionV3, weights: InceptionWeights) -> Path:
    """The network's ``trunk`` as an ONNX file, exported once per weights into the cache (an
    export takes tens of seconds; the file is about 90 MB)."""
    path = cache.cache_dir() / f"inception-{weights.sha256[:24]}-{ONNX_FORMAT}.onnx"
    if path.is_file():
        return path
    example = torch.zeros(2, 3, INPUT_SIZE, INPUT_SIZE)  # batch 2: 1 would be specialised
    batch = torch.export.Dim("batch", min=1, max=65536)

    def write(tmp: Path) -> None:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's notes on its own internals
            torch.onnx.export(
                trunk(net),
                (example,),
                str(tmp),
                input_names=["image"],
                output_names=[POOL3],
                dynamic_shapes=({0: batch},),
                opset_version=ONNX_OPSET,
                dynamo=True,
                verbose=False,
                external_data=False,
            )

    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, write)


class OnnxInception:
    """The network with its layers run by onnxruntime, which folds each batch norm into its
    convolution, fuses the ReLU and convolves in its own blocked layout; the resize before and
    the logits' matrix product after are torch-fidelity's own, in torch. Called like the
    network: uint8 images to a tuple of features in ``features_list`` order.

    Each batch is split into one part per torch thread, and the parts run side by side on
    one-thread sessions: 1.1x the images/s of one session with all the threads (17.7 against 16.0
    on 2 cores), whose threads wait for each other in every layer."""

    def __init__(
        self, net: FeatureExtractorInceptionV3, weights: InceptionWeights, parts: int | None = None
    ):
        """``net``: ``plain_inception(weights, "cpu")``; ``parts``: how many parts run side by
        side (default: one per torch thread), each on threads / parts threads."""
        import onnxruntime

        self.features_list = list(net.features_list)
        self.fc_weight = net.fc.weight.detach() if LOGITS in self.features_list else None
        threads = max(1, torch.get_num_threads())  # the threads torch would use
        self.parts = min(parts or threads, threads)
        self.pool = ThreadPoolExecutor(self.parts) if self.parts > 1 else None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads // self.parts
        options.inter_op_num_threads = 1
        path = onnx_file(net, weights)
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception:  # noqa: BLE001 - a damaged cache file: export it again, once
            path.unlink(missing_ok=True)
            self.session = onnxruntime.InferenceSession(
                str(onnx_file(net, weights)), options, providers=["CPUExecutionProvider"]
            )

    def __call__(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.pool is None:
            pool3 = torch.from_numpy(self._run(images))
        else:
            pool3 = torch.from_numpy(np.concatenate(self._run_side_by_side(images)))
        out = {POOL3: pool3}
        if self.fc_weight is not None:
            out[LOGITS] = pool3.mm(self.fc_weight.T)  # as torch-fidelity's logits_unbiased
        return tuple(out[name] for name in self.features_list)

    def _run(self, images: torch.Tensor) -> np.ndarray:
        return self.session.run(None, {"image": preprocess(images.cpu()).numpy()})[0]

    def _run_side_by_side(self, images: torch.Tensor) -> list[np.ndarray]:
        # Each part is resized and run in its own thread (torch and onnxruntime let go of the
        # GIL), with torch on one thread meanwhile: otherwise torch's idle threads spin on the
        # cores the parts need (measured 17.7 img/s against 16.5).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            parts = torch.tensor_split(images, min(self.parts, len(images)))
            return list(self.pool.map(self._run, parts))
        finally:
            torch.set_num_threads(threads)


def load_inception(
    device: str | torch.device = "cpu",
    weights: str | None = None,
    logits: bool = False,
    backend: str | None = None,
) -> tuple[FeatureExtractorInceptionV3 | OnnxInception, InceptionWeights]:
    """(network, its weights); loaded once per process, weights file, device and backend
    (``BACKEND`` when None). The network is called on uint8 images [N, 3, H, W] and returns a
    tuple of features in its ``features_list`` order."""
    found = find_weights(weights, logits=logits)
    resolved = resolve_backend(backend, device)
    return _load(found, str(torch.device(device)), resolved, torch.get_num_threads()), found


def extract(
    net,
    images: torch.Tensor,
    device: str | torch.device,
    desc: str | None = None,
    batch: int = BATCH,
) -> dict[str, torch.Tensor]:
    """{layer: float32 [N, D] on the CPU} for uint8 images [N, 3, H, W], in batches of
    ``batch``; with a progress bar named ``desc`` when given and stderr is a terminal."""
    if images.dtype != torch.uint8:
        raise GanzooError("Inception features need uint8 images")  # as torch-fidelity asserts
    layers = list(net.features_list)
    out: dict[str, list[torch.Tensor]] = {name: [] for name in layers}
    bar = tqdm(
        total=len(images),
        desc=desc,
        unit="img",
        dynamic_ncols=True,
        disable=desc is None or not sys.stderr.isatty(),
    )
    with bar, torch.inference_mode():
        for start in range(0, len(images), batch):
            part = images[start : start + batch].to(device)
            for name, value in zip(layers, net(part), strict=True):
                out[name].append(value.cpu())
            bar.update(len(part))
    # concatenated outside inference mode: ordinary tensors, which later code may change
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
    """Shared by fid, kid, is, precision, recall, density and coverage: one feature pass per
    image set, network and evaluation (``context.memo`` keeps it)."""

    needs_logits = False
    small_n = "biased upward, compare only at equal n"  # what the protocol says below FULL_N

    def check(self, context: Context) -> None:
        find_weights(context.inception_weights, logits=self.needs_logits)

    def _net(self, context: Context) -> tuple[FeatureExtractorInceptionV3, InceptionWeights]:
        return load_inception(context.device, context.inception_weights, self.needs_logits)

    def fake_features(self, fake: torch.Tensor, context: Context) -> dict[str, torch.Tensor]:
        net, weights = self._net(context)
        key = ("inception-fake", weights.sha256, id(fake))
        if key not in context.memo:
            # the images are kept with their features so that their id() cannot be reused
            features = extract(net, fake, context.device, "Inception features, generated")
            context.memo[key] = (fake, features)
        return context.memo[key][1]

    def real_reference(self, real: torch.Tensor, context: Context) -> dict[str, np.ndarray]:
        """mu, sigma, features (at most 10,000 rows, for KID) and, where the network has them,
        logits of the real images; cached per (network, real set, size, n, seed)."""
        net, weights = self._net(context)
        key = ("inception-real", weights.sha256, id(real))
        if key in context.memo:
            return context.memo[key][1]

        def compute() -> dict[str, np.ndarray]:
            feats = extract(net, real, context.device, "Inception features, real")
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
            note = f" (n below {FULL_N:,}: {self.small_n})"
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
