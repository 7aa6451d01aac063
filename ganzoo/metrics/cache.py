"""Reference statistics of real data, computed once and kept as .npz files.

A file's name is a hash of everything its content depends on: the real images' identity (dataset
cache key or spec, size, count, seed), the preprocessing, and the feature extractor with the hash
of its weights. Files live in ``$GANZOO_CACHE/metrics`` (default ``~/.cache/ganzoo/metrics``) and
are written atomically, so an interrupted run never leaves a half-written file to be read later.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ganzoo.io.files import atomic_write


def cache_dir() -> Path:
    root = os.environ.get("GANZOO_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "ganzoo"
    return base / "metrics"


def key_of(parts: dict[str, Any]) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@functools.cache
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, hashed once per process for each (path, size, mtime)."""
    stat = os.stat(path)
    return _file_sha256(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with tmp.open("wb") as f:  # a file object: given a name, numpy would append ".npz"
            np.savez(f, **arrays)

    atomic_write(path, write)


def cached_arrays(
    kind: str, parts: dict[str, Any] | None, compute: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """``compute()``'s arrays, read from the cache when ``parts`` was seen before.

    ``parts=None`` means the content has no stable identity: compute and keep nothing.
    """
    if parts is None:
        return compute()
    path = cache_dir() / f"{kind}-{key_of({'kind': kind, **parts})}.npz"
    if path.is_file():
        try:
            with np.load(path) as f:
                return {k: f[k] for k in f.files}
        except (OSError, ValueError):  # unreadable: recompute and overwrite
            pass
    arrays = compute()
    try:
        save_npz(path, arrays)
    except OSError as exc:  # a read-only cache costs time, not correctness
        warnings.warn(f"cannot cache reference statistics in {path.parent}: {exc}", stacklevel=2)
    return arrays
