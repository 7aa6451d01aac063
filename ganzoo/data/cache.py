"""The decode cache: every image is decoded and resized once, then read from a memory-mapped file.

One ``.npy`` file per (source content, preprocessing) holds uint8 [N, 3, H, W]: an item is one
contiguous slice already in the [3, H, W] layout datasets yield, so later epochs and later runs
decode nothing. Beside it a ``.json`` says what was skipped, so the warning can be repeated.

Where: ``$GANZOO_CACHE/datasets/`` (default ``~/.cache/ganzoo/datasets/``), file
``<name>-<W>x<H>-<crop>-<key>.npy``, where ``key`` is the first 20 hex digits of the sha256 of
{"source": the source's content fingerprint (see sources.py), "size": [H, W], "crop": crop,
"preprocess": images.PREPROCESS_VERSION, "format": CACHE_FORMAT}. A changed file, another size or
crop, or a change to the decoding code gives another key, never a stale cache.

Trust: a cache is only ever written under a temporary name and renamed into place
(``ganzoo.io.files.atomic_write``) once complete, its .json first, so the final name always holds a
whole file; a process killed mid-way leaves a ``.NAME.*.tmp`` file that is never read and is
deleted by the next build. The file is still checked (header, shape, length) before use, and
rebuilt if it does not match. A lock file serialises builds, so processes started together
(torchrun) decode once and the others wait and reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import warnings
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock  # a dependency of huggingface_hub
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from ganzoo.data import images
from ganzoo.data.cache_dir import cache_root
from ganzoo.data.images import Unusable
from ganzoo.data.sources import Source
from ganzoo.errors import GanzooError
from ganzoo.io.files import atomic_write, leftover_temporaries

CACHE_FORMAT = 1
CHUNK = 64  # files handed to a worker thread at a time
# PIL releases the GIL while decoding and resizing, so threads decode in parallel.
DECODE_THREADS = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2)


class DataWarning(UserWarning):
    """Files skipped or changed while reading a dataset (one line per dataset)."""


def _slug(text: str) -> str:
    name = text.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".tar", ".zip", ".parquet"):
        name = name.removesuffix(suffix)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "data"


def cache_path(source: Source, size: tuple[int, int], crop: str, name: str | None = None) -> Path:
    recipe = {
        "source": source.fingerprint(),
        "size": list(size),
        "crop": crop,
        "preprocess": images.PREPROCESS_VERSION,
        "format": CACHE_FORMAT,
    }
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:20]
    return cache_root() / f"{_slug(name or source.label)}-{size[1]}x{size[0]}-{crop}-{key}.npy"


class CachedImages(Dataset):
    """Decoded images from a cache file: item ``i`` is a uint8 tensor [3, H, W]."""

    def __init__(self, path: Path, label: str):
        self.path = Path(path)
        self.label = label
        self._images: np.ndarray | None = None
        self._images = self.images  # opened here so a damaged file fails here, not in a worker
        self.size = tuple(self._images.shape[2:])

    @property
    def images(self) -> np.ndarray:
        """All images, uint8 [N, 3, H, W], memory-mapped (opened again in each worker process)."""
        if self._images is None:
            # A plain ndarray view of the map: indexing it is cheaper than indexing np.memmap.
            self._images = np.asarray(np.load(self.path, mmap_mode="r"))
        return self._images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> torch.Tensor:
        # Copied: the map is read-only, and a tensor that shares it could not be written to.
        return torch.from_numpy(self.images[index].copy())

    def __getstate__(self) -> dict:
        # DataLoader workers get the path, not the pages (pickling a map copies all of it).
        return {**self.__dict__, "_images": None}

    def __repr__(self) -> str:
        h, w = self.size
        return f"CachedImages({self.label}: {len(self)} images {w}x{h}, {self.path})"


def _try_open(path: Path, size: tuple[int, int], label: str) -> CachedImages | None:
    try:
        dataset = CachedImages(path, label)
    except (OSError, ValueError, EOFError):  # missing, or damaged by something other than us
        return None
    shape = dataset.images.shape
    if dataset.images.dtype != np.uint8 or shape[1:] != (3, *size) or shape[0] == 0:
        return None
    return dataset


def _decode_chunk(out: np.ndarray, start: int, job, size: tuple[int, int], crop: str):
    """Reads files (``job()``) and decodes them into rows ``start...`` of ``out``; per file:
    whether it was upscaled, or the ``Unusable`` that says why it has no row. Runs in a worker."""
    results = []
    for offset, item in enumerate(job()):
        try:
            if isinstance(item, Unusable):
                raise item
            # images.decode is looked up on the module at each call so that tests can replace it.
            array, upscaled = images.decode(item, size, crop)
        except Unusable as exc:
            results.append(exc)
            continue
        out[start + offset] = array
        results.append(upscaled)
    return results


def _build(source: Source, size: tuple[int, int], crop: str, path: Path) -> None:
    total = len(source)
    if total == 0:
        n = source.unreadable_folders
        folders = f" ({n} unreadable folder{'s' if n > 1 else ''} skipped)" if n else ""
        raise GanzooError(
            f"no image files in {source.label}{folders}; "
            f"looked for {', '.join(images.IMAGE_EXTENSIONS)}"
        )
    # left by a killed build (named NAME.tmpPID before atomic_write); we hold the lock
    for stale in [*leftover_temporaries(path), *path.parent.glob(f"{path.name}.tmp*")]:
        stale.unlink(missing_ok=True)
    try:
        # the .npy is committed last: the .json beside it is written first, by _decode_into
        atomic_write(path, lambda tmp: _decode_into(tmp, source, size, crop, path))
    finally:
        source.close()


def _decode_into(tmp: Path, source: Source, size: tuple[int, int], crop: str, path: Path) -> None:
    """Decodes every file of ``source`` into the .npy ``tmp``, then writes the .json of ``path``
    that says what was skipped."""
    total = len(source)
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(total, 3, *size))
    bad, upscaled, skipped = _decode_all(out, source, size, crop)
    kept = total - len(bad)
    if kept == 0:
        raise GanzooError(
            f"no usable images in {source.label}: {_skip_text(skipped, total, source.label)}"
        )
    if bad:
        # The .npy header fixes the length: copy the usable rows into a file of the right one.
        shorter_path = tmp.with_suffix(".short.tmp")  # removed with the others if killed
        try:
            _copy_rows(out, np.delete(np.arange(total), bad), shorter_path)
            del out
            os.replace(shorter_path, tmp)
        finally:
            shorter_path.unlink(missing_ok=True)
    else:
        out.flush()
        del out
    meta = {
        "source": source.label,
        "fingerprint": source.fingerprint(),
        "size": list(size),
        "crop": crop,
        "preprocess": images.PREPROCESS_VERSION,
        "files": total,
        "images": kept,
        "skipped": dict(skipped),
        "upscaled": upscaled,
    }
    text = json.dumps(meta, indent=1) + "\n"
    atomic_write(path.with_suffix(".json"), lambda meta_tmp: meta_tmp.write_text(text))


def _decode_all(
    out: np.ndarray, source: Source, size: tuple[int, int], crop: str
) -> tuple[list[int], int, Counter]:
    """Decodes every file of ``source`` into its row of ``out``: (rows of unusable files, number
    of images upscaled, count of unusable files by reason)."""
    total = len(out)
    bad, upscaled, skipped = [], 0, Counter()
    bar = tqdm(
        total=total,
        desc=f"decoding {source.label}",
        unit="img",
        disable=not sys.stderr.isatty(),
    )
    # Worker threads read and decode chunks of files (see Source.chunks); each file keeps its
    # row, and the rows of unusable ones are squeezed out at the end.
    with bar, ThreadPoolExecutor(DECODE_THREADS) as pool:
        pending: deque = deque()

        def collect() -> None:
            nonlocal upscaled
            start, future = pending.popleft()
            for offset, result in enumerate(future.result()):
                if isinstance(result, Unusable):
                    bad.append(start + offset)
                    skipped[result.reason] += 1
                else:
                    upscaled += result
            bar.update(len(future.result()))

        start = 0
        for count, job in source.chunks(CHUNK):
            pending.append((start, pool.submit(_decode_chunk, out, start, job, size, crop)))
            start += count
            if len(pending) > 2 * DECODE_THREADS:
                collect()
        while pending:
            collect()
    if start != total:
        raise GanzooError(f"{source.label} changed while it was read; try again")
    return bad, upscaled, skipped


def _copy_rows(out: np.ndarray, rows: np.ndarray, path: Path) -> None:
    """Writes ``out[rows]`` to a new .npy file at ``path``, a block of rows at a time."""
    shorter = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.uint8, shape=(len(rows), *out.shape[1:])
    )
    for i in range(0, len(rows), 1024):
        shorter[i : i + 1024] = out[rows[i : i + 1024]]
    shorter.flush()


def _skip_text(skipped: Counter, total: int, label: str) -> str:
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
    return f"skipped {sum(skipped.values())} of {total} files in {label} ({reasons})"


def _warn_once(path: Path, source: Source, size: tuple[int, int]) -> None:
    """One warning line for everything skipped or upscaled in this dataset, if anything was."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        meta = {}
    parts = []
    skipped = Counter(meta.get("skipped", {}))
    if skipped:
        parts.append(_skip_text(skipped, meta.get("files", "?"), source.label))
    if source.unreadable_folders:
        n = source.unreadable_folders
        parts.append(f"skipped {n} unreadable folder{'s' if n > 1 else ''} in {source.label}")
    if meta.get("upscaled"):
        parts.append(
            f"upscaled {meta['upscaled']} of {meta['images']} images in {source.label} "
            f"smaller than {size[1]}x{size[0]}"
        )
    if parts:
        warnings.warn("; ".join(parts), DataWarning, stacklevel=3)


def open_cached(
    source: Source, size: tuple[int, int], crop: str = "center", name: str | None = None
) -> CachedImages:
    """The source's images at ``size`` (H, W), decoded into the cache on first use."""
    if crop not in images.CROPS:
        raise GanzooError(f"unknown crop {crop!r}; choose {', '.join(images.CROPS)}")
    size = (int(size[0]), int(size[1]))
    path = cache_path(source, size, crop, name)
    dataset = _try_open(path, size, source.label)
    if dataset is None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with FileLock(f"{path}.lock"):
                dataset = _try_open(path, size, source.label)  # built while we waited?
                if dataset is None:
                    _build(source, size, crop, path)
                    dataset = _try_open(path, size, source.label)
        except OSError as exc:  # disk full, cache folder read-only
            raise GanzooError(f"cannot write the decode cache {path}: {exc}") from None
        if dataset is None:
            raise GanzooError(f"the decode cache {path} could not be read back")
    _warn_once(path, source, size)
    return dataset
