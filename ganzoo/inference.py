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
from PIL import Image
from torchvision.utils import save_image

from ganzoo.errors import GanzooError
from ganzoo.files import atomic_write
from ganzoo.loading import load
from ganzoo.plots import save_grid, save_readable_grid
from ganzoo.validate import check_memory, check_seed

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
    """One PNG, written atomically so an interrupted write leaves no broken image."""
    atomic_write(path, lambda tmp: save_image(images, tmp, format="png", **grid))


def sample_to_path(
    source: str,
    n: int,
    output: str | os.PathLike,
    seed: int = 0,
    device: str = "auto",
    force: bool = False,
    raw: bool = False,
) -> str:
    """``n`` samples of an unconditional model: a grid when ``output`` ends in .png, otherwise a
    folder of ``sample-0000.png``, ... Returns what was written.

    A grid is for looking at, so it is enlarged (nearest neighbour) to at least 128 px per image
    unless ``raw``; the folder's files keep the model's own size, as data for other tools."""
    if n < 1:
        raise GanzooError(f"-n must be at least 1, got {n}")
    check_seed(seed)
    # at the smallest size any model makes (8x8): an absurd -n is refused before its n file
    # names are listed; the model's own size is checked once it is loaded
    check_memory(f"-n {n}", n, (3, 8, 8), "cpu", "use a smaller -n")
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
    height, width = gan.image_size
    shape = (gan.channels, height, width)
    check_memory(f"-n {n} at {width}x{height}", n, shape, gan.device, "use a smaller -n")
    images = gan.sample(n, seed=seed).cpu()
    if grid:
        output.parent.mkdir(parents=True, exist_ok=True)
        nrow = max(1, round(math.sqrt(n)))
        if raw:
            save_grid(images, output, nrow)
        else:
            save_readable_grid(images, output, nrow)
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
        elif path.exists():  # a named pipe or a device: reading it could wait forever
            raise GanzooError(f"{item} is not a regular file or a folder")
        else:
            raise GanzooError(f"no such file or folder: {item}")
    if not files:
        raise GanzooError(f"no image files in {', '.join(inputs)}")
    return files


def read_image(path: Path, size: tuple[int, int], crop: str = "center") -> torch.Tensor:
    """An image file of any size and mode as uint8 RGB ``[3, H, W]``, decoded, cropped and
    resized exactly as training data is (``ganzoo.data.images.decode``)."""
    from ganzoo.data.images import decode

    pixels, _ = decode(path.read_bytes(), size, crop)
    return torch.from_numpy(pixels)


def input_crop(config: dict, reverse: bool = False) -> str:
    """How a translator's inputs are cropped: as the data of the side they come from was in
    training (the source domain; the target with ``reverse``). celeba's face crop, else centre."""
    from ganzoo.data.images import CROPS
    from ganzoo.registry import registry

    trained = config.get("run") or config.get("training") or {}
    data = trained.get("data")
    entry = registry().find("datasets", data) if data else None
    side = data if reverse else trained.get("source") or (entry and entry.spec.get("source"))
    spec = registry().find("datasets", side) if side else None
    crop = spec.spec.get("crop", "center") if spec else "center"
    return crop if crop in CROPS else "center"


def _output_names(files: list[Path]) -> list[str]:
    """``photo.jpg`` -> ``photo.png``; a name already given (a/x.jpg and b/x.png, or x.jpg
    given twice) gets -2, -3, ..., checked against every name so far (so a/x.png, b/x.png and
    c/x-2.png still give three files)."""
    taken: set[str] = set()
    names = []
    for path in files:
        name, count = f"{path.stem}.png", 1
        while name.lower() in taken:  # lower: x.png and X.png are one file on macOS and Windows
            count += 1
            name = f"{path.stem}-{count}.png"
        taken.add(name.lower())
        names.append(name)
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

    Each image (any size and mode) is read as RGB, cropped and resized to the model's image size
    as the training data of its side was (``input_crop``), and written as
    ``OUTPUT_DIR/<input stem>.png``.
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
    crop = input_crop(gan.config, reverse)

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
            image = read_image(path, size, crop)
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
