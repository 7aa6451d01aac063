"""``ganzoo eval --report FILE.html``: one self-contained page about a model's evaluation.

Numbers alone do not say what a model draws, and pictures alone do not say how good it is; the
report puts both on one page: a sample grid (for a translator, inputs beside their outputs), every
metric's values and the protocol that produced them. Pictures are embedded as PNG data URIs, so
the file can be mailed or attached to an issue as it is.
"""

from __future__ import annotations

import base64
import html
import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from ganzoo.errors import GanzooError
from ganzoo.io.files import atomic_write
from ganzoo.io.images import grid_image, upscale_factor
from ganzoo.version import __version__

PICTURES = 16  # samples, or translation pairs, shown
PAIRS_PER_ROW = 4


def check_report_path(path: str | os.PathLike) -> Path:
    """Refuses anything but .html before the (slow) evaluation runs."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise GanzooError(f"--report writes an HTML page; give a .html path, not {path.name}")
    return path


def _png_uri(images: torch.Tensor, nrow: int) -> str:
    """A readable grid of [0, 1] images as a data: URI."""
    from PIL import Image

    scale = upscale_factor(images.shape[-2], images.shape[-1])
    pixels = grid_image(images, nrow, scale).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pictures(
    source: str,
    data: str,
    seed: int = 0,
    device: str = "auto",
    source_data: str | None = None,
    data_root: str | None = None,
    size: tuple[int, int] = (64, 64),
    reverse: bool = False,
) -> tuple[str, torch.Tensor, int]:
    """(caption, images in [0, 1], images per row) for the report's picture."""
    import ganzoo
    from ganzoo.data import open_dataset, open_domains
    from ganzoo.evaluate import draw_indices, draw_source, is_image_set, translator_inputs

    if is_image_set(source):
        images = open_dataset(str(source), size=size)
        indices = draw_indices(len(images), PICTURES, seed)
        batch = torch.stack([torch.as_tensor(images[int(i)]) for i in indices])
        return f"{len(indices)} images of {source}", batch.float() / 255, 4
    gan = ganzoo.load(source, device=device)
    if gan.task != "translation":
        return f"{PICTURES} samples, seed {seed}", gan.sample(PICTURES, seed=seed).cpu(), 4
    size = tuple(gan.image_size)
    source_data = translator_inputs(gan, source, source_data, reverse)
    domains = open_domains(data, ("source",), size, source=source_data, root=data_root)
    indices = draw_source(domains["source"], PICTURES // 2, seed)
    inputs = torch.stack([torch.as_tensor(domains["source"][int(i)]) for i in indices])
    inputs = inputs.float() / 255
    outputs = (gan.translate(inputs, reverse=True) if reverse else gan.translate(inputs)).cpu()
    pairs = torch.stack([inputs, outputs], dim=1).flatten(0, 1)  # input, output, input, ...
    way = f"{source_data} images" if reverse else "source-domain images"
    caption = f"{way} (left of each pair) and their translations, seed {seed}"
    return caption, pairs, 2 * PAIRS_PER_ROW


def _metrics_table(results: list[Any]) -> str:
    rows = []
    for result in results:
        values = ", ".join(f"{key} = {value:.4g}" for key, value in result.values.items())
        rows.append(
            f"<tr><td>{html.escape(result.name)}</td><td>{html.escape(values)}</td>"
            f"<td>{html.escape(result.protocol)}</td></tr>"
        )
    return (
        "<table><tr><th>metric</th><th>values</th><th>protocol</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _scored_size(results: list[Any]) -> tuple[int, int]:
    """(H, W) the evaluation scored at (``MetricResult.details``), so the pictures match it."""
    from ganzoo.evaluate import IMAGE_SET_SIZE

    text = results[0].details.get("size") if results else None
    if not text:
        return IMAGE_SET_SIZE
    width, height = (int(v) for v in text.split("x"))
    return height, width


STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #ccc; padding: 6px;
vertical-align: top; text-align: left; } td:nth-child(3) { font-size: 0.85em; color: #555; }
img { image-rendering: pixelated; max-width: 100%; }
"""


def write_report(
    path: str | os.PathLike,
    source: str,
    data: str,
    results: list[Any],
    seed: int = 0,
    device: str = "auto",
    source_data: str | None = None,
    data_root: str | None = None,
    reverse: bool = False,
) -> Path:
    """Writes the HTML report of ``results`` (``MetricResult``s of ``source`` against ``data``)."""
    path = check_report_path(path)
    size = _scored_size(results)
    caption, images, nrow = pictures(
        source, data, seed, device, source_data, data_root, size, reverse
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = f"{source} against {data}"
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p>ganzoo {__version__}, {when}</p>"
        f"<h2>Pictures</h2><p>{html.escape(caption)}; enlarged with nearest neighbour.</p>"
        f"<img alt='{html.escape(caption)}' src='{_png_uri(images, nrow)}'>"
        f"<h2>Metrics</h2>{_metrics_table(results)}"
        "</body></html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path
