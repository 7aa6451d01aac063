"""The zoo: pretrained entries, each described by a model card, read without importing torch.

A card is a model card (YAML front matter, then Markdown) whose front matter carries a ``ganzoo``
block saying what the entry is and where its weights live::

    ganzoo:
      entry: improved-anime        # the name users type
      model: improved              # the registered model
      data: anime                  # what it was trained on
      status: unpublished          # or published
      repo: null                   # ORG/NAME on the Hugging Face Hub once published
      revision: null               # the pinned commit the zoo loads
      sha256: null                 # of model.safetensors (bundled or at that commit)
      train: ganzoo run improved --data anime --recipe paper

Entries come from catalogues, folders that hold cards (``NAME.md``) and entry folders
(``NAME/`` in Hub layout: ``README.md`` is the card, next to ``config.json``,
``model.safetensors`` and ``sample.png``). An entry folder with weights is *bundled*: it loads
offline after its sha256 is checked. The catalogues, in order of precedence (the first one to
name an entry keeps it):

1. the folders in ``GANZOO_MODEL_CARDS`` (separated by ``os.pathsep``): a private catalogue,
   added to the installed ones;
2. each plugin's zoo folder, named by its manifest's ``"zoo": "package:folder"`` (package data,
   so wheels carry it), plugins in order of their names;
3. ganzoo's own ``model_cards/`` (``ganzoo/model_cards`` inside an installed wheel): cards of
   entries whose weights are elsewhere or not yet trained.
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.resources
import json
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CARDS_ENV = "GANZOO_MODEL_CARDS"
CARD_NAME = "README.md"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CORE = "ganzoo"  # the origin of the core catalogue's entries

# The same front-matter shape huggingface_hub's RepoCard reads; parsed here with yaml alone because
# importing huggingface_hub would slow down `ganzoo list`.
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?\n)---\s*(?:\n|\Z)", re.DOTALL)


class _CardLoader(yaml.SafeLoader):
    """yaml's safe loader without aliases. An alias (``*name``) shares what its anchor built, so
    a card of nested aliases (a "billion laughs") parses at once into a few lists that hold each
    other, and then expands to billions of items wherever it is printed or walked: `ganzoo list`
    ran for 43 s and ran out of memory on one. Model cards have no use for aliases."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None,
                None,
                f"the YAML alias *{event.anchor} is not allowed in a card's front matter "
                "(aliases can expand without bound)",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def card_yaml(text: str) -> Any:
    """The YAML of a card's front matter, as yaml.safe_load reads it, but refusing aliases."""
    return yaml.load(text, Loader=_CardLoader)  # a SafeLoader: builds plain data only


@dataclass(frozen=True)
class ZooEntry:
    """One zoo entry, as its card describes it."""

    name: str
    model: str
    data: str
    status: str  # "published" or "unpublished"
    repo: str | None
    revision: str | None
    sha256: str | None
    summary: str
    train_command: str
    card_path: Path
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    body: str = field(default="", compare=False, repr=False)
    folder: Path | None = None  # the entry's Hub-layout folder, when it ships as one
    origin: str = CORE  # who ships it: "ganzoo", a plugin's name, or GANZOO_MODEL_CARDS

    @property
    def published(self) -> bool:
        return self.status == "published"

    @property
    def bundled(self) -> bool:
        return self.folder is not None and (self.folder / WEIGHTS_NAME).is_file()

    @property
    def weights(self) -> str:
        """Where the weights are: "bundled" (here), "hub" (a pinned Hub commit) or "absent"."""
        if self.bundled:
            return "bundled"
        return "hub" if self.published else "absent"

    @property
    def size(self) -> str:
        """WxH: the card's ``size``, else the bundled config's image size, else "-"."""
        size = (self.metadata.get("ganzoo") or {}).get("size")
        if size:
            return str(size)
        try:
            height, width = json.loads((self.folder / CONFIG_NAME).read_text())["image_size"]
            return f"{width}x{height}"
        except (TypeError, OSError, ValueError, KeyError):
            pass
        # a card without weights: the size its training command asks for
        match = re.search(r"--size[= ](\S+)", self.train_command)
        if not match:
            return "-"
        return f"{match[1]}x{match[1]}" if match[1].isdigit() else match[1]

    @property
    def fid(self) -> str:
        """The first FID of the card's model-index with its n ("308.5 @1000": FID depends on
        n, so the figure alone compares with nothing), or "-"."""
        value = metric_value(self.metadata, "fid")
        if value is None:
            return "-"
        protocol = metric_protocol(self.metadata, "fid") or ""
        count = re.match(r"\s*(\d+) generated", protocol)
        return f"{value:.4g} @{count[1]}" if count else f"{value:.4g}"

    def as_dict(self) -> dict[str, Any]:
        """What ``ganzoo info`` shows; ``card`` is the Markdown body of the card."""
        return {
            "name": self.name,
            "model": self.model,
            "data": self.data,
            "size": self.size,
            "fid": self.fid,
            "weights": self.weights,
            "status": self.status,
            "repo": self.repo or "-",
            "revision": self.revision or "-",
            "sha256": self.sha256 or "-",
            "summary": self.summary,
            "train_command": self.train_command,
            "license": self.metadata.get("license", "-"),
            "shipped_by": self.origin,
            "card_path": str(self.card_path),
            "card": self.body.strip(),
        }


def _first_metric(metadata: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The first metric ``name`` in a card's ``model-index`` front matter."""
    try:
        for model in metadata.get("model-index") or []:
            for result in model.get("results") or []:
                for metric in result.get("metrics") or []:
                    if str(metric.get("type", "")).lower() == name:
                        return metric
    except (AttributeError, TypeError):
        pass  # a malformed model-index shows as no value, never breaks a listing
    return None


def metric_value(metadata: dict[str, Any], name: str) -> float | None:
    """The first value of metric ``name`` in a card's ``model-index`` front matter."""
    try:
        return float(_first_metric(metadata, name)["value"])
    except (KeyError, TypeError, ValueError):
        return None


def metric_protocol(metadata: dict[str, Any], name: str) -> str | None:
    """The protocol recorded with metric ``name`` (n, resize, network), if any."""
    metric = _first_metric(metadata, name) or {}
    args = metric.get("args") if isinstance(metric, dict) else None
    return str(args.get("protocol")) if isinstance(args, dict) and args.get("protocol") else None


# ---------------------------------------------------------------------------------------------
# catalogues


def cards_dir() -> Path | None:
    """ganzoo's own catalogue folder, or None when there is none."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "model_cards", package.parent / "model_cards"):
        if candidate.is_dir():
            return candidate
    return None


def plugin_zoo_folder(plugin: str, zoo: str) -> Path | None:
    """The folder a manifest's ``"zoo": "package:folder"`` names; None (with a warning) when
    the package or the folder cannot be found."""
    package, _, folder = zoo.partition(":")
    try:
        path = Path(str(importlib.resources.files(package))) / folder
    except (ImportError, TypeError, ValueError) as exc:
        warnings.warn(f"plugin {plugin!r}: zoo package {package!r} not found: {exc}", stacklevel=3)
        return None
    if not path.is_dir():
        warnings.warn(f"plugin {plugin!r}: its zoo folder {path} does not exist", stacklevel=3)
        return None
    return path


def catalogues() -> list[tuple[str, Path]]:
    """(origin, folder) of every catalogue, first the one that wins a name (module docstring)."""
    from ganzoo.registry import registry

    found = [(CARDS_ENV, Path(p)) for p in os.environ.get(CARDS_ENV, "").split(os.pathsep) if p]
    for plugin in sorted(registry().plugins.values(), key=lambda p: p.name):
        if plugin.zoo and not plugin.broken:
            folder = plugin_zoo_folder(plugin.name, plugin.zoo)
            if folder is not None:
                found.append((plugin.name, folder))
    core = cards_dir()
    if core is not None:
        found.append((CORE, core))
    return found


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a Markdown card; raises ValueError on a malformed one."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ValueError("no YAML front matter (a block between --- lines at the top)")
    metadata = card_yaml(match.group(1)) or {}
    if not isinstance(metadata, dict):
        raise ValueError("front matter is not a mapping")
    return metadata, text[match.end() :]


def read_card(path: Path, folder: Path | None = None, origin: str = CORE) -> ZooEntry:
    """The entry a card describes; ``folder`` is the entry folder the card is the README of."""
    metadata, body = split_card(path.read_text(encoding="utf-8"))
    block = metadata.get("ganzoo")
    if not isinstance(block, dict):
        raise ValueError("front matter has no 'ganzoo:' block")
    for key in ("model", "data", "train"):
        if not block.get(key):
            raise ValueError(f"the ganzoo block has no {key!r}")
    status = block.get("status", "unpublished")
    if status not in ("published", "unpublished"):
        raise ValueError(f"status is {status!r}, not published or unpublished")
    if status == "published" and not (block.get("repo") and block.get("revision")):
        raise ValueError("a published entry needs its repo and pinned revision")
    return ZooEntry(
        name=str(block.get("entry") or (folder.name if folder else path.stem)),
        model=str(block["model"]),
        data=str(block["data"]),
        status=status,
        repo=block.get("repo") or None,
        revision=str(block["revision"]) if block.get("revision") else None,
        sha256=str(block["sha256"]).lower() if block.get("sha256") else None,
        summary=str(block.get("summary", "")),
        train_command=str(block["train"]).strip(),
        card_path=path,
        metadata=metadata,
        body=body,
        folder=folder,
        origin=origin,
    )


def _card_paths(catalogue: Path) -> list[tuple[Path, Path | None]]:
    """(card, entry folder or None) of a catalogue: ``NAME.md`` cards and ``NAME/README.md``
    entry folders. A top-level README.md is the catalogue's own index page, not a card."""
    found = []
    for path in sorted(catalogue.iterdir()):
        if path.name.startswith("."):  # an entry being written, or a hidden file
            continue
        if path.is_dir() and (path / CARD_NAME).is_file():
            found.append((path / CARD_NAME, path))
        elif path.suffix == ".md" and path.name.lower() != CARD_NAME.lower():
            found.append((path, None))
    return found


def _read_catalogue(origin: str, catalogue: Path) -> list[ZooEntry]:
    """A catalogue's entries; a malformed card is skipped with a one-line warning, so one bad
    file never hides the rest."""
    if not catalogue.is_dir():
        warnings.warn(f"zoo catalogue {catalogue} ({origin}) is not a folder", stacklevel=3)
        return []
    entries = []
    for card, folder in _card_paths(catalogue):
        try:
            entries.append(read_card(card, folder, origin))
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.warn(f"zoo card {card} skipped: {reason}", stacklevel=3)
    return entries


def zoo_entries(pattern: str | None = None) -> list[ZooEntry]:
    """Every entry of every catalogue, sorted by name, optionally matching a shell-style pattern.

    When two catalogues name the same entry the first keeps it; two plugins shipping the same
    name is a packaging mistake and warns (a plugin replacing a core card is the normal case:
    the core card described the entry before its weights were shipped)."""
    chosen: dict[str, ZooEntry] = {}
    for origin, catalogue in catalogues():
        for entry in _read_catalogue(origin, catalogue):
            holder = chosen.get(entry.name)
            if holder is None:
                chosen[entry.name] = entry
            elif holder.origin == entry.origin or not {holder.origin, entry.origin} & {
                CORE,
                CARDS_ENV,
            }:
                warnings.warn(
                    f"zoo entry {entry.name!r} is shipped by {holder.origin!r} and "
                    f"{entry.origin!r}; using {holder.card_path}",
                    stacklevel=2,
                )
    entries = sorted(chosen.values(), key=lambda e: e.name)
    if pattern:
        entries = [e for e in entries if fnmatch.fnmatchcase(e.name, pattern)]
    return entries


def find_zoo_entry(name: str) -> ZooEntry | None:
    for entry in zoo_entries():
        if entry.name == name:
            return entry
    return None


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def card_sha256(folder: Path) -> str | None:
    """The sha256 a Hub-layout folder's own card pins for its weights (zoo entries), if any."""
    try:
        metadata, _ = split_card((folder / CARD_NAME).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
        return None
    block = metadata.get("ganzoo")
    sha = block.get("sha256") if isinstance(block, dict) else None
    return str(sha).lower() if sha else None
