"""Datasets: every one yields uint8 tensors [3, H, W] (RGB).

    open_dataset(spec, size, root=None)               one dataset (spec: below)
    open_domains(data, roles, size, source=None, root=None)   {"target": ..., "source": ...}
    describe(name)                                    what `ganzoo info NAME` shows for a dataset

A spec is a registered dataset name (``anime``, ``celeba``, ``toon``, or a plugin's), a folder of
images (searched recursively), a ``.tar`` or ``.zip`` of images, or ``hf://datasets/ORG/NAME``
(a Hub dataset's images or parquet shards, through the Hugging Face cache). Files are decoded
once into a memory-mapped cache (cache.py); the preprocessing is described in images.py, the
real datasets' lookup order in real.py.

Importing this package, and ``describe``, does not import torch; opening a dataset does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ganzoo.errors import GanzooError

__all__ = ["cache_root", "describe", "open_dataset", "open_domains"]

ROLES = ("source", "target")


def cache_root() -> Path:
    """Where decoded datasets are cached: ``$GANZOO_CACHE/datasets``, else ``~/.cache/ganzoo/``."""
    base = os.environ.get("GANZOO_CACHE") or Path.home() / ".cache" / "ganzoo"
    return Path(base).expanduser() / "datasets"


def _hub_spec(spec: str) -> tuple[str, str | None]:
    """``hf://datasets/ORG/NAME[@REVISION]`` -> ("ORG/NAME", REVISION)."""
    rest = spec.removeprefix("hf://")
    if not rest.startswith("datasets/"):
        raise GanzooError(f"{spec!r}: Hub datasets are written hf://datasets/ORG/NAME")
    repo, _, revision = rest.removeprefix("datasets/").strip("/").partition("@")
    if repo.count("/") != 1 or not all(repo.split("/")):
        raise GanzooError(f"{spec!r}: Hub datasets are written hf://datasets/ORG/NAME")
    return repo, revision or None


def open_dataset(spec: str, size: tuple[int, int], root: str | None = None):
    """A dataset of uint8 tensors [3, H, W] at ``size`` (H, W); see the module docstring."""
    from ganzoo.registry import registry

    size = (int(size[0]), int(size[1]))
    if spec.startswith("hf://"):
        from ganzoo.data.cache import open_cached
        from ganzoo.data.sources import hub_source

        repo, revision = _hub_spec(spec)
        return open_cached(hub_source(repo, revision), size, name=repo.replace("/", "-"))
    entry = registry().find("datasets", spec)
    if entry is not None:
        return entry.load()(size=size, root=root)
    path = Path(spec).expanduser()
    if path.exists():
        from ganzoo.data.cache import open_cached
        from ganzoo.data.sources import open_path

        if not os.access(path, os.R_OK):
            raise GanzooError(f"cannot read {path}: permission denied")
        return open_cached(open_path(path), size)
    known = ", ".join(e.name for e in registry().entries("datasets")) or "none"
    what = "no such file or folder" if os.sep in spec or path.suffix else "unknown dataset"
    raise GanzooError(
        f"{what} {spec!r}: give a registered dataset ({known}), a folder of images, "
        f"a .tar or .zip of images, or hf://datasets/ORG/NAME"
    )


def open_domains(
    data: str,
    roles: tuple[str, ...],
    size: tuple[int, int],
    source: str | None = None,
    root: str | None = None,
) -> dict[str, Any]:
    """The datasets a model trains on, by role: "target" is ``data``; "source" (translators) is
    ``source`` if given, else the source domain that ``data``'s manifest entry names."""
    from ganzoo.registry import registry

    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise GanzooError(f"unknown data roles {unknown}; known: {', '.join(ROLES)}")
    specs = {"target": data}
    if "source" in roles:
        if source is None:
            entry = registry().find("datasets", data)
            source = entry.spec.get("source") if entry is not None else None
        if source is None:
            raise GanzooError(
                f"this model translates a source domain into {data!r}, and {data!r} names no "
                f"source domain: pass --source (a dataset name, folder, .tar/.zip or hf://...)"
            )
        specs["source"] = source
    return {role: open_dataset(specs[role], size, root) for role in roles}


def describe(name: str) -> dict[str, Any]:
    """What ``ganzoo info NAME`` shows for a registered dataset: the manifest's fields, or what
    the entry's ``describe`` builder (a ``module:attr`` string, called with the name) reports."""
    from ganzoo.registry import import_string, registry

    entry = registry().get("datasets", name)
    if "describe" in entry.spec:
        return import_string(entry.spec["describe"], what=f"dataset {name!r}")(entry.name)
    info = {"summary": entry.summary}
    info.update(
        {k: v for k, v in entry.spec.items() if k not in ("builder", "summary", "describe")}
    )
    return info
