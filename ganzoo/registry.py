"""Plugin discovery and the component registry.

A plugin is a distribution with an entry point in the ``ganzoo.plugins`` group. The entry point
names a *manifest*: a plain dict of strings and numbers saying what the plugin contributes::

    MANIFEST = {
        "models": {"dcgan": {"builder": "ganzoo.models:UnconditionalGAN", "summary": "...", ...}},
        "generators": {"dcgan-generator": {"builder": "ganzoo_dcgan.networks:DCGANGenerator"}},
        "losses": {"bce": {"builder": "ganzoo_dcgan.losses:BCELoss"}},
        "zoo": "ganzoo_dcgan:zoo",  # optional: the package-data folder of its zoo entries
    }

Builders are ``"module:attr"`` strings imported only when a component is built, so listing
imports no plugin code beyond the manifest module, and never torch.

Name clashes: plugins are read in order of their names, the first one to register a name keeps
it (with a warning), and ``plugin:name`` picks either explicitly.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from ganzoo.errors import GanzooError

ENTRY_POINT_GROUP = "ganzoo.plugins"
KINDS = ("models", "generators", "discriminators", "losses", "metrics", "datasets")


@dataclass(frozen=True)
class Entry:
    """One registered component: where it comes from and how to build it."""

    kind: str
    name: str
    plugin: str
    builder: str
    spec: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}:{self.name}"

    @property
    def summary(self) -> str:
        return self.spec.get("summary", "")

    def load(self) -> Any:
        """Imports and returns the builder (a class or a function)."""
        return import_string(self.builder, what=f"{self.kind[:-1]} {self.name!r}")


@dataclass
class Plugin:
    name: str
    distribution: str
    version: str
    entries: list[Entry] = field(default_factory=list)
    error: str | None = None
    zoo: str | None = None  # "package:folder" holding the plugin's zoo entries (ganzoo.zoo)

    @property
    def broken(self) -> bool:
        return self.error is not None


def import_string(path: str, what: str = "builder") -> Any:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr) if attr else module
    except (ImportError, AttributeError) as exc:
        raise GanzooError(f"cannot import {path} for {what}: {exc}") from exc


def _read_manifest(plugin_name: str, manifest: Any) -> list[Entry]:
    if not isinstance(manifest, dict):
        raise ValueError(f"manifest is a {type(manifest).__name__}, not a dict")
    unknown = set(manifest) - {*KINDS, "zoo"}
    if unknown:
        allowed = (*KINDS, "zoo")
        raise ValueError(f"manifest has unknown sections {sorted(unknown)}; allowed: {allowed}")
    _read_zoo(manifest)
    entries = []
    for kind in KINDS:
        for name, spec in manifest.get(kind, {}).items():
            builder = spec.get("builder") if isinstance(spec, dict) else None
            if not isinstance(builder, str) or ":" not in builder:
                raise ValueError(f"{kind[:-1]} {name!r} needs a 'builder' of the form module:attr")
            entries.append(Entry(kind, name, plugin_name, builder, dict(spec)))
    return entries


def _read_zoo(manifest: dict[str, Any]) -> str | None:
    """The manifest's ``"zoo": "package:folder"``: the package-data folder of its zoo entries."""
    zoo = manifest.get("zoo")
    if zoo is None:
        return None
    package, _, folder = zoo.partition(":") if isinstance(zoo, str) else ("", "", "")
    parts = folder.replace("\\", "/").split("/")
    if not package.replace(".", "_").isidentifier() or not folder or "" in parts or ".." in parts:
        raise ValueError(f"'zoo' is {zoo!r}; give 'package:folder', e.g. 'ganzoo_mygan:zoo'")
    return zoo


class Registry:
    """Everything the installed plugins register, read once from their manifests."""

    def __init__(self, plugins: list[Plugin]):
        self.plugins = {p.name: p for p in plugins}
        self._by_kind: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self._qualified: dict[str, Entry] = {}
        for plugin in sorted(plugins, key=lambda p: p.name):
            for entry in plugin.entries:
                self._qualified[f"{entry.kind}/{entry.qualified_name}"] = entry
                table = self._by_kind[entry.kind]
                holder = table.get(entry.name)
                if holder is None:
                    table[entry.name] = entry
                else:
                    warnings.warn(
                        f"{entry.kind[:-1]} {entry.name!r} is registered by plugins "
                        f"{holder.plugin!r} and {entry.plugin!r}; using {holder.qualified_name} "
                        f"(write {entry.qualified_name} for the other)",
                        stacklevel=2,
                    )

    def entries(self, kind: str, pattern: str | None = None) -> list[Entry]:
        """Entries of one kind, sorted by name, optionally filtered by a shell-style pattern."""
        found = sorted(self._by_kind[kind].values(), key=lambda e: e.name)
        if pattern:
            found = [e for e in found if fnmatch.fnmatchcase(e.name, pattern)]
        return found

    def find(self, kind: str, name: str) -> Entry | None:
        if ":" in name:
            return self._qualified.get(f"{kind}/{name}")
        return self._by_kind[kind].get(name)

    def get(self, kind: str, name: str) -> Entry:
        entry = self.find(kind, name)
        if entry is not None:
            return entry
        known = ", ".join(e.name for e in self.entries(kind)) or "none"
        hint = ""
        broken = [p.name for p in self.plugins.values() if p.broken]
        if broken:
            hint = f"; broken plugins: {', '.join(broken)} (see `ganzoo list --kind plugins`)"
        raise GanzooError(f"no {kind[:-1]} named {name!r}; known: {known}{hint}")

    def build(self, kind: str, name: str, **kwargs: Any) -> Any:
        """Looks up a component by name and calls its builder with ``kwargs``."""
        return self.get(kind, name).load()(**kwargs)


def discover() -> list[Plugin]:
    """Reads every ``ganzoo.plugins`` entry point; a plugin that fails is kept as broken."""
    plugins: list[Plugin] = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        plugin = Plugin(
            name=ep.name,
            distribution=dist.name if dist else "?",
            version=dist.version if dist else "?",
        )
        holder = next((p for p in plugins if p.name == ep.name), None)
        if holder is not None:
            # listed under its distribution's name too, so that neither one vanishes
            plugin.name = f"{ep.name} ({plugin.distribution})"
            plugin.error = (
                f"plugin name {ep.name!r} is taken by {holder.distribution}; rename the entry "
                f"point in {plugin.distribution}'s pyproject.toml"
            )
            plugins.append(plugin)
            continue
        try:
            manifest = ep.load()
            plugin.entries = _read_manifest(ep.name, manifest)
            plugin.zoo = _read_zoo(manifest)
        # a broken plugin must never stop the others, even one whose manifest calls sys.exit
        except (Exception, SystemExit) as exc:
            plugin.error = f"{type(exc).__name__}: {exc}".splitlines()[0].rstrip(": ")
        plugins.append(plugin)
    return plugins


@functools.cache
def registry() -> Registry:
    return Registry(discover())


def list_models(pattern: str | None = None) -> list[str]:
    """Names of the registered models, optionally matching a shell-style pattern like ``"w*"``."""
    return [e.name for e in registry().entries("models", pattern)]


def list_plugins() -> list[Plugin]:
    return sorted(registry().plugins.values(), key=lambda p: p.name)
