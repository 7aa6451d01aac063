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

Manifests are checked when they are read: an unknown key or a malformed entry lists the plugin
as broken, with the reason, and the other plugins work on.

Name clashes: a model's recipe that names a component by its bare name gets its own plugin's
component first, then the only one of that name; ``plugin:name`` picks one explicitly. So a
plugin that registers a name already taken never changes what another plugin's models build.
Elsewhere (``ganzoo info bce``) a bare name means the first registration by plugin name, and a
clash warns saying so.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import importlib
import re
import warnings
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from ganzoo.errors import GanzooError

ENTRY_POINT_GROUP = "ganzoo.plugins"
KINDS = ("models", "generators", "discriminators", "losses", "metrics", "datasets")
#: the keys an entry of each kind may have besides "builder"; anything else is a typo
ENTRY_KEYS = {
    "models": ("summary", "task", "paper", "tags", "recipes"),
    "generators": ("summary",),
    "discriminators": ("summary",),
    "losses": ("summary",),
    "metrics": ("summary",),
    # the facts `ganzoo info DATA`, ganzoo.data.real and the model cards read
    "datasets": (
        "summary",
        "describe",
        "source",
        "present",
        "found",
        "homepage",
        "licence",
        "provenance",
        "card_license",
        "hub",
        "archive",
        "folder",
        "env",
        "crop",
        "default_size",
        "paper_size",
    ),
}
TASKS = ("unconditional", "translation")
#: the recipe fields that name a component, and the kind each is looked up in
ROLES = {"generator": "generators", "discriminator": "discriminators", "loss": "losses"}
_BUILDER = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")  # package.module:attr


def singular(kind: str) -> str:
    """How a message names one thing of a kind: "losses" -> "loss", "models" -> "model"."""
    return "loss" if kind == "losses" else kind[:-1]


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
        return import_string(self.builder, what=f"{singular(self.kind)} {self.name!r}")


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
        section = manifest.get(kind, {})
        if not isinstance(section, dict):
            raise ValueError(f"'{kind}' is a {type(section).__name__}, not a mapping of names")
        for name, spec in section.items():
            _check_entry(kind, name, spec)
            entries.append(Entry(kind, name, plugin_name, spec["builder"], dict(spec)))
    return entries


def _check_entry(kind: str, name: Any, spec: Any) -> None:
    """One entry of a manifest section, checked as npe2 checks contributions: known keys only,
    each of the right type, so a typo fails when the plugin is read, not when it is used."""
    what = f"{singular(kind)} {name!r}"
    if not isinstance(name, str) or not name.strip() or ":" in name:
        raise ValueError(f"{what}: a name is a non-empty string without ':'")
    if not isinstance(spec, dict):
        raise ValueError(f"{what} is a {type(spec).__name__}, not a mapping")
    allowed = ("builder", *ENTRY_KEYS[kind])
    unknown = sorted(str(key) for key in spec if key not in allowed)
    if unknown:
        raise ValueError(f"{what} has unknown key {unknown[0]!r}; allowed: {', '.join(allowed)}")
    for key in ("builder", "describe"):
        value = spec.get(key, "" if key == "builder" else None)
        if value is not None and not (isinstance(value, str) and _BUILDER.fullmatch(value)):
            raise ValueError(f"{what} needs a '{key}' of the form module:attr, got {value!r}")
    for key, value in spec.items():
        wanted = _TYPES.get(key, str)
        if not isinstance(value, wanted):
            raise ValueError(f"{what} has {key}={value!r}, which is not {_TYPE_WORDS[wanted]}")
    if kind == "models":
        _check_model(what, spec)


_TYPES = {"present": bool, "tags": list, "recipes": dict}  # the other keys hold strings
_TYPE_WORDS = {bool: "true or false", list: "a list", dict: "a mapping", str: "a string"}


def _check_model(what: str, spec: dict[str, Any]) -> None:
    if spec.get("task", "unconditional") not in TASKS:
        raise ValueError(f"{what} has task={spec['task']!r}; tasks: {', '.join(TASKS)}")
    if not all(isinstance(tag, str) for tag in spec.get("tags", [])):
        raise ValueError(f"{what} has tags={spec['tags']!r}; give a list of strings")
    recipes = spec.get("recipes")
    if not isinstance(recipes, dict) or "default" not in recipes:
        raise ValueError(f"{what} needs 'recipes', a mapping with at least a 'default' recipe")
    for recipe, fields in recipes.items():
        where = f"{what}, recipe {recipe!r}"
        if not isinstance(fields, dict):
            raise ValueError(f"{where} is a {type(fields).__name__}, not a mapping of fields")
        for key, value in fields.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a field named {key!r}, not a string")
            if key.endswith("_args") and not isinstance(value, dict):
                raise ValueError(f"{where} has {key}={value!r}, which is not a mapping")
            if key in ROLES and not (value is None or isinstance(value, str)):
                raise ValueError(f"{where} has {key}={value!r}; give a {key} name")


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
        # A recipe naming a component that no plugin (or several) registers breaks its plugin,
        # which may break a plugin that uses that one's components: repeat until none changes.
        while True:
            self._index(plugins)
            checked = [self._check_references(p) for p in plugins]
            if all(a is b for a, b in zip(checked, plugins, strict=True)):
                break
            plugins = checked
        self._warn_clashes()

    def _index(self, plugins: list[Plugin]) -> None:
        self.plugins = {p.name: p for p in plugins}
        # every entry of each bare name, in order of plugin name; and each by "kind/plugin:name"
        self._holders: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in KINDS}
        self._qualified: dict[str, Entry] = {}
        for plugin in sorted(plugins, key=lambda p: p.name):
            for entry in plugin.entries:
                self._qualified[f"{entry.kind}/{entry.qualified_name}"] = entry
                self._holders[entry.kind].setdefault(entry.name, []).append(entry)

    def _check_references(self, plugin: Plugin) -> Plugin:
        """``plugin``, or a broken copy of it when a recipe of its models names a component
        that cannot be found, so that a typo shows in `ganzoo list`, not in training."""
        for entry in plugin.entries:
            for recipe, fields in entry.spec.get("recipes", {}).items():
                for role, kind in ROLES.items():
                    if not isinstance(fields.get(role), str):
                        continue
                    try:
                        self.get(kind, fields[role], plugin=plugin.name)
                    except GanzooError as exc:
                        error = f"model {entry.name!r}, recipe {recipe!r}: {exc}"
                        return dataclasses.replace(plugin, entries=[], error=error)
        return plugin

    def _warn_clashes(self) -> None:
        for kind, names in self._holders.items():
            for name, holders in names.items():
                if len(holders) < 2:
                    continue
                plugins = [repr(e.plugin) for e in holders]
                others = " or ".join(e.qualified_name for e in holders[1:])
                warnings.warn(
                    f"{singular(kind)} {name!r} is registered by plugins "
                    f"{', '.join(plugins[:-1])} and {plugins[-1]}; models use their own "
                    f"plugin's, and elsewhere {name!r} means {holders[0].qualified_name} "
                    f"(write {others} for {'the other' if len(holders) == 2 else 'another'})",
                    stacklevel=3,
                )

    def entries(self, kind: str, pattern: str | None = None) -> list[Entry]:
        """Entries of one kind, sorted by name, optionally filtered by a shell-style pattern; of
        a name several plugins register, the one its bare name means (see ``shadowed``)."""
        found = sorted((h[0] for h in self._holders[kind].values()), key=lambda e: e.name)
        if pattern:
            found = [e for e in found if fnmatch.fnmatchcase(e.name, pattern)]
        return found

    def shadowed(self, kind: str, pattern: str | None = None) -> list[Entry]:
        """The entries that ``entries`` leaves out: names another plugin registers too, which
        only ``plugin:name`` (or the plugin's own models) reach."""
        found = [e for h in self._holders[kind].values() for e in h[1:]]
        if pattern:
            found = [e for e in found if fnmatch.fnmatchcase(e.name, pattern)]
        return sorted(found, key=lambda e: (e.name, e.plugin))

    def holders(self, kind: str, name: str) -> list[Entry]:
        """Every entry registered under the bare ``name``, in order of plugin name."""
        return list(self._holders[kind].get(name, []))

    def find(self, kind: str, name: str, plugin: str | None = None) -> Entry | None:
        """The entry ``name`` means. ``plugin:name`` is exact. A bare name means, for a model
        of ``plugin``, that plugin's own entry, else the only one; without ``plugin``, the first
        registration by plugin name. None when there is none (or, for ``plugin``, several)."""
        if ":" in name:
            return self._qualified.get(f"{kind}/{name}")
        holders = self._holders[kind].get(name, [])
        if plugin is None:
            return holders[0] if holders else None
        own = [e for e in holders if e.plugin == plugin]
        return own[0] if own else holders[0] if len(holders) == 1 else None

    def get(self, kind: str, name: str, plugin: str | None = None) -> Entry:
        """``find``, or a one-line error saying what is known or which names to choose from."""
        entry = self.find(kind, name, plugin)
        if entry is not None:
            return entry
        holders = [] if ":" in name else self._holders[kind].get(name, [])
        if len(holders) > 1:
            choices = " or ".join(e.qualified_name for e in holders)
            raise GanzooError(
                f"{singular(kind)} {name!r} is registered by several plugins and {plugin!r} has "
                f"none of its own; write {choices}"
            )
        known = ", ".join(e.name for e in self.entries(kind)) or "none"
        hint = ""
        broken = [p.name for p in self.plugins.values() if p.broken]
        if broken:
            hint = f"; broken plugins: {', '.join(broken)} (see `ganzoo list --kind plugins`)"
        raise GanzooError(f"no {singular(kind)} named {name!r}; known: {known}{hint}")

    def resolve_name(self, kind: str, name: str, plugin: str) -> str:
        """The name a model of ``plugin`` records in its config for component ``name``: one that
        means the same entry wherever the config is built, whatever is installed by then. The
        bare name for the plugin's own entries that hold it, ``plugin:name`` otherwise."""
        entry = self.get(kind, name, plugin)
        if entry.plugin == plugin and self.find(kind, entry.name) is entry:
            return entry.name
        return entry.qualified_name

    def build(self, kind: str, name: str, plugin: str | None = None, **kwargs: Any) -> Any:
        """Looks up a component by name (as ``find`` reads it for ``plugin``) and calls its
        builder with ``kwargs``."""
        return self.get(kind, name, plugin).load()(**kwargs)


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
