"""``ganzoo eval``: metrics of a model against a dataset.

    results = evaluate("runs/improved-toon", "toon", ["fid", "swd", "toon-content"], n=1000)
    print(format_results(results))

The model comes from ``ganzoo.load`` (zoo name, run directory, Hub-ready folder or hf://). It
produces ``n`` images: an unconditional model samples them in batches of 64 whose seeds derive
from ``seed``; a translator translates ``n`` source-domain images drawn from the data's source
domain. ``n`` real (target-domain) images are drawn likewise. Every draw is deterministic in
``seed``, so a result can be reproduced from its protocol. Each metric is built by name from the
registry (kind ``metrics``) and returns a ``MetricResult``. When SOURCE is a run directory or a
Hub-ready folder the results are also written into its model card.
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
    if hasattr(dataset, "render_batch"):  # toon: one vectorised render
        images = dataset.render_batch(indices)
    elif isinstance(getattr(dataset, "images", None), np.ndarray):  # decoded, memory-mapped
        images = torch.from_numpy(np.ascontiguousarray(dataset.images[indices]))
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
    if type(dataset).__repr__ is not object.__repr__:  # e.g. toon's: style, size, length, seed
        return f"{spec}|{dataset!r}"
    return spec


def sample_images(gan: Any, n: int, seed: int) -> torch.Tensor:
    """``n`` images of an unconditional model, uint8 on the CPU; batch b uses seed (seed, b)."""
    parts = []
    for b, start in enumerate(range(0, n, BATCH)):
        count = min(BATCH, n - start)
        parts.append(to_uint8(gan.sample(count, seed=derive_seed(seed, SAMPLE_STREAM, b)).cpu()))
    return torch.cat(parts)


def translate_images(gan: Any, images: torch.Tensor) -> torch.Tensor:
    """A translator's outputs for uint8 inputs, as uint8 on the CPU."""
    parts = []
    for start in range(0, len(images), BATCH):
        batch = images[start : start + BATCH].float() / 255
        parts.append(to_uint8(gan.translate(batch).cpu()))
    return torch.cat(parts)


def _card_folder(source: str) -> Path | None:
    """The folder whose model card records the results: a Hub-ready folder or a run."""
    path = Path(str(source)).expanduser()
    if not path.is_dir():
        return None  # a zoo name or hf://: nothing of ours to write to
    if (path / "README.md").is_file() or (path / "export" / "README.md").is_file():
        return path
    warnings.warn(f"{path} has no model card yet; the results are not recorded", stacklevel=3)
    return None


def evaluate(
    source: str,
    data: str,
    metric_names: list[str],
    n: int = 1000,
    seed: int = 0,
    device: str | torch.device = "auto",
    source_data: str | None = None,
    data_root: str | None = None,
    inception_weights: str | None = None,
    update_card: bool = True,
) -> list[MetricResult]:
    """Runs the named metrics on ``n`` generated and ``n`` real images; see the module docstring.

    ``inception_weights`` overrides ``GANZOO_INCEPTION_WEIGHTS`` for fid, kid and is.
    """
    import ganzoo
    from ganzoo.data import open_dataset, open_domains
    from ganzoo.devices import resolve_device

    if n < 2:
        raise GanzooError(f"-n must be at least 2, got {n}")
    metrics = load_metrics(metric_names)  # unknown names fail before anything is loaded
    dev = resolve_device(device)
    gan = ganzoo.load(source, device=dev)
    size = tuple(gan.image_size)

    context = Context(
        device=dev,
        seed=seed,
        data=data,
        task=gan.task,
        inception_weights=inception_weights,
    )
    if gan.task == "translation":
        domains = open_domains(data, ("source", "target"), size, source=source_data, root=data_root)
        real_set, context.source_dataset = domains["target"], domains["source"]
    else:
        real_set = open_dataset(data, size=size, root=data_root)
    context.real_dataset = real_set
    src_indices = None
    if context.source_dataset is not None:
        src_indices = draw_source(context.source_dataset, n, seed)
        if hasattr(context.source_dataset, "attribute_array"):
            context.source_attributes = context.source_dataset.attribute_array()[src_indices]
    for metric in metrics:
        metric.check(context)  # a missing requirement fails before any image is made

    real_indices = draw_real(real_set, n, seed)
    context.real_key = "|".join(
        [
            dataset_identity(real_set, data),
            f"size={size[0]}x{size[1]}",
            f"n={len(real_indices)}",
            f"seed={seed}",
            "draw=randperm-sorted",
        ]
    )
    real = load_images(real_set, real_indices)
    if src_indices is not None:
        context.source = load_images(context.source_dataset, src_indices)
        fake = translate_images(gan, context.source)
    else:
        fake = sample_images(gan, n, seed)

    results = [metric.compute(fake, real, context=context) for metric in metrics]
    # how the two image sets were drawn, so that each result can be reproduced from its card
    made = (
        f"translations of {len(fake)} source-domain images"
        if src_indices is not None
        else f"{len(fake)} samples in batches of {BATCH}"
    )
    drawn = f"generated: {made}; real: {len(real)} images of {data} at {size[1]}x{size[0]}"
    for result in results:
        result.protocol = f"{result.protocol}; {drawn}"
    folder = _card_folder(source) if update_card else None
    if folder is not None:
        from ganzoo.hub import update_card_metrics

        update_card_metrics(folder, card_rows(results))
    return results


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
