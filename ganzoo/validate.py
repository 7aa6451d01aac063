"""Checks of user input where it enters: recipe fields, component arguments, seeds and requests
sized by memory.

Each failure is one ``GanzooError`` line naming the field, the value and what is allowed, raised
before anything is built, allocated or written. Without these checks a bad value surfaces much
later as a ZeroDivisionError, a TypeError from a constructor, an allocator error or a loop that
never ends. This module imports no torch at import time.
"""

from __future__ import annotations

import inspect
import math
import os
from typing import Any

from ganzoo.errors import GanzooError

#: seeds go to torch, numpy and Python generators, with offsets added per stream; numpy takes
#: the smallest range, 0..2**32-1
MAX_SEED = 2**32 - 1

# recipe fields the core reads, by what each allows
_COUNTS = ("batch_size", "n_critic", "log_every", "sample_every", "checkpoint_every")
_COUNTS += ("keep_checkpoints", "channels")
_NON_NEGATIVE_INTS = ("num_workers", "lr_decay_steps")
_POSITIVE_NUMBERS = ("lr_g", "lr_d")
_NON_NEGATIVE_NUMBERS = ("momentum",)
_SWITCHES = ("ema_warmup", "flip")
OPTIMIZERS = ("adam", "adamw", "rmsprop", "sgd")
#: DiffAugment's transforms (ganzoo.augment.TRANSFORMS), named here so no torch is imported
AUGMENTS = ("color", "translation", "cutout")

#: activation memory of one training image, in multiples of the image as float32: the real and
#: the fake image, their gradients and the first feature maps. Networks use more than this; the
#: estimate only refuses requests that cannot fit whatever the network.
ACTIVATION_FACTOR = 4


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _refuse(field: str, value: Any, allowed: str) -> GanzooError:
    return GanzooError(f"recipe field {field}={value!r} is not allowed: it takes {allowed}")


def check_ranges(
    recipe: dict[str, Any],
    counts: tuple[str, ...] = (),
    non_negative_ints: tuple[str, ...] = (),
    positive_numbers: tuple[str, ...] = (),
    non_negative_numbers: tuple[str, ...] = (),
    switches: tuple[str, ...] = (),
) -> None:
    """Numeric and true/false recipe fields by what each allows; fields the recipe lacks are not
    checked. Model shapes use it for their own fields (``GAN.check_recipe_fields``)."""
    for field in switches:
        if field in recipe and not isinstance(recipe[field], bool):
            raise _refuse(field, recipe[field], "true or false")
    for field in counts:
        value = recipe.get(field)
        if field in recipe and not (_is_int(value) and value >= 1):
            raise _refuse(field, value, "a whole number of at least 1")
    for field in non_negative_ints:
        value = recipe.get(field)
        if field in recipe and not (_is_int(value) and value >= 0):
            raise _refuse(field, value, "a whole number of at least 0")
    for field in positive_numbers:
        value = recipe.get(field)
        if field in recipe and not (_is_number(value) and value > 0):
            raise _refuse(field, value, "a number above 0")
    for field in non_negative_numbers:
        value = recipe.get(field)
        if field in recipe and not (_is_number(value) and value >= 0):
            raise _refuse(field, value, "a number of at least 0")


def check_recipe(recipe: dict[str, Any]) -> None:
    """Types and ranges of the recipe fields the core reads; a model shape checks its own
    (``GAN.check_recipe_fields``) and the rest are the plugin's."""
    check_ranges(
        recipe, _COUNTS, _NON_NEGATIVE_INTS, _POSITIVE_NUMBERS, _NON_NEGATIVE_NUMBERS, _SWITCHES
    )
    epochs, steps = recipe.get("epochs"), recipe.get("steps")
    if epochs is not None and not (_is_int(epochs) and epochs >= 1):
        raise _refuse("epochs", epochs, "a whole number of at least 1, or null to use steps")
    if "steps" in recipe and not (_is_int(steps) and steps >= 1):
        if steps is not None or epochs is None:  # steps may be null when epochs counts instead
            raise _refuse("steps", steps, "a whole number of at least 1")
    ema = recipe.get("ema")
    if "ema" in recipe and not (_is_number(ema) and 0 <= ema < 1):
        raise _refuse("ema", ema, "a decay from 0 (off) up to (not including) 1, e.g. 0.999")
    augment = recipe.get("augment")
    if augment is not None and not (
        isinstance(augment, str)
        and all(
            part.strip().lower() in AUGMENTS + ("", "none", "off") for part in augment.split(",")
        )
    ):
        raise _refuse("augment", augment, "a list of " + ", ".join(AUGMENTS) + ", or none")
    betas = recipe.get("betas")
    if "betas" in recipe and not (
        isinstance(betas, (list, tuple))
        and len(betas) == 2
        and all(_is_number(b) and 0 <= b < 1 for b in betas)
    ):
        raise _refuse(
            "betas", betas, "two numbers from 0 up to (not including) 1, e.g. [0.5,0.999]"
        )
    optimizer = recipe.get("optimizer")
    if "optimizer" in recipe and str(optimizer).lower() not in OPTIMIZERS:
        raise _refuse("optimizer", optimizer, "one of " + ", ".join(OPTIMIZERS))


# ---------------------------------------------------------------------------------------------
# component arguments against the builder's signature

_TYPE_NAMES = {"int": int, "float": float, "bool": bool, "str": str}


def _expected_type(param: inspect.Parameter) -> type | None:
    """The plain type a builder parameter takes: its default's, else its annotation's."""
    default = param.default
    if default is not inspect.Parameter.empty and default is not None:
        for kind in (bool, int, float, str):  # bool first: True is also an int
            if isinstance(default, kind):
                return kind
        return None
    annotation = param.annotation
    if isinstance(annotation, str):  # from __future__ import annotations keeps them as text
        return _TYPE_NAMES.get(annotation)
    return annotation if annotation in (bool, int, float, str) else None


def _check_value(label: str, value: Any, param: inspect.Parameter) -> None:
    kind = _expected_type(param)
    default = param.default
    if kind is bool and not isinstance(value, bool):
        raise GanzooError(f"{label}={value!r} is not allowed: it takes true or false")
    if kind is int:
        # an integer argument whose default is positive counts something (a width, a latent
        # size): zero or fewer builds a network with no units, which fails deep inside torch
        low = 1 if _is_int(default) and default > 0 else None
        if not _is_int(value) or (low is not None and value < low):
            allowed = "a whole number" + (f" of at least {low}" if low is not None else "")
            raise GanzooError(f"{label}={value!r} is not allowed: it takes {allowed}")
    if kind is float:
        # a float with a non-negative default is a weight, a rate or a clip value
        low = 0 if _is_number(default) and default >= 0 else None
        if not _is_number(value) or (low is not None and value < low):
            allowed = "a number" + (f" of at least {low}" if low is not None else "")
            raise GanzooError(f"{label}={value!r} is not allowed: it takes {allowed}")
    if kind is str and not isinstance(value, str):
        raise GanzooError(f"{label}={value!r} is not allowed: it takes a string")


def check_component_args(
    field: str, name: str, builder: Any, args: dict[str, Any], given: tuple[str, ...] = ()
) -> None:
    """``args`` (the recipe's ``<field>_args``) against ``builder``'s signature, before it is
    called. ``given`` are the arguments ganzoo passes itself (size, channels)."""
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return
    named = {
        key: p
        for key, p in params.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and key not in given
    }
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for key, value in args.items():
        label = f"{field}_args.{key}"
        if key in named:
            _check_value(label, value, named[key])
        elif key in given or not takes_any:
            allowed = ", ".join(named) or "none"
            raise GanzooError(
                f"{label}={value!r} is not allowed: {field} {name!r} takes no argument {key!r} "
                f"(its arguments: {allowed})"
            )
    missing = [k for k, p in named.items() if p.default is p.empty and k not in args]
    if missing:
        raise GanzooError(
            f"{field} {name!r} needs {', '.join(missing)}: set it with --set {field}_args."
            f"{missing[0]}=VALUE"
        )


# ---------------------------------------------------------------------------------------------
# options that are not recipe fields


def check_seed(seed: int, option: str = "--seed") -> int:
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise GanzooError(f"{option} {seed} is not allowed: it takes a whole number 0..{MAX_SEED}")
    return seed


def check_count(count: int, option: str, low: int = 1) -> int:
    if not _is_int(count) or count < low:
        raise GanzooError(f"{option} {count} is not allowed: it takes a whole number >= {low}")
    return count


# ---------------------------------------------------------------------------------------------
# memory


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def available_memory(device: Any) -> int | None:
    """Bytes free for tensors on ``device`` (a torch.device), or None when unknown."""
    if getattr(device, "type", "cpu") == "cuda":
        import torch

        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(what: str, images: int, shape: tuple[int, ...], device: Any, hint: str) -> None:
    """Refuses ``images`` float images of ``shape`` (with their activations) that cannot fit in
    the memory ``device`` has free, before anything is allocated."""
    needed = images * math.prod(shape) * 4 * ACTIVATION_FACTOR
    free = available_memory(device)
    if free is not None and needed > free:
        raise GanzooError(
            f"{what} needs at least {_gib(needed)} of memory, more than the {_gib(free)} free "
            f"on {device}; {hint}"
        )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocator failure (torch's CPU and CUDA allocators raise
    RuntimeError subclasses; Python raises MemoryError)."""
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(
        words in text for words in ("out of memory", "can't allocate memory", "not enough memory")
    )
