"""The real face datasets, ``anime`` and ``celeba``: finding their files and opening them.

Their manifest entries (ganzoo/builtins.py) name the files, the Hub repository and the crop. The
data is looked for in this order, and the first place that has it wins:

1. ``root`` (the command line's ``--data-root``): a folder holding ``anime-faces-64.tar`` or
   ``anime-faces-64/`` (``celeba-faces.tar`` or ``celeba-faces/`` for celeba);
2. ``GANZOO_DATA_ANIME`` / ``GANZOO_DATA_CELEBA``: the archive or folder itself; then
   ``GANZOO_DATA``: a folder holding them as in 1;
3. the config file ``$GANZOO_CONFIG`` (default ``~/.config/ganzoo/config.yaml``) with
   ``data: {anime: PATH, celeba: PATH}``, PATH relative to the file's folder;
4. the Hugging Face Hub dataset, through huggingface_hub's cache (downloaded on first use);

and otherwise one error says how to get the data. A path that is named explicitly (an env
variable, a config entry) but does not exist is an error at once, rather than silently skipped.

celeba is cropped with the "celeba" crop (see images.py): 128x160 keeps the whole 178x218 photo,
square sizes take a face-centred square. anime images are 64x64 at the source, so the paper's
96x96 upscales them (the warning says so).

No torch at import: ``ganzoo info`` describes datasets without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ganzoo.data.sources import Source, hub_snapshot, open_path, snapshot_source
from ganzoo.errors import GanzooError
from ganzoo.recipes import parse_size


def dataset_spec(name: str) -> dict[str, Any]:
    from ganzoo.builtins import MANIFEST

    return MANIFEST["datasets"][name]


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
    """Where a real dataset was found: a local path, or a Hub snapshot folder."""

    path: Path
    via: str  # how it was found, e.g. "GANZOO_DATA=/data"
    hub: str | None = None  # the repository, when ``path`` is a Hub snapshot

    def source(self) -> Source:
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
    return [
        f"--data-root DIR holding {held}",
        f"{spec['env']}=PATH (the archive or folder), or GANZOO_DATA=DIR holding {held}",
        f"config {config_file()}: data: {{{name}: PATH}}",
        f"the Hugging Face Hub dataset {spec['hub']} (through the Hugging Face cache)",
    ]


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
        raise GanzooError(
            f"{name} data not found: looked at {'; '.join(looked)}. Set GANZOO_DATA to a folder "
            f"holding {spec['archive']} or {spec['folder']}/, or go online once to download the "
            f"Hub dataset {spec['hub']}, or pass a folder of images: --data DIR"
        )
    return found


def _open(name: str, size: Any, root: str | os.PathLike | None):
    from ganzoo.data.cache import open_cached  # imports torch

    size = parse_size(size)
    source = locate(name, root).source()
    return open_cached(source, size, dataset_spec(name)["crop"], name=name)


def anime(size: Any = (64, 64), root: str | os.PathLike | None = None):
    """Anime faces as uint8 tensors [3, H, W]; 64x64 at the source (the paper uses 96x96)."""
    return _open("anime", size, root)


def celeba(size: Any = (64, 64), root: str | os.PathLike | None = None):
    """Aligned CelebA faces as uint8 tensors [3, H, W]; the paper uses 128x160 (size (160, 128))."""
    return _open("celeba", size, root)


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
    Never downloads: the Hub is only looked up in the local Hugging Face cache."""
    from ganzoo.data import cache_root

    spec = dataset_spec(name)
    info: dict[str, Any] = {
        "summary": spec["summary"],
        "homepage": spec["homepage"],
        "licence": spec["licence"],
        "hub": f"https://huggingface.co/datasets/{spec['hub']}",
        "sizes": f"default {_wxh(spec['default_size'])}, paper {_wxh(spec['paper_size'])} (WxH)",
    }
    if spec.get("source"):
        info["source_domain"] = spec["source"]
    info["resolution_order"] = {str(i): step for i, step in enumerate(resolution_order(name), 1)}
    where, looked = _search(name, root, download=False)
    if where is None:
        info.update(present=False, found=f"not found; looked at {'; '.join(looked)}")
        return info
    info.update(present=True, found=f"{where.path} (via {where.via})")
    try:
        info["images"] = len(where.source())
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
