"""Datasets: every one yields uint8 tensors [3, H, W] (RGB).

    open_dataset(spec, size, root=None)               one dataset (spec: below)
    open_domains(data, roles, size, source=None, root=None)   {"target": ..., "source": ...}
    source_domain(data)                               the source domain ``data`` names, or None
    describe(name)                                    what `ganzoo info NAME` shows for a dataset

A spec is a registered dataset name (``anime``, ``celeba``, ``toon``, or a plugin's), a folder of
images (searched recursively), a ``.tar`` or ``.zip`` of images, or ``hf://datasets/ORG/NAME``
(a Hub dataset's images or parquet shards, through the Hugging Face cache). Files are decoded
once into a memory-mapped cache (cache.py); the preprocessing is described in images.py, the
lookup of registered datasets' files in real.py.

A registered dataset describes itself, so that the general code (training, evaluation, model
cards, ``ganzoo translate``) never tests a dataset's name. Its manifest entry, plain data:

    "builder"       "module:attr", called as builder(size=(H, W), root=...) -> the dataset
    "summary"       one line for ``ganzoo list``
    "provenance"    what the images are and where they come from, as a model card's "Trained
                    on ..." says it (default: the summary)
    "homepage", "licence"   where the data is published and its terms, quoted in model cards
    "card_license"  the Hub licence id of cards of models trained on it: "mit" only for data
                    free of terms (ganzoo's own toon faces); default "other"
    "source"        for translators trained to produce this data: the default source domain
                    (a dataset spec, e.g. toon's "toon/photo"); ``--source-data`` overrides it
    "crop"          how image files are cropped, here and for ``ganzoo translate``'s inputs:
                    "center" (default) or "face" (images.py)
    "describe"      "module:attr" called with the name for ``ganzoo info`` (default: these fields)
    and, for data read from files, where they are found (real.py).

The dataset itself has ``__len__`` and ``__getitem__``, and may add what evaluation uses:
``__getitems__(indices)`` (torch's batched fetch: many images in one call), ``attribute_array
(indices)`` (known per-image labels, int [N, k], which metrics of a translator get for its
inputs as ``Context.source_attributes``), and ``cache_key`` (what names its content in the
metrics cache).

Importing this package, and ``describe``, does not import torch; opening a dataset does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ganzoo.data.cache_dir import cache_root
from ganzoo.errors import GanzooError

__all__ = ["cache_root", "describe", "open_dataset", "open_domains", "source_domain"]

ROLES = ("source", "target")


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
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise GanzooError(f"unknown data roles {unknown}; known: {', '.join(ROLES)}")
    specs = {"target": data}
    if "source" in roles:
        source = source or source_domain(data)
        if source is None:
            raise GanzooError(
                f"this model translates a source domain into {data!r}, and {data!r} names no "
                f"source domain: pass --source-data (a dataset name, folder, .tar/.zip or "
                f"hf://...)"
            )
        specs["source"] = source
    return {role: open_dataset(specs[role], size, root) for role in roles}


def source_domain(data: str | None) -> str | None:
    """The source domain a translator into ``data`` learns from by default: what the registered
    dataset's "source" names (celeba for anime), or None (unregistered data names none)."""
    from ganzoo.registry import registry

    entry = registry().find("datasets", data) if data else None
    return entry.spec.get("source") if entry is not None else None


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
