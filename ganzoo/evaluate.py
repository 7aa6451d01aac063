"""``ganzoo eval``: metrics of a model, or of a folder or archive of images, against a dataset.

    results = evaluate("runs/improved-toon", "toon", ["fid", "swd", "toon-content"], n=1000)
    print(format_results(results))

A model comes from ``ganzoo.load`` (zoo name, run directory, Hub-ready folder or hf://). It
produces ``n`` images: an unconditional model samples them in batches of 64 whose seeds derive
from ``seed``; a translator translates ``n`` source-domain images drawn from the data's source
domain. A folder or archive of images (anyone's generator's output, or real images) gives up to
``n`` of its images, decoded at ``size``. Up to ``n`` real (target-domain) images are drawn
likewise: all of them when the real set is smaller. Every draw is deterministic in ``seed``, so
a result can be reproduced from its protocol. The default ``n`` is 10,000, where FID is usually
reported: FID is biased upward at smaller n, so only figures at equal n compare. Each metric is
built by name from the registry (kind ``metrics``) and returns a ``MetricResult``. When the model
is a run directory or a Hub-ready folder the results are also written into its model card.

Nothing here knows a dataset by name: what a dataset offers evaluation (a batched fetch, known
per-image attributes, a cache key) is the dataset interface of ``ganzoo.data``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics.base import Context, Metric, MetricResult, derive_seed, to_uint8
from ganzoo.registry import registry

__all__ = ["card_rows", "evaluate", "format_results", "load_metrics"]

BATCH = 64  # images per generator call; fixed, since each batch's noise has its own seed
DEFAULT_N = 10_000  # the n FID is reported at; fewer real images when the real set is smaller
IMAGE_SET_SIZE = (64, 64)  # folders and archives are scored at the zoo's training size
# streams of derive_seed(seed, ...), so that the draws do not share random numbers
REAL_STREAM, SOURCE_STREAM, SAMPLE_STREAM = 1, 2, 3


def load_metrics(names: list[str]) -> list[Metric]:
    """Metrics by registered name; an unknown name is one error line listing the known ones."""
    if not names:
        raise GanzooError("no metrics asked for; known: " + _known())
    metrics = []
    for name in names:
        if registry().find("metrics", name) is None:
            raise GanzooError(f"unknown metric {name!r}; known: {_known()}")
        metrics.append(registry().build("metrics", name))
    return metrics


def _known() -> str:
    return ", ".join(e.name for e in registry().entries("metrics")) or "none"


def draw_indices(length: int, n: int, seed: int) -> np.ndarray:
    """``min(n, length)`` distinct indices, random in ``seed``, in increasing order (sequential
    reads from memory-mapped datasets)."""
    if length < 1:
        raise GanzooError("the dataset is empty")
    order = torch.randperm(length, generator=torch.Generator().manual_seed(seed))
    return np.sort(order[: min(n, length)].numpy())


def draw_real(dataset: Any, n: int, seed: int) -> np.ndarray:
    """The indices of the real (target) images an evaluation with ``seed`` scores against."""
    return draw_indices(len(dataset), n, derive_seed(seed, REAL_STREAM))


def draw_source(dataset: Any, n: int, seed: int) -> np.ndarray:
    """The indices of the source images an evaluation with ``seed`` has a translator translate."""
    return draw_indices(len(dataset), n, derive_seed(seed, SOURCE_STREAM))


def load_images(dataset: Any, indices: np.ndarray) -> torch.Tensor:
    """uint8 [N, 3, H, W] of the dataset's items at ``indices``."""
    if isinstance(getattr(dataset, "images", None), np.ndarray):  # decoded, memory-mapped
        images = torch.from_numpy(np.ascontiguousarray(dataset.images[indices]))
    elif hasattr(dataset, "__getitems__"):  # a batched fetch, e.g. one vectorised render
        items = dataset.__getitems__([int(i) for i in indices])
        images = torch.stack([torch.as_tensor(item) for item in items])
    else:
        images = torch.stack([torch.as_tensor(dataset[int(i)]) for i in indices])
    return to_uint8(images)


def dataset_identity(dataset: Any, spec: str) -> str:
    """What names a dataset's content in the metrics cache: its ``cache_key`` if it has one,
    else the name of its decode-cache file (a hash of the files' content), else the spec."""
    key = getattr(dataset, "cache_key", None)
    if key:
        return str(key)
    path = getattr(dataset, "path", None)
    if path is not None:
        return Path(path).name
    if type(dataset).__repr__ is not object.__repr__:  # e.g. a procedural set's parameters
        return f"{spec}|{dataset!r}"
    return spec


def sample_images(gan: Any, n: int, seed: int) -> torch.Tensor:
    """``n`` images of an unconditional model, uint8 on the CPU; batch b uses seed (seed, b)."""
    parts = []
    for b, start in enumerate(range(0, n, BATCH)):
        count = min(BATCH, n - start)
        parts.append(to_uint8(gan.sample(count, seed=derive_seed(seed, SAMPLE_STREAM, b)).cpu()))
    return torch.cat(parts)


def translate_images(gan: Any, images: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    """A translator's outputs for uint8 inputs, as uint8 on the CPU (``reverse``: its generator
    from target to source)."""
    way = {"reverse": True} if reverse else {}  # a one-way translator need not take reverse=
    parts = []
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH].float() / 255
        parts.append(to_uint8(gan.translate(batch, **way).cpu()))
    return torch.cat(parts)


def _card_folder(model: str) -> Path | None:
    """The folder whose model card records the results: a Hub-ready folder or a run."""
    path = Path(str(model)).expanduser()
    if not path.is_dir():
        return None  # a zoo name or hf://: nothing of ours to write to
    if (path / "README.md").is_file() or (path / "export" / "README.md").is_file():
        return path
    warnings.warn(f"{path} has no model card yet; the results are not recorded", stacklevel=4)
    return None


MODEL_MARKERS = ("config.json", "checkpoints", "export")  # what makes a folder a model


def is_image_set(spec: str) -> bool:
    """True for a registered dataset, a folder of images or an archive; False for a model (run,
    Hub-ready folder, zoo name, hf://)."""
    if registry().find("datasets", str(spec)) is not None:
        return True  # real against real: e.g. `ganzoo eval celeba --data anime`
    path = Path(str(spec)).expanduser()
    if path.is_file():
        return path.suffix.lower() in (".tar", ".zip") or path.name.lower().endswith(".tar.gz")
    return path.is_dir() and not any((path / name).exists() for name in MODEL_MARKERS)


def _resize_text(size: tuple[int, int]) -> str:
    h, w = size
    return (
        f"both sets decoded or generated at {w}x{h} (files: centre crop, antialiased bicubic); "
        "Inception metrics then resize to 299x299 (TF1 bilinear)"
    )


def evaluate(
    model_or_images: str,
    data: str,
    metric_names: list[str],
    n: int = DEFAULT_N,
    seed: int = 0,
    device: str | torch.device = "auto",
    source_data: str | None = None,
    data_root: str | None = None,
    inception_weights: str | None = None,
    update_card: bool = True,
    size: tuple[int, int] | None = None,
    reverse: bool = False,
) -> list[MetricResult]:
    """Runs the named metrics on ``n`` generated and up to ``n`` real images; see the module
    docstring. ``model_or_images`` is a model (``ganzoo.load``'s zoo name, run, folder or
    hf://), or images: a dataset name, a folder or an archive, scored as they are at ``size``
    (default 64x64). ``source_data`` is a translator's source domain (default: the one ``data``
    names).

    ``inception_weights`` overrides ``GANZOO_INCEPTION_WEIGHTS`` for the Inception metrics (fid,
    kid, is, precision, recall, density, coverage), which share one feature pass per image set.

    ``reverse`` scores a translator's way back: its target-to-source generator translates
    ``source_data`` (default: the data it was trained into) and is compared with ``data`` (its
    source domain, e.g. celeba for a CelebA -> anime translator). Those results are not recorded
    in the model's card, whose figures are of the forward direction.
    """
    from ganzoo.devices import resolve_device

    if n < 2:
        raise GanzooError(f"-n must be at least 2, got {n}")
    metrics = load_metrics(metric_names)  # unknown names fail before anything is loaded
    dev = resolve_device(device)
    context = Context(device=dev, seed=seed, data=data, inception_weights=inception_weights)
    scoring_images = is_image_set(model_or_images)
    _check_options(model_or_images, scoring_images, size, reverse)
    if scoring_images:
        size = size or IMAGE_SET_SIZE
        make = _image_set_maker(model_or_images, size, n, seed)
        real_set = _open_real(data, size, data_root, context)
    else:
        make, size, real_set = _model_maker(
            model_or_images, data, source_data, data_root, n, seed, context, reverse
        )
    for metric in metrics:
        metric.check(context)  # a missing requirement fails before any image is made

    real_indices = draw_real(real_set, n, seed)
    context.real_key = _real_key(real_set, data, size, len(real_indices), seed)
    real = load_images(real_set, real_indices)
    fake, made = make()

    results = [metric.compute(fake, real, context=context) for metric in metrics]
    real_text = f"{len(real)} of the {len(real_set)} images of {data}"
    _add_draws(results, fake, real, real_text, made, size)
    if update_card and not scoring_images and not reverse:
        _record_in_card(model_or_images, results)
    return results


def _check_options(spec: str, scoring_images: bool, size, reverse: bool) -> None:
    """The options only a model, or only images, can be scored with: one error line."""
    if scoring_images and reverse:
        raise GanzooError(f"--reverse is for translators; {spec} names images")
    if not scoring_images and size is not None:
        raise GanzooError(
            "--size is for folders and archives of images; a model is scored at its own size"
        )


def _record_in_card(model: str, results: list[MetricResult]) -> None:
    folder = _card_folder(model)
    if folder is not None:
        from ganzoo.hub import update_card_metrics

        update_card_metrics(folder, card_rows(results))


def _real_key(real_set: Any, data: str, size: tuple[int, int], n_real: int, seed: int) -> str:
    """What names the drawn real images in the metrics cache of real-set statistics."""
    return "|".join(
        [
            dataset_identity(real_set, data),
            f"size={size[0]}x{size[1]}",
            f"n={n_real}",
            f"seed={seed}",
            "draw=randperm-sorted",
        ]
    )


def _add_draws(
    results: list[MetricResult],
    fake: torch.Tensor,
    real: torch.Tensor,
    real_text: str,
    made: str,
    size: tuple[int, int],
) -> None:
    """Adds to each result how the two image sets were drawn, so that it can be reproduced from
    its card."""
    drawn = f"generated: {made}; real: {real_text} at {size[1]}x{size[0]}"
    for result in results:
        result.protocol = f"{result.protocol}; {drawn}"
        result.details = {
            "n": len(fake),
            "n_real": len(real),
            "real": real_text,
            "size": f"{size[1]}x{size[0]}",
            "resize": _resize_text(size),
        }


def _open_real(data, size, data_root, context):
    from ganzoo.data import open_dataset

    context.real_dataset = open_dataset(data, size=size, root=data_root)
    return context.real_dataset


def _image_set_maker(spec, size, n, seed):
    """``make()`` -> (up to ``n`` images of the dataset, folder or archive, how they were drawn)."""
    from ganzoo.data import open_dataset

    images = open_dataset(str(spec), size=size)

    def make():
        indices = draw_indices(len(images), n, derive_seed(seed, SAMPLE_STREAM))
        drawn = f"{len(indices)} of the {len(images)} images of {spec}"
        return load_images(images, indices), drawn

    return make


def translator_inputs(gan: Any, model: str, source_data: str | None, reverse: bool) -> str | None:
    """The data a translator translates: ``source_data`` if given; with ``reverse`` (the way
    back) the data it was trained into; else None, the source domain its target names."""
    if reverse and gan.task != "translation":
        raise GanzooError(f"--reverse is for translators; {model} is not one (task: {gan.task})")
    if reverse and source_data is None:
        config = getattr(gan, "config", {})
        return (config.get("run") or config.get("training") or {}).get("data")
    return source_data


def _model_maker(model, data, source_data, data_root, n, seed, context, reverse=False):
    """(make, size, real set) for a model: ``make()`` samples or translates ``n`` images."""
    import ganzoo
    from ganzoo.data import open_domains

    gan = ganzoo.load(model, device=context.device)
    size = tuple(gan.image_size)
    context.task = gan.task
    source_data = translator_inputs(gan, model, source_data, reverse)
    if gan.task != "translation":

        def sample():
            return sample_images(gan, n, seed), f"{n} samples in batches of {BATCH}"

        return sample, size, _open_real(data, size, data_root, context)
    domains = open_domains(data, ("source", "target"), size, source=source_data, root=data_root)
    context.real_dataset, context.source_dataset = domains["target"], domains["source"]
    src_indices = draw_source(context.source_dataset, n, seed)
    if hasattr(context.source_dataset, "attribute_array"):  # inputs with known attributes
        context.source_attributes = context.source_dataset.attribute_array(src_indices)

    def make():
        context.source = load_images(context.source_dataset, src_indices)
        made = f"translations of {len(src_indices)} source-domain images"
        if reverse:
            made = f"target-to-source translations of {len(src_indices)} images of {source_data}"
        return translate_images(gan, context.source, reverse), made

    return make, size, context.real_dataset


def card_rows(results: list[MetricResult]) -> list[dict[str, Any]]:
    """One card row per number, named as format_results shows it (``fid``, ``kid/std``)."""
    return [
        {
            "name": r.name if key == r.name else f"{r.name}/{key}",
            "value": float(value),
            "protocol": r.protocol,
            "data": r.data,
        }
        for r in results
        for key, value in r.values.items()
    ]


def _number(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.4e}"


def format_results(results: list[MetricResult]) -> str:
    """A table of every number (``metric`` or ``metric/value``), then each metric's protocol."""
    rows = [(row["name"], _number(row["value"])) for row in card_rows(results)]
    width = max([len("METRIC")] + [len(label) for label, _ in rows])
    lines = [f"{'METRIC'.ljust(width)}  VALUE"]
    lines += [f"{label.ljust(width)}  {value}" for label, value in rows]
    lines.append("")
    lines += [f"{r.name}: {r.protocol}" for r in results]
    return "\n".join(lines)
