"""Datasets of image files found on this machine or in the Hub cache: ``anime``, ``celeba``, and
any plugin's dataset registered the same way.

Such a dataset's registration (its manifest entry, see ganzoo/builtins.py) names its files, its Hub
copy and its crop; everything below reads the registration, never a dataset's name:

    "archive"   the archive it ships as (default NAME.tar)
    "folder"    the folder it unpacks to (default NAME)
    "env"       an environment variable naming the archive or folder (default GANZOO_DATA_NAME)
    "hub"       the Hugging Face Hub dataset ORG/NAME holding it (optional)
    "crop"      how each image is cropped (images.py: "center", the default, or "face")

The data is looked for in this order, and the first place that has it wins:

1. ``root`` (the command line's ``--data-root``): a folder holding the archive or the folder
   (``anime-faces-64.tar`` or ``anime-faces-64/`` for anime);
2. the dataset's own variable (``GANZOO_DATA_ANIME``): the archive or folder itself; then
   ``GANZOO_DATA``: a folder holding them as in 1;
3. the config file ``$GANZOO_CONFIG`` (default ``~/.config/ganzoo/config.yaml``) with
   ``data: {anime: PATH, celeba: PATH}``, PATH relative to the file's folder;
4. the Hugging Face Hub dataset, through huggingface_hub's cache (downloaded on first use);

and otherwise one error says how to get the data. A path that is named explicitly (an env
variable, a config entry) but does not exist is an error at once, rather than silently skipped.

A plugin adds such a dataset with a manifest entry and a two-line builder::

    "ffhq": {"builder": "mypkg.data:ffhq", "describe": "ganzoo.data.real:describe", "hub": ...}

    def ffhq(size=(64, 64), root=None):
        return ganzoo.data.real.open_real("ffhq", size, root)

No torch at import: ``ganzoo info`` describes datasets without it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ganzoo.data.cache_dir import cache_root
from ganzoo.data.sources import Source, hub_snapshot, open_path, snapshot_source
from ganzoo.errors import GanzooError
from ganzoo.recipes import parse_size


def dataset_spec(name: str) -> dict[str, Any]:
    """The dataset's registration, with the defaults of the module docstring filled in."""
    from ganzoo.registry import registry

    entry = registry().get("datasets", name)
    spec = dict(entry.spec)
    spec.setdefault("archive", f"{entry.name}.tar")
    spec.setdefault("folder", entry.name)
    spec.setdefault("env", "GANZOO_DATA_" + re.sub(r"[^A-Z0-9]+", "_", entry.name.upper()))
    spec.setdefault("hub", None)
    spec.setdefault("crop", "center")
    return spec


def config_file() -> Path:
    if os.environ.get("GANZOO_CONFIG"):
        return Path(os.environ["GANZOO_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "ganzoo" / "config.yaml"


def _configured_path(name: str) -> tuple[Path, Path | None]:
    """The config file, and the path it gives for ``name`` (None when it gives none)."""
    path = config_file()
    if not path.is_file():
        return path, None
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise GanzooError(f"cannot read config file {path}: {str(exc).splitlines()[0]}") from None
    data = config.get("data") if isinstance(config, dict) else None
    if data is not None and not isinstance(data, dict):
        raise GanzooError(f"config file {path}: 'data' must map dataset names to paths")
    value = (data or {}).get(name)
    if value is None:
        return path, None
    return path, path.parent / Path(str(value)).expanduser()  # an absolute value stays as it is


@dataclass
class Location:
    """Where a dataset's files were found: a local path, or a Hub snapshot folder."""

    path: Path
    via: str  # how it was found, e.g. "GANZOO_DATA=/data"
    hub: str | None = None  # the repository, when ``path`` is a Hub snapshot

    def images(self) -> Source:
        """The image files found there."""
        if self.hub:
            return snapshot_source(self.path, self.hub)
        return open_path(self.path, label=str(self.path))


def _inside(folder: Path, spec: dict[str, Any]) -> Path | None:
    """The dataset's archive or folder inside ``folder``, if there."""
    for candidate in (folder / spec["archive"], folder / spec["folder"]):
        if candidate.exists():
            return candidate
    return None


def _named(path: Path, what: str, spec: dict[str, Any]) -> Path:
    """A path the user named for this dataset: the data itself, or a folder holding it."""
    if not path.exists():
        raise GanzooError(f"{what} {path} does not exist")
    return (_inside(path, spec) if path.is_dir() else None) or path


def resolution_order(name: str) -> list[str]:
    spec = dataset_spec(name)
    held = f"{spec['archive']} or {spec['folder']}/"
    order = [
        f"--data-root DIR holding {held}",
        f"{spec['env']}=PATH (the archive or folder), or GANZOO_DATA=DIR holding {held}",
        f"config {config_file()}: data: {{{name}: PATH}}",
    ]
    if spec["hub"]:
        order.append(f"the Hugging Face Hub dataset {spec['hub']} (through the Hugging Face cache)")
    return order


def _search(name: str, root, download: bool) -> tuple[Location | None, list[str]]:
    """Where ``name``'s data is (None if nowhere), and the places looked at in vain."""
    spec = dataset_spec(name)
    looked = []
    if root:
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise GanzooError(f"--data-root {folder} is not a folder")
        found = _inside(folder, spec)
        if found:
            return Location(found, f"--data-root {folder}"), looked
        looked.append(f"--data-root {folder}")
    direct = os.environ.get(spec["env"])
    if direct:
        return Location(_named(Path(direct).expanduser(), spec["env"], spec), spec["env"]), looked
    base = os.environ.get("GANZOO_DATA")
    if base:
        found = _inside(Path(base).expanduser(), spec)
        if found:
            return Location(found, f"GANZOO_DATA={base}"), looked
        looked.append(f"GANZOO_DATA={base}")
    else:
        looked.append("GANZOO_DATA (not set)")
    config, configured = _configured_path(name)
    if configured is not None:
        where = _named(configured, f"{config}: data.{name}:", spec)
        return Location(where, f"config {config}"), looked
    looked.append(f"config {config} ({'no data.' + name if config.is_file() else 'absent'})")
    if not spec["hub"]:  # a dataset with no Hub copy: the local places are all there is
        return None, looked
    try:
        snapshot = hub_snapshot(spec["hub"], download=download)
        return Location(snapshot, f"Hugging Face cache ({spec['hub']})", hub=spec["hub"]), looked
    except GanzooError as exc:
        looked.append(str(exc))
    return None, looked


def locate(name: str, root: str | os.PathLike | None = None, download: bool = True) -> Location:
    """Where ``name``'s data is, in the order of the module docstring; GanzooError if nowhere."""
    found, looked = _search(name, root, download)
    if found is None:
        spec = dataset_spec(name)
        hub = f"go online once to download the Hub dataset {spec['hub']}, " if spec["hub"] else ""
        raise GanzooError(
            f"{name} data not found: looked at {'; '.join(looked)}. Set GANZOO_DATA to a folder "
            f"holding {spec['archive']} or {spec['folder']}/, or {hub}or pass a folder of "
            f"images: --data DIR"
        )
    return found


def open_real(name: str, size: Any = (64, 64), root: str | os.PathLike | None = None):
    """The registered dataset ``name``'s images as uint8 tensors [3, H, W], found as the module
    docstring says and cropped as its registration says: the builder of every such dataset."""
    from ganzoo.data.cache import open_cached  # imports torch

    size = parse_size(size)
    files = locate(name, root).images()
    return open_cached(files, size, dataset_spec(name)["crop"], name=name)


def anime(size: Any = (64, 64), root: str | os.PathLike | None = None):
    """Anime faces as uint8 tensors [3, H, W]; 64x64 at the source (the paper uses 96x96)."""
    return open_real("anime", size, root)


def celeba(size: Any = (64, 64), root: str | os.PathLike | None = None):
    """Aligned CelebA faces as uint8 tensors [3, H, W]; the paper uses 128x160 (size (160, 128))."""
    return open_real("celeba", size, root)


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(
        os.path.getsize(os.path.join(folder, f))
        for folder, _, files in os.walk(path)
        for f in files
        if os.path.isfile(os.path.join(folder, f))
    )


def _human(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


def _wxh(size: str) -> str:
    return size if "x" in size else f"{size}x{size}"


def describe(name: str, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """What ``ganzoo info anime`` shows: provenance, licence, where the data is, and how much.
    Never downloads: the Hub is only looked up in the local Hugging Face cache. Fields the
    registration leaves out are left out here too."""
    spec = dataset_spec(name)
    info: dict[str, Any] = {"summary": spec.get("summary", "")}
    for key in ("homepage", "licence"):
        if spec.get(key):
            info[key] = spec[key]
    if spec["hub"]:
        info["hub"] = f"https://huggingface.co/datasets/{spec['hub']}"
    sizes = [
        f"{which} {_wxh(str(spec[key]))}"
        for which, key in (("default", "default_size"), ("paper", "paper_size"))
        if spec.get(key)
    ]
    if sizes:
        info["sizes"] = f"{', '.join(sizes)} (WxH)"
    info["crop"] = spec["crop"]
    if spec.get("source"):
        info["source_domain"] = spec["source"]
    info["resolution_order"] = {str(i): step for i, step in enumerate(resolution_order(name), 1)}
    where, looked = _search(name, root, download=False)
    if where is None:
        info.update(present=False, found=f"not found; looked at {'; '.join(looked)}")
        return info
    info.update(present=True, found=f"{where.path} (via {where.via})")
    try:
        info["images"] = len(where.images())
    except GanzooError as exc:  # e.g. parquet without pyarrow
        info["images"] = f"unknown ({exc})"
    info["disk_size"] = _human(_disk_size(where.path))
    caches = {}
    for meta in sorted(cache_root().glob(f"{name}-*.json")):
        cache = meta.with_suffix(".npy")
        if cache.exists():
            caches[cache.name] = _human(cache.stat().st_size)
    info["decode_caches"] = caches or "none yet (the first run decodes once)"
    return info
