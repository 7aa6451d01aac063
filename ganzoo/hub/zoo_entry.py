"""A bundled zoo entry from a finished run: ``make_zoo_entry(RUN_DIR, NAME)``.

The entry is the run's ``export/`` folder turned into an entry folder (``ganzoo.zoo``) inside the
plugin that owns the model, ``<plugin package>/zoo/NAME/``:

- ``config.json`` as exported; ``model.safetensors`` copied, or with ``fp16`` its float tensors
  stored as float16 (half the size; loading upcasts them to the model's float32);
- ``sample.png``: the run's last sample grid;
- ``README.md``: the exported card, whose front matter gains the ``ganzoo:`` block (with the
  weights' sha256 and how the run was trained), whose usage lines name the entry instead of a Hub
  repository, and whose body gains a "How it was trained" section.

The entry is built in a temporary folder next to its destination, loaded once (which checks the
sha256), then renamed into place; an existing entry is replaced only with ``force``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

import yaml

from ganzoo.errors import GanzooError
from ganzoo.io.files import make_public
from ganzoo.zoo import (
    CARD_NAME,
    CONFIG_NAME,
    WEIGHTS_NAME,
    plugin_zoo_folder,
    sha256_of,
    split_card,
)

SAMPLE_NAME = "sample.png"
_TRAINED_HEADING = "## How it was trained"


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GanzooError(f"cannot read {path}: {exc}") from None


def _owning_zoo(config: dict[str, Any]) -> Path:
    """The zoo folder of the plugin that registers the model."""
    from ganzoo.registry import registry

    plugin = registry().plugins.get(config["plugin"])
    if plugin is None or not plugin.zoo:
        raise GanzooError(
            f'plugin {config["plugin"]!r} has no zoo folder (a "zoo": "package:folder" '
            "entry in its manifest); pass --out to choose the entry's folder"
        )
    folder = plugin_zoo_folder(plugin.name, plugin.zoo)
    if folder is None:
        raise GanzooError(f"the zoo folder of plugin {plugin.name!r} ({plugin.zoo}) is missing")
    return folder


def _last_sample(run_dir: Path) -> Path | None:
    steps = [
        (int(p.stem.split("-")[1]), p)
        for p in (run_dir / "samples").glob("step-*.png")
        if p.stem.split("-")[1].isdigit()
    ]
    return max(steps)[1] if steps else None


def metrics_rows(run_dir: Path) -> list[dict[str, str]]:
    """The rows of a run's metrics.csv ([] when it has none)."""
    try:
        with (run_dir / "metrics.csv").open(newline="") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError:
        return []


def wall_seconds(rows: list[dict[str, str]]) -> float | None:
    """Training wall time from metrics.csv: ``seconds`` restarts at 0 when a run is resumed, so
    each stretch's last value is added up."""
    total, last = 0.0, None
    for row in rows:
        try:
            seconds = float(row["seconds"])
        except (KeyError, TypeError, ValueError):
            continue
        if last is not None and seconds < last:
            total += last
        last = seconds
    return None if last is None else round(total + last, 1)


# a logged stretch slower than this share of the run's median speed stood still part of the time
_PAUSED_SPEED = 0.5


def active_seconds(rows: list[dict[str, str]]) -> float | None:
    """Training time with the pauses left out: each logged stretch of images over its own speed,
    or over the run's median speed where it ran at under half of that (the process was stopped,
    e.g. by SIGSTOP for an idle benchmark). Images logged twice (a resume from an earlier
    checkpoint) count once. On one thread these are one-thread CPU seconds."""
    stretches, last = [], 0
    for row in rows:
        try:
            images, speed = int(row["images"]), float(row["images_per_s"])
        except (KeyError, TypeError, ValueError):
            continue
        if images > last and speed > 0:
            stretches.append((images - last, speed))
            last = images
    if not stretches:
        return None
    median = statistics.median(speed for _, speed in stretches)
    floor = _PAUSED_SPEED * median
    return round(sum(n / (speed if speed >= floor else median) for n, speed in stretches), 1)


def _train_command(exact: str, run: dict[str, Any], config: dict[str, Any], steps, batch) -> str:
    """A `ganzoo run` command line for the card: the run's own when it was one, else the
    equivalent (in-process runs such as benchmarks/reproduce.py, or unrecorded ones); the recipe
    fields it may have overridden are in config.json either way."""
    words = exact.split()
    if words[:2] in (["ganzoo", "run"], ["cli.py", "run"]):  # cli.py: python -m ganzoo.cli
        return " ".join(["ganzoo", *words[1:]])
    height, width = config["image_size"]
    parts = [f"ganzoo run {config['model']} --data {run.get('data')}"]
    if run.get("source"):  # the run config's key; the flag is --source-data
        parts.append(f"--source-data {run['source']}")
    parts.append(f"--recipe {config.get('recipe_name', 'default')} --size {width}x{height}")
    if steps and batch:
        parts.append(f"--steps {steps} --batch-size {batch}")
    parts += [f"--set {item}" for item in _recipe_sets(config)]
    parts.append(f"--seed {run.get('seed', 0)}")
    return " ".join(parts)


# set by the flags above, or not part of what the weights are
_NOT_SET = {"size", "steps", "epochs", "batch_size", "log_every", "sample_every"}
_NOT_SET |= {"checkpoint_every", "keep_checkpoints", "num_workers"}


def _recipe_sets(config: dict[str, Any]) -> list[str]:
    """``key=value`` for each recipe field the run changed from its named recipe as installed
    now, so the card's command trains the same model (``[]`` when that recipe is unknown)."""
    from ganzoo.models import make_config
    from ganzoo.recipes import same_component_name

    try:
        recipe_name = config.get("recipe_name", "default")
        named = make_config(config["model"], recipe_name)["recipe"].to_dict()
    except GanzooError:
        return []
    sets = []
    for key, value in config.get("recipe", {}).items():
        if key in _NOT_SET or key not in named or same_component_name(named[key], value):
            continue
        if isinstance(value, dict) and isinstance(named[key], dict):
            sets += [
                f"{key}.{k}={_flag_value(v)}" for k, v in value.items() if named[key].get(k) != v
            ]
        else:
            sets.append(f"{key}={_flag_value(value)}")
    return sets


def _flag_value(value: Any) -> str:
    """A value as ``--set`` reads it back (YAML), without spaces."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def training_facts(run_dir: Path, run_config: dict[str, Any], config: dict[str, Any]) -> dict:
    """How the run was trained, for the card: recipe, steps, batch, images seen, device, wall
    time, the exact command and a `ganzoo run` command that trains it again."""
    run = run_config.get("run") or {}
    rows = metrics_rows(run_dir)
    steps = (config.get("training") or {}).get("step") or (int(rows[-1]["step"]) if rows else None)
    batch = (config.get("recipe") or {}).get("batch_size")
    exact = run.get("command") or "not recorded (a run from before ganzoo recorded it)"
    facts = {
        "recipe": config.get("recipe_name", "default"),
        "steps": steps,
        "batch_size": batch,
        "images_seen": steps * batch if steps and batch else None,
        "device": run.get("device", "not recorded"),
        "threads": run.get("threads"),
        "precision": run.get("precision", "fp32"),
        "seconds": wall_seconds(rows),
        "active_seconds": active_seconds(rows),
        "command": exact,
        "train": _train_command(exact, run, config, steps, batch),
    }
    averaged = (config.get("training") or {}).get("averaged_steps")
    for key, value in (("resumed_with", run.get("resumed_with")), ("averaged_steps", averaged)):
        if value:
            facts[key] = value
    return facts


def _hours(seconds: float | None) -> str:
    return f"{seconds:.0f} s ({seconds / 3600:.2f} h)" if seconds is not None else "not recorded"


def _trained_section(facts: dict[str, Any], fp16: bool) -> str:
    count = facts.get("threads")
    threads = f", {count} CPU thread{'s' if count != 1 else ''}" if count else ""
    stored = (
        "float16 (half the size; loading upcasts to float32)" if fp16 else "float32, as trained"
    )
    lines = [
        _TRAINED_HEADING,
        "",
        "| | |",
        "| --- | --- |",
        f"| recipe | `{facts['recipe']}` |",
        f"| steps x batch | {facts['steps']} x {facts['batch_size']} |",
        f"| images seen | {facts['images_seen']} |",
        f"| device | {facts['device']}{threads}, {facts['precision']} |",
        f"| wall time | {_hours(facts['seconds'])} |",
        f"| training time, pauses left out | {_hours(facts.get('active_seconds'))} |",
        f"| weights stored as | {stored} |",
        "",
        f"The exact command: `{facts['command']}`.",
        *(f"Resumed with: `{command}`." for command in facts.get("resumed_with", [])),
        *_averaged_lines(facts.get("averaged_steps")),
        "To train it again:",
        "",
        f"```bash\n{facts['train']}\n```",
    ]
    return "\n".join(lines)


def source_of(config: dict[str, Any], run_config: dict[str, Any]) -> str | None:
    """A translator's source domain: as given to the run, else what its data names."""
    if config.get("task") != "translation":
        return None
    given = (run_config.get("run") or {}).get("source") or (config.get("training") or {}).get(
        "source"
    )
    if given:
        return given
    from ganzoo.data import source_domain

    return source_domain((config.get("training") or {}).get("data"))


def _data_section(datasets: list[str], width: int, height: int) -> str:
    """Where the training images came from, under which licence, and what that limits: what
    each dataset's registration says of itself (``ganzoo info NAME``)."""
    from ganzoo.data import describe

    lines = ["## Training data", ""]
    for name in datasets:
        try:
            info = describe(name)
        except Exception:  # a folder or an unregistered set: say what is known
            info = {"summary": "images from a folder or archive (not a registered dataset)"}
        home = f" ({info['homepage']})" if info.get("homepage") else ""
        licence = info.get("licence") or "not stated; check the terms of the data"
        lines.append(f"- `{name}`: {info.get('summary', '')}{home}. Licence: {licence}.")
    lines += [
        "",
        f"Limits: {width}x{height} pixels only; inputs are faces cropped and aligned as the "
        "training images were (`ganzoo translate` crops photos the same way), and other crops, "
        "poses or subjects give poor results. Check the training data's licence before any use "
        "beyond research.",
    ]
    return "\n".join(lines)


def _card_text(card: Path, name: str, block: dict[str, Any], section: str, has_sample: bool) -> str:
    from ganzoo.hub.cards import REPO_PLACEHOLDER

    metadata, body = split_card(card.read_text(encoding="utf-8"))
    metadata["ganzoo"] = block
    # usage lines name the entry: it loads as it is, and `ganzoo push` changes nothing in it
    body = body.replace(f"hf://{REPO_PLACEHOLDER}", name)
    body = re.sub(r"^# .*$", f"# {name}", body, count=1, flags=re.M)  # the title: the entry
    if has_sample and f"]({SAMPLE_NAME})" not in body:
        body = body.replace("## Usage", f"![samples]({SAMPLE_NAME})\n\n## Usage", 1)
    if _TRAINED_HEADING in body:  # remade from another run: the old section goes
        head, _, rest = body.partition(_TRAINED_HEADING)
        body = head + rest[rest.find("\n## ") + 1 :] if "\n## " in rest else head
    marker = "## Training recipe"
    body = (
        body.replace(marker, f"{section}\n\n{marker}", 1)
        if marker in body
        else f"{body.rstrip()}\n\n{section}\n"
    )
    front = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True, width=100)
    return f"---\n{front}---\n{body}"


def _write_weights(source: Path, target: Path, fp16: bool) -> None:
    if not fp16:
        shutil.copyfile(source, target)
        return
    import torch

    from ganzoo.hub import read_safetensors
    from ganzoo.io.checkpoints import atomic_save

    tensors, metadata = read_safetensors(source)
    half = {
        key: value.to(torch.float16) if value.is_floating_point() else value
        for key, value in tensors.items()
    }
    atomic_save(half, {**metadata, "stored_dtype": "float16"}, target)


def _averaged_lines(steps: list[int] | None) -> list[str]:
    if not steps:
        return []
    return [
        f"The weights are the mean of the run's checkpoints at steps "
        f"{', '.join(map(str, steps))}: `ganzoo export RUN OUT --average {len(steps)}`."
    ]


def _entry_sample(run_dir: Path, export: Path, averaged: bool) -> Path | None:
    """The run's last grid, else the export's picture; only the export's for an average of
    checkpoints, which the run's grids do not show."""
    exported = export / SAMPLE_NAME if (export / SAMPLE_NAME).is_file() else None
    return exported if averaged else _last_sample(run_dir) or exported


def _finished_export(run_dir: Path) -> Path:
    """The run's ``export/`` folder, once it holds everything an entry is made from."""
    export = run_dir / "export"
    for needed in (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME):
        if not (export / needed).is_file():
            raise GanzooError(
                f"{export} has no {needed}: finish the run, or write it with "
                f"`ganzoo export {run_dir} {export} --force`"
            )
    return export


def _entry_block(
    name: str,
    config: dict[str, Any],
    data: str | None,
    facts: dict[str, Any],
    sha256: str,
    summary: str | None,
) -> dict[str, Any]:
    """The ``ganzoo:`` block of an entry's card: what the zoo lists and checks."""
    height, width = config["image_size"]
    return {
        "entry": name,
        "model": config["model"],
        "data": data,
        "status": "unpublished",
        "repo": None,
        "revision": None,
        "sha256": sha256,
        "size": f"{width}x{height}",
        "summary": summary or f"{config['model']} on {data}, {width}x{height}",
        "train": facts["train"],
        "training": {k: v for k, v in facts.items() if k != "train"},
    }


def make_zoo_entry(
    run_dir: str | os.PathLike,
    name: str | None = None,
    *,
    fp16: bool = False,
    out: str | os.PathLike | None = None,
    force: bool = False,
    summary: str | None = None,
) -> Path:
    """Writes the zoo entry ``name`` (default MODEL-DATA) from a finished run; returns its folder
    (``out``, or ``NAME/`` in the owning plugin's zoo folder). See the module docstring."""
    from ganzoo.hub import load

    run_dir = Path(run_dir)
    export = _finished_export(run_dir)
    run_config = _read_json(run_dir / CONFIG_NAME)
    config = _read_json(export / CONFIG_NAME)
    data = (run_config.get("run") or {}).get("data") or (config.get("training") or {}).get("data")
    name = name or f"{config['model']}-{data}"
    target = Path(out) if out is not None else _owning_zoo(config) / name
    if target.exists() and not force:
        raise GanzooError(f"{target} already exists; pass --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)

    facts = training_facts(run_dir, run_config, config)
    height, width = config["image_size"]
    sample = _entry_sample(run_dir, export, averaged="averaged_steps" in facts)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    make_public(staging)
    try:
        shutil.copyfile(export / CONFIG_NAME, staging / CONFIG_NAME)
        _write_weights(export / WEIGHTS_NAME, staging / WEIGHTS_NAME, fp16)
        if sample is not None:
            shutil.copyfile(sample, staging / SAMPLE_NAME)
        sha256 = sha256_of(staging / WEIGHTS_NAME)
        block = _entry_block(name, config, data, facts, sha256, summary)
        datasets = [d for d in (source_of(config, run_config), data) if d]
        section = _trained_section(facts, fp16) + "\n\n" + _data_section(datasets, width, height)
        text = _card_text(export / CARD_NAME, name, block, section, sample is not None)
        (staging / CARD_NAME).write_text(text, encoding="utf-8")
        load(staging, device="cpu")  # the entry loads and its sha256 matches, or nothing moves
        _replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _replace(staging: Path, target: Path) -> None:
    """Renames ``staging`` to ``target``; an old ``target`` is moved aside first and removed
    only once the new one is in place."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
