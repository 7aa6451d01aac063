"""The zoo catalogue: one Markdown card per pretrained entry, read without importing torch.

A card is a model card (YAML front matter, then Markdown) whose front matter carries a ``ganzoo``
block saying where the weights live::

    ganzoo:
      entry: improved-anime        # the name users type
      model: improved              # the registered model
      data: anime                  # what it was trained on
      status: unpublished          # or published
      repo: null                   # ORG/NAME on the Hugging Face Hub once published
      revision: null               # the pinned commit the zoo loads
      sha256: null                 # of model.safetensors at that commit
      train: ganzoo run improved --data anime --recipe paper

Cards live in ``ganzoo/model_cards`` inside an installed wheel (pyproject force-includes them) and
in the repository's ``model_cards/`` for an editable install; ``GANZOO_MODEL_CARDS`` points
elsewhere (tests, or a private catalogue).
"""

from __future__ import annotations

import fnmatch
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import ganzoo

CARDS_ENV = "GANZOO_MODEL_CARDS"

# The same front-matter shape huggingface_hub's RepoCard reads; parsed here with yaml alone because
# importing huggingface_hub would slow down `ganzoo list`.
_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?\n)---\s*(?:\n|\Z)", re.DOTALL)


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

    @property
    def published(self) -> bool:
        return self.status == "published"

    def as_dict(self) -> dict[str, Any]:
        """What ``ganzoo info`` shows; ``card`` is the Markdown body of the card."""
        return {
            "name": self.name,
            "model": self.model,
            "data": self.data,
            "status": self.status,
            "repo": self.repo or "-",
            "revision": self.revision or "-",
            "sha256": self.sha256 or "-",
            "summary": self.summary,
            "train_command": self.train_command,
            "license": self.metadata.get("license", "-"),
            "card_path": str(self.card_path),
            "card": self.body.strip(),
        }


def cards_dir() -> Path | None:
    """The folder the catalogue is read from, or None when there is none."""
    override = os.environ.get(CARDS_ENV)
    if override:
        return Path(override)
    package = Path(ganzoo.__file__).resolve().parent
    for candidate in (package / "model_cards", package.parent / "model_cards"):
        if candidate.is_dir():
            return candidate
    return None


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of a Markdown card; raises ValueError on a malformed one."""
    match = _FRONT_MATTER.match(text)
    if not match:
        raise ValueError("no YAML front matter (a block between --- lines at the top)")
    metadata = yaml.safe_load(match.group(1)) or {}
    if not isinstance(metadata, dict):
        raise ValueError("front matter is not a mapping")
    return metadata, text[match.end() :]


def read_card(path: Path) -> ZooEntry:
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
        name=str(block.get("entry") or path.stem),
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
    )


def zoo_entries(pattern: str | None = None) -> list[ZooEntry]:
    """Every entry of the catalogue, sorted by name, optionally matching a shell-style pattern.

    A malformed card is skipped with a one-line warning, so one bad file never hides the rest.
    """
    folder = cards_dir()
    if folder is None or not folder.is_dir():
        return []
    entries = []
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":  # the catalogue's own index page, not a card
            continue
        try:
            entries.append(read_card(path))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.warn(f"zoo card {path} skipped: {reason}", stacklevel=2)
    entries.sort(key=lambda e: e.name)
    if pattern:
        entries = [e for e in entries if fnmatch.fnmatchcase(e.name, pattern)]
    return entries


def find_zoo_entry(name: str) -> ZooEntry | None:
    for entry in zoo_entries():
        if entry.name == name:
            return entry
    return None
