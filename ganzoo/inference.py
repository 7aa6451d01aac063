"""``ganzoo sample`` and ``ganzoo translate``: trained models to image files.

Nothing is overwritten without ``force``: every output path is checked before any work starts,
so a refused command leaves no partial output behind.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import torch
from PIL import Image, ImageOps
from torchvision.transforms.functional import pil_to_tensor
from torchvision.utils import save_image

from ganzoo.errors import GanzooError
from ganzoo.hub import load

TRANSLATE_BATCH = 16


def _refuse_existing(paths: list[Path], force: bool) -> None:
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        if len(existing) == 1:
            raise GanzooError(f"{existing[0]} already exists; pass --force to overwrite it")
        raise GanzooError(
            f"{existing[0]} and {len(existing) - 1} more output files already exist; pass "
            "--force to overwrite them"
        )


def _save_png(images: torch.Tensor, path: Path, **grid) -> None:
    """One PNG, written through a temporary file so an interrupted write leaves no broken image."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        save_image(images, tmp, format="png", **grid)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def sample_to_path(
    source: str,
    n: int,
    output: str | os.PathLike,
    seed: int = 0,
    device: str = "auto",
    force: bool = False,
) -> str:
    """``n`` samples of an unconditional model: a grid when ``output`` ends in .png, otherwise a
    folder of ``sample-0000.png``, ... Returns what was written."""
    if n < 1:
        raise GanzooError(f"-n must be at least 1, got {n}")
    output = Path(output)
    grid = output.suffix.lower() == ".png"
    if grid:
        _refuse_existing([output], force)
        targets = [output]
    else:
        if output.exists() and not output.is_dir():
            raise GanzooError(f"{output} is a file; give a folder or a .png path")
        digits = max(4, len(str(n - 1)))
        targets = [output / f"sample-{i:0{digits}d}.png" for i in range(n)]
        _refuse_existing(targets, force)
    gan = load(source, device=device)
    images = gan.sample(n, seed=seed).cpu()
    if grid:
        output.parent.mkdir(parents=True, exist_ok=True)
        _save_png(images, output, nrow=max(1, round(math.sqrt(n))), padding=2)
    else:
        output.mkdir(parents=True, exist_ok=True)
        for image, path in zip(images, targets, strict=True):
            _save_png(image, path)
    return str(output)


def _is_image_name(path: Path) -> bool:
    return path.suffix.lower() in Image.registered_extensions() and not path.name.startswith(".")


def _input_files(inputs: list[str]) -> list[Path]:
    """Named files as given, and the image files directly inside named folders, sorted."""
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and _is_image_name(p)))
        elif path.is_file():
            files.append(path)
        else:
            raise GanzooError(f"no such file or folder: {item}")
    if not files:
        raise GanzooError(f"no image files in {', '.join(inputs)}")
    return files


def read_image(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """An image file as uint8 RGB ``[3, H, W]``: upright (EXIF), transparency on white, resized
    to cover ``size`` keeping its aspect ratio and centre-cropped."""
    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
            rgba = img.convert("RGBA")
            img = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        height, width = size
        fitted = ImageOps.fit(img.convert("RGB"), (width, height), Image.Resampling.BICUBIC)
    return pil_to_tensor(fitted)


def _output_names(files: list[Path]) -> list[str]:
    """``photo.jpg`` -> ``photo.png``; a repeated stem (a/x.jpg, b/x.png) gets -2, -3, ..."""
    seen: dict[str, int] = {}
    names = []
    for path in files:
        count = seen.get(path.stem, 0) + 1
        seen[path.stem] = count
        names.append(f"{path.stem}.png" if count == 1 else f"{path.stem}-{count}.png")
    return names


def translate_paths(
    source: str,
    inputs: list[str],
    output_dir: str | os.PathLike,
    reverse: bool = False,
    device: str = "auto",
    force: bool = False,
) -> list[str]:
    """Translates image files (or the images in folders) with an image-to-image model.

    Each image is read as RGB, resized to cover the model's image size and centre-cropped (as
    training data is), and written as ``OUTPUT_DIR/<input stem>.png``.
    Unreadable files are skipped with one warning that counts them.
    """
    files = _input_files(inputs)
    output_dir = Path(output_dir)
    if output_dir.exists() and not output_dir.is_dir():
        raise GanzooError(f"{output_dir} is a file, not a folder")
    targets = [output_dir / name for name in _output_names(files)]
    _refuse_existing(targets, force)
    gan = load(source, device=device)
    size = tuple(gan.image_size)

    written: list[str] = []
    skipped: list[Path] = []
    batch: list[tuple[torch.Tensor, Path]] = []

    def flush() -> None:
        if not batch:
            return
        images = torch.stack([image for image, _ in batch]).float().div(255)
        out = gan.translate(images, reverse=reverse).cpu()
        output_dir.mkdir(parents=True, exist_ok=True)
        for image, (_, target) in zip(out, batch, strict=True):
            _save_png(image, target)
            written.append(str(target))
        batch.clear()

    for path, target in zip(files, targets, strict=True):
        try:
            image = read_image(path, size)
        except Exception:  # PIL raises many types for damaged files (OSError, SyntaxError, ...)
            skipped.append(path)
            continue
        batch.append((image, target))
        if len(batch) == TRANSLATE_BATCH:
            flush()
    flush()
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} of {len(files)} input file(s) that are not readable images "
            f"(e.g. {skipped[0]})",
            stacklevel=2,
        )
    return written
