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

This module imports no torch.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml

from ganzoo.errors import GanzooError

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
    "betas": [0.5, 0.999],
    "momentum": 0.0,
    "n_critic": 1,  # discriminator steps per generator step
    "ema": 0.0,  # decay of the generators' exponential moving average; 0: off
    "ema_warmup": True,  # the decay grows from 0.1 towards ema over the first updates
    "augment": None,  # DiffAugment policy before every discriminator call, e.g. "color,translation"
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
    from ganzoo.registry import KINDS, registry

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
    from ganzoo.registry import registry  # looked up when called, so tests can swap it

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
