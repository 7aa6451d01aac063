"""Recipes: the flat set of fields that say how a model is built and trained.

A resolved recipe is built in layers, each overriding the one before:

1. ``BASE_RECIPE``, the fields the core reads;
2. the fields of the model's shape with their defaults (``GAN.recipe_fields``: ``CycleGAN``
   adds ``lambda_cycle``, ``lambda_identity`` and ``pool_size``);
3. the model's named recipe (``default``, ``paper``, ...) from its manifest. A recipe may build
   on another with ``"base"``: ``"default"`` (a recipe of the same model), ``"MODEL"`` (another
   model's default recipe) or ``"MODEL:RECIPE"``. The base is resolved first, then the recipe's
   own fields replace the base's (a mapping such as ``generator_args`` is replaced whole);
4. the user's overrides: ``--set key=value`` (``key.sub=value`` reaches into a mapping field)
   and a YAML/JSON ``--config`` file.

Component names and their arguments: a field like ``loss`` names a component and
``loss_args`` holds its arguments. Arguments belong to the component they were written for, so
a recipe or an override that names a *different* component starts its arguments from empty
(``wgan:wasserstein-gp`` and ``wasserstein-gp`` are the same name, with and without its plugin).
Overrides are applied in a fixed order whatever order they are given in: component names first,
then whole fields (``loss_args={...}``), then single keys (``loss_args.gp_lambda=5``). So
``--set loss=wasserstein-gp --set loss_args.gp_lambda=5`` and the same two the other way round
both give ``wasserstein-gp`` with ``{"gp_lambda": 5}``.

``resolve`` does all of this once, checks the result once (the core's fields and ranges, the
shape's own fields, each component's arguments against its builder) and returns a ``Recipe``: a
read-only mapping with typed properties for the fields the engine reads. The engine and the model
shapes take it as it is and do not check it again. A recipe read back from a file (a run's or a
downloaded model's ``config.json``) becomes one through ``Recipe.read``, which checks it then.

This module imports no torch.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from ganzoo.errors import GanzooError
from ganzoo.registry import KINDS, registry
from ganzoo.validate import check_component_args, check_recipe

BASE_RECIPE: dict[str, Any] = {
    # what is built
    "size": 64,  # an int for square images, or "WxH"
    "channels": 3,
    "generator": None,
    "generator_args": {},
    "discriminator": None,
    "discriminator_args": {},
    "loss": None,
    "loss_args": {},
    # how it is optimised
    "optimizer": "adam",  # adam | adamw | rmsprop | sgd
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    # CycleGAN's schedule: the last N steps take both learning rates linearly down towards 0
    # (0: constant). Counted back from the run's end, so it may change on --resume.
    "lr_decay_steps": 0,
    "betas": [0.5, 0.999],
    "momentum": 0.0,
    "n_critic": 1,  # discriminator steps per generator step
    "ema": 0.0,  # decay of the generators' exponential moving average; 0: off
    "ema_warmup": True,  # the decay grows from 0.1 towards ema over the first updates
    "augment": None,  # DiffAugment policy before every discriminator call, e.g. "color,translation"
    "flip": False,  # mirror each training image left-right with probability 1/2
    "batch_size": 64,
    "steps": 2000,  # training steps (one batch each); ignored when epochs is set
    "epochs": None,
    # what is written while training
    "log_every": 10,
    "sample_every": 250,
    "checkpoint_every": 500,
    "keep_checkpoints": 3,
    "num_workers": 0,
}


def parse_size(size: Any) -> tuple[int, int]:
    """``64`` or ``"64"`` -> (64, 64); ``"128x160"`` (W x H) -> (160, 128) as (H, W)."""
    if isinstance(size, (list, tuple)) and len(size) == 2:
        return int(size[0]), int(size[1])
    text = str(size).lower().strip()
    try:
        if "x" in text:
            width, height = (int(part) for part in text.split("x"))
        else:
            width = height = int(text)
    except ValueError:
        raise GanzooError(f"size {size!r} is not an integer or WxH, e.g. 64 or 128x160") from None
    if width < 8 or height < 8:
        raise GanzooError(f"size {size!r} is too small (at least 8 pixels a side)")
    return height, width


def parse_value(text: str) -> Any:
    """Reads a ``--set`` value the way YAML would: numbers, booleans, lists, null, strings.

    Numbers are read first, since YAML 1.1 takes ``1e-3`` (no dot) for a string."""
    for number in (int, float):
        try:
            return number(text)
        except ValueError:
            pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_assignments(assignments: list[str]) -> dict[str, Any]:
    overrides = {}
    for item in assignments:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise GanzooError(f"--set takes key=value, got {item!r}")
        overrides[key.strip()] = parse_value(value.strip())
    return overrides


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise GanzooError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise GanzooError(f"config file {path} is not valid: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise GanzooError(f"config file {path} must hold a mapping of recipe fields")
    return data


def resolve_recipe(
    model_spec: dict[str, Any],
    recipe: str = "default",
    overrides: dict[str, Any] | None = None,
    *,
    fields: dict[str, Any] | None = None,
    model: str = "",
) -> dict[str, Any]:
    """The full recipe, in the layers the module docstring lists. ``fields`` are the fields of
    the model's shape with their defaults; ``model`` names the model in error messages."""
    resolved = copy.deepcopy(BASE_RECIPE)
    resolved.update(copy.deepcopy(fields or {}))
    _lay_recipe(resolved, model_spec, recipe, model, [])

    def stage(item: tuple[str, Any]) -> int:
        # component names, then whole fields, then keys inside mappings: order-independent
        key = item[0]
        if "." in key:
            return 2
        return 0 if _names_component(resolved, key) else 1

    # a copy: the caller's mappings must not take in keys set inside them
    for key, value in sorted(copy.deepcopy(overrides or {}).items(), key=stage):
        _assign(resolved, key, value)
    parse_size(resolved["size"])  # fail early on a bad size
    return resolved


def _names_component(recipe: dict[str, Any], field: str) -> bool:
    """Whether ``field`` names a component: it has a ``<field>_args`` beside it."""
    return not field.endswith("_args") and f"{field}_args" in recipe


def same_component_name(a: Any, b: Any) -> bool:
    """Whether two component names are one name, with or without a ``plugin:`` prefix (two
    prefixes must agree: ``a:foo`` and ``b:foo`` are different components)."""
    if isinstance(a, str) and isinstance(b, str) and not (":" in a and ":" in b):
        return a.rpartition(":")[2] == b.rpartition(":")[2]
    return a == b


def _lay_recipe(
    resolved: dict[str, Any],
    spec: dict[str, Any],
    name: str,
    model: str,
    chain: list,
    plugin: str | None = None,
) -> None:
    """Lays recipe ``name`` of a model's ``spec`` over ``resolved``, after the recipe it builds
    on. ``chain`` holds ((spec id, name), label) of the recipes on the way, to refuse cycles.
    ``plugin`` is set for a base from another model: its plugin, whose names the recipe means."""
    recipes = spec.get("recipes", {})
    label = f"{model}:{name}" if model else name
    if name not in recipes:
        known = ", ".join(recipes) or "none"
        via = f" (the base of {chain[-1][1]})" if chain else ""
        raise GanzooError(
            f"no recipe named {name!r} for {model or 'this model'}{via}; known: {known}"
        )
    own = recipes[name]
    if not isinstance(own, dict):
        raise GanzooError(f"recipe {label} is not a mapping of recipe fields")
    key = (id(spec), name)
    if any(key == seen for seen, _ in chain):
        labels = " -> ".join([seen_label for _, seen_label in chain] + [label])
        raise GanzooError(f"recipes build on each other in a cycle: {labels}")
    if "base" in own:
        base_spec, base_name, base_model, base_plugin = _find_base(
            spec, own["base"], model, label, plugin
        )
        _lay_recipe(resolved, base_spec, base_name, base_model, [*chain, (key, label)], base_plugin)
    for field, value in own.items():
        if field == "base":
            continue
        before = resolved.get(field)
        changed = before is not None and not same_component_name(before, value)
        if _names_component(resolved, field) and changed and f"{field}_args" not in own:
            resolved[f"{field}_args"] = {}  # the base's arguments were for another component
        if plugin and _names_component(resolved, field):
            value = _pinned(value, plugin)
        resolved[field] = copy.deepcopy(value)


def _pinned(value: Any, plugin: str) -> Any:
    """A bare component name inherited from another plugin's recipe, as ``plugin:name`` where
    that plugin's models would find it, so the inheriting plugin's own names cannot take over."""
    if not isinstance(value, str) or ":" in value:
        return value
    for kind in KINDS:
        entry = registry().find(kind, value, plugin)
        if entry is not None:
            return entry.qualified_name
    return value


def _find_base(
    spec: dict[str, Any], base: Any, model: str, label: str, plugin: str | None
) -> tuple[dict[str, Any], str, str, str | None]:
    """(spec, recipe name, model name, plugin) of the recipe that ``base`` names: a recipe of
    the same model (same plugin), else ``MODEL`` (its default recipe) or ``MODEL:RECIPE``."""
    if not isinstance(base, str) or not base.strip():
        raise GanzooError(
            f"recipe {label} has base={base!r}; give a recipe name, MODEL or MODEL:RECIPE"
        )
    if base in spec.get("recipes", {}):
        return spec, base, model, plugin
    other, _, name = base.rpartition(":") if ":" in base else (base, "", "default")
    entry = registry().find("models", other)
    if entry is None:
        raise GanzooError(
            f"recipe {label} builds on {base!r}, which is neither a recipe of "
            f"{model or 'this model'} nor a model (see `ganzoo list --kind models`)"
        )
    return entry.spec, name, entry.name, entry.plugin


def _assign(recipe: dict[str, Any], key: str, value: Any) -> None:
    head, _, rest = key.partition(".")
    if head not in recipe:
        known = ", ".join(sorted(recipe))
        raise GanzooError(f"unknown recipe field {head!r}; fields: {known}")
    if rest:
        if not isinstance(recipe[head], dict):
            raise GanzooError(f"recipe field {head!r} is not a mapping; cannot set {key!r}")
        recipe[head][rest] = value
        return
    current = recipe[head]
    # numbers stay numbers (size, which also takes "WxH", is checked by parse_size)
    if head != "size" and isinstance(current, (int, float)) and not isinstance(current, bool):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise GanzooError(f"recipe field {head!r} takes a number, got {value!r}")
    if head.endswith("_args") and not isinstance(value, dict):
        raise GanzooError(f"recipe field {head!r} takes a mapping, e.g. --set {head}.name=value")
    if _names_component(recipe, head) and not same_component_name(current, value):
        # Arguments belong to the component they were written for: a new one starts from its
        # own defaults. resolve_recipe assigns names first, so <field>_args overrides still apply.
        recipe[f"{head}_args"] = {}
    recipe[head] = value


# ---------------------------------------------------------------------------------------------
# the resolved recipe: resolved and checked once, then read-only


def _read_only(self, *args, **kwargs):
    raise TypeError("a resolved recipe is read-only: change it with --set, or Recipe.replace")


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return FrozenMapping({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(_frozen(item) for item in value)
    return value


def _thawed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _thawed(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [_thawed(item) for item in value]
    return value


class FrozenList(tuple):
    """A list field (``betas``) as a tuple that still equals the list it was made from."""

    def __eq__(self, other):
        return tuple.__eq__(self, tuple(other) if isinstance(other, list) else other)

    def __ne__(self, other):
        return not self == other

    __hash__ = tuple.__hash__


class FrozenMapping(dict):
    """A dict that refuses changes, so JSON and every reader of a dict take it as one."""

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):  # rebuilt from a plain dict: dict pickling would set items one by one
        return (type(self), (dict(self),))


class Recipe(FrozenMapping):
    """A resolved and checked recipe. Read a field as ``recipe["lambda_cycle"]`` (a shape's or a
    plugin's field) or through the typed properties of the fields the core reads."""

    def __init__(self, fields: dict[str, Any] | None = None):
        super().__init__({key: _frozen(value) for key, value in (fields or {}).items()})

    @classmethod
    def read(cls, fields: Any) -> Recipe:
        """A recipe from a file (``config.json``), checked as it is read; a Recipe as it is."""
        if isinstance(fields, Recipe):
            return fields
        if not isinstance(fields, dict):
            raise GanzooError(f"a recipe is a mapping of fields, got {type(fields).__name__}")
        check_recipe(fields)
        return cls(fields)

    def replace(self, **changes: Any) -> Recipe:
        """A copy with ``changes``, checked (a resumed run's new --steps or --epochs)."""
        fields = {**self.to_dict(), **changes}
        check_recipe(fields)
        return Recipe(fields)

    def to_dict(self) -> dict[str, Any]:
        """A plain, writable copy: for YAML, or to build a changed recipe from."""
        return _thawed(self)

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width)."""
        return parse_size(self["size"])

    @property
    def channels(self) -> int:
        return self["channels"]

    @property
    def batch_size(self) -> int:
        return self["batch_size"]

    @property
    def n_critic(self) -> int:
        return self["n_critic"]

    @property
    def lr_g(self) -> float:
        return self["lr_g"]

    @property
    def lr_d(self) -> float:
        return self["lr_d"]

    @property
    def lr_decay_steps(self) -> int:
        """Configs from before the schedule have none: constant learning rates."""
        return self.get("lr_decay_steps") or 0

    @property
    def ema(self) -> float:
        """The generator EMA's decay; 0 is off (and configs from before EMA have none)."""
        return self.get("ema") or 0.0

    @property
    def num_workers(self) -> int:
        return self["num_workers"]

    @property
    def keep_checkpoints(self) -> int:
        return self["keep_checkpoints"]

    def every(self, what: str) -> int:
        """Steps between two of ``what``: "log", "sample" or "checkpoint"."""
        return self[f"{what}_every"]

    def total_steps(self, steps_per_epoch: int) -> int:
        """The run's length in steps: ``epochs`` when set, else ``steps``."""
        epochs = self.get("epochs")
        return epochs * steps_per_epoch if epochs else self["steps"]


def resolve(
    entry: Any, recipe: str = "default", overrides: dict[str, Any] | None = None
) -> tuple[Recipe, dict[str, dict[str, Any]]]:
    """Model ``entry``'s recipe ``recipe`` with ``overrides``, resolved and checked once: the
    Recipe, and each role's component as ``{"name", "args", "plugin", ...}`` for the config."""
    shape = entry.load()  # the model's class: the roles it builds and the fields it reads
    fields = resolve_recipe(
        entry.spec, recipe, overrides, fields=shape.recipe_defaults(), model=entry.name
    )
    check_recipe(fields)
    shape.check_recipe_fields(fields)
    components = {role: _component(entry, role, kind, fields) for role, kind in shape.roles.items()}
    return Recipe(fields), components


def _component(entry: Any, role: str, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """One role's component: its name as the model's plugin resolves it, checked arguments, and
    the plugin it comes from, recorded so no later clash can change a saved model."""
    reg = registry()
    name = fields[role]
    if not name:
        raise GanzooError(f"model {entry.name!r} names no {role} in its recipe")
    name = reg.resolve_name(kind, name, entry.plugin)
    component = reg.get(kind, name)  # an unknown name fails here, before any building
    args = fields[f"{role}_args"]
    # networks get size and channels from ganzoo itself, not from <role>_args
    given = ("size", "channels") if kind in ("generators", "discriminators") else ()
    check_component_args(role, name, component.load(), args, given)
    plugin = reg.plugins[component.plugin]
    return {
        "name": name,
        "args": copy.deepcopy(args),
        "plugin": component.plugin,
        "distribution": plugin.distribution,
        "version": plugin.version,
    }
