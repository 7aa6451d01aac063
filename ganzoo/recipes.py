"""Recipes: the flat set of fields that say how a model is built and trained.

A model's manifest gives its recipes (``default`` and ``paper``) as overrides of ``BASE_RECIPE``.
Users override any field with ``--set key=value`` (``key.sub=value`` reaches into dict fields) or
a YAML/JSON ``--config`` file. This module imports no torch.
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
    model_spec: dict[str, Any], recipe: str = "default", overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The full recipe: base fields, then the model's named recipe, then the user's overrides."""
    recipes = model_spec.get("recipes", {})
    if recipe not in recipes:
        known = ", ".join(recipes) or "none"
        raise GanzooError(f"no recipe named {recipe!r} for this model; known: {known}")
    resolved = copy.deepcopy(BASE_RECIPE)
    resolved.update(copy.deepcopy(recipes[recipe]))
    for key, value in (overrides or {}).items():
        _assign(resolved, key, value)
    parse_size(resolved["size"])  # fail early on a bad size
    return resolved


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
    if head in ("loss", "generator", "discriminator") and value != recipe[head]:
        # Arguments belong to the component they were written for; a new one starts from its own
        # defaults unless the user also sets ``<field>_args``.
        recipe[f"{head}_args"] = {}
    recipe[head] = value
