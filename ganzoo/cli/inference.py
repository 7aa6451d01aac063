"""``ganzoo sample`` and ``ganzoo translate``: trained models to image files.

Nothing is overwritten without ``force``: every output path is checked before any work starts,
so a refused command leaves no partial output behind.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from fractions import Fraction
from pathlib import Path

import torch
from PIL import Image
from torchvision.utils import save_image

from ganzoo.cli.video import (
    FALLBACK_FPS,
    WRITABLE,
    VideoWriter,
    check_writable,
    open_video,
    read_frames,
    require_av,
    write_video,
)
from ganzoo.errors import GanzooError
from ganzoo.hub.loading import load
from ganzoo.io.files import atomic_write
from ganzoo.io.images import save_grid, save_readable_grid, upscale_factor
from ganzoo.models import check_truncation
from ganzoo.validate import check_count, check_memory, check_seed

TRANSLATE_BATCH = 16


def refuse_existing(paths: list[Path], force: bool) -> None:
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
    truncation: float = 1.0,
) -> str:
    """``n`` samples of an unconditional model: a grid when ``output`` ends in .png, otherwise a
    folder of ``sample-0000.png``, ... Returns what was written. ``truncation`` is psi, as in
    ``UnconditionalGAN.sample``.

    A grid is for looking at, so it is enlarged (nearest neighbour) to at least 128 px per image
    unless ``raw``; the folder's files keep the model's own size, as data for other tools."""
    if n < 1:
        raise GanzooError(f"-n must be at least 1, got {n}")
    check_seed(seed)
    check_truncation(truncation)
    # at the smallest size any model makes (8x8): an absurd -n is refused before its n file
    # names are listed; the model's own size is checked once it is loaded
    check_memory(f"-n {n}", n, (3, 8, 8), "cpu", "use a smaller -n")
    output = Path(output)
    grid = output.suffix.lower() == ".png"
    if grid:
        refuse_existing([output], force)
        targets = [output]
    else:
        if output.exists() and not output.is_dir():
            raise GanzooError(f"{output} is a file; give a folder or a .png path")
        digits = max(4, len(str(n - 1)))
        targets = [output / f"sample-{i:0{digits}d}.png" for i in range(n)]
        refuse_existing(targets, force)
    gan = load(source, device=device)
    height, width = gan.image_size
    shape = (gan.channels, height, width)
    check_memory(f"-n {n} at {width}x{height}", n, shape, gan.device, "use a smaller -n")
    # psi only when asked: a plugin's own sample(n, seed), older than truncation, still works
    options = {"truncation": truncation} if truncation != 1 else {}
    images = gan.sample(n, seed=seed, **options).cpu()
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


WALK_SUFFIXES = (".gif", ".mp4")
STRIP_COLUMNS = 9  # images per row of a walk's still strip: both seeds and 7 between


def interpolate_to_path(
    source: str,
    k: int,
    output: str | os.PathLike,
    seed: int = 0,
    frames: int = 16,
    fps: int = 16,
    truncation: float = 1.0,
    device: str = "auto",
    force: bool = False,
    raw: bool = False,
) -> list[str]:
    """A latent walk through the noise of seeds ``seed``, ``seed + 1``, ... ``seed + k - 1``
    (``UnconditionalGAN.interpolate``, ``frames`` images per pair of seeds), written as an
    animation (``output``: .gif, or .mp4 with the ``ganzoo-core[video]`` extra) at ``fps`` and a
    still strip beside it (``output`` with .png: a row per pair of seeds, both ends included).
    Returns the paths written. Both are enlarged to at least 128 px per image unless ``raw``."""
    output = Path(output)
    check_count(k, "--interpolate", low=2)
    check_count(frames, "--frames")
    check_count(fps, "--fps")
    check_seed(seed)
    check_seed(seed + k - 1, "the walk's last seed")
    check_truncation(truncation)
    suffix = output.suffix.lower()
    if suffix not in WALK_SUFFIXES:
        raise GanzooError(f"-o {output}: a walk is written as .gif or .mp4, with a .png strip")
    if suffix == ".mp4":
        require_av()  # before the model loads
    strip = output.with_suffix(".png")
    refuse_existing([output, strip], force)
    gan = load(source, device=device)
    total = (k - 1) * frames + 1
    shape = (gan.channels, *gan.image_size)
    check_memory(f"a walk of {total} frames", total, shape, gan.device, "use a smaller --frames")
    seeds = list(range(seed, seed + k))
    walk = gan.interpolate(seeds, frames=frames, truncation=truncation).cpu()
    scale = 1 if raw else upscale_factor(*walk.shape[-2:])
    output.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".mp4":
        write_video(output, to_uint8(walk, scale), fps)
    else:
        _save_gif(to_uint8(walk, scale), output, fps)
    columns = torch.linspace(0, frames, min(frames, STRIP_COLUMNS - 1) + 1).round().long()
    rows = torch.cat([walk[i * frames + columns] for i in range(k - 1)])
    save_grid(rows, strip, len(columns), scale)
    return [str(output), str(strip)]


def to_uint8(images: torch.Tensor, scale: int = 1) -> torch.Tensor:
    """[0, 1] images ``[N, C, H, W]`` as uint8, rounded as ``save_image`` rounds, every pixel
    repeated ``scale`` times each way (nearest neighbour: no blur is invented)."""
    out = images.float().mul(255).add(0.5).clamp(0, 255).to(torch.uint8)
    return out.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)


def _save_gif(frames: torch.Tensor, path: Path, fps: int) -> None:
    """uint8 frames ``[N, 3, H, W]`` as an animated GIF that loops forever."""
    pictures = [Image.fromarray(frame.permute(1, 2, 0).numpy()) for frame in frames]
    # GIF counts in hundredths of a second (16 fps: 6 of them, 60 ms), and browsers slow frames
    # shorter than 2 of them to 100 ms, so faster rates are capped at 50 fps
    duration = 10 * max(2, round(100 / fps))
    atomic_write(
        path,
        lambda tmp: pictures[0].save(
            tmp, "GIF", save_all=True, append_images=pictures[1:], duration=duration, loop=0
        ),
    )


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


def _translate_files(
    gan, files: list[Path], targets: list[Path], output_dir: Path, reverse: bool
) -> tuple[list[str], list[Path]]:
    """Translates each readable file of ``files`` with the model ``gan`` into its PNG in
    ``targets``, in batches: (the files written, the inputs skipped as unreadable)."""
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
    return written, skipped


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
    refuse_existing(targets, force)
    gan = load(source, device=device)
    written, skipped = _translate_files(gan, files, targets, output_dir, reverse)
    if not written:  # every input unreadable: a success message would hide it
        raise GanzooError(
            f"none of the {len(files)} input file(s) is a readable image (e.g. {skipped[0]}); "
            "nothing written"
        )
    if skipped:
        warnings.warn(
            f"skipped {len(skipped)} of {len(files)} input file(s) that are not readable images "
            f"(e.g. {skipped[0]})",
            stacklevel=2,
        )
    return written


def translate_video(
    source: str,
    video: str | os.PathLike,
    output: str | os.PathLike,
    reverse: bool = False,
    device: str = "auto",
    force: bool = False,
) -> tuple[int, Fraction]:
    """Translates every frame of ``video`` into the video ``output`` at the same frame rate;
    returns (frames written, frames a second). Audio is dropped, with a warning that says so."""
    video, output = Path(video), Path(output)
    if not video.is_file():
        raise GanzooError(f"no such file: {video}")
    check_writable(output)
    refuse_existing([output], force)
    # a missing PyAV or an unreadable file fails before the model loads
    container = open_video(video)
    try:
        gan = load(source, device=device)
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or FALLBACK_FPS
        # a Fraction, or from PyAV 19 its own AVRational: both have these two
        fps = Fraction(rate.numerator, rate.denominator)
        size, crop = tuple(gan.image_size), input_crop(gan.config, reverse)
        output.parent.mkdir(parents=True, exist_ok=True)
        written = {}

        def encode(tmp: Path) -> None:
            writer = VideoWriter(tmp, WRITABLE[output.suffix.lower()], fps, *size)
            frames = read_frames(container, video)
            _translate_frames(gan, frames, writer, size, crop, reverse, stream.frames, video)
            writer.close()
            if writer.frames == 0:
                raise GanzooError(f"{video} has no frames that could be read; nothing written")
            written["frames"] = writer.frames

        atomic_write(output, encode)
        sound = bool(container.streams.audio)
    finally:
        container.close()
    if sound:  # said once the video is written, so a failure is not preceded by it
        message = f"{video} has sound; {output} has none (only the picture is translated)"
        warnings.warn(message, stacklevel=2)
    return written["frames"], fps


def _translate_frames(gan, frames, writer, size, crop, reverse, total, video) -> None:
    """Crops, translates and writes the frames in batches, with a progress bar on a terminal."""
    from tqdm import tqdm

    from ganzoo.data.images import crop_box, resized_crop

    bar = tqdm(
        total=total or None,  # 0: the container does not say
        desc=f"translating {video.name}",
        unit="frame",
        disable=not sys.stderr.isatty(),
    )
    batch: list[torch.Tensor] = []

    def flush() -> None:
        images = torch.stack(batch).float().div(255)
        out = gan.translate(images, reverse=reverse).cpu()
        writer.write(to_uint8(out))
        bar.update(len(batch))
        batch.clear()

    with bar:
        for pixels in frames:
            box = crop_box(pixels.shape[1], pixels.shape[0], size, crop)
            batch.append(torch.from_numpy(resized_crop(pixels, box, size)))
            if len(batch) == TRANSLATE_BATCH:  # frames go through as image files do
                flush()
        if batch:
            flush()
