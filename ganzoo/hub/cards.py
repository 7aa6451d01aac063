"""Model cards of Hub-ready folders: rendered and updated with huggingface_hub's ModelCard.

The card is README.md: YAML front matter (``library_name: ganzoo``, tags, datasets, license, the
pipeline tag, and the metrics as a ``model-index`` with each metric's protocol), then a Markdown
body. The body's metrics table sits between two HTML comments so that ``update_card_metrics`` can
replace it without touching anything a person wrote around it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import EvalResult, ModelCard, ModelCardData
from huggingface_hub.repocard import REGEX_YAML_BLOCK

from ganzoo.data import source_domain
from ganzoo.errors import GanzooError
from ganzoo.registry import registry
from ganzoo.version import __version__
from ganzoo.zoo import card_yaml

#: the placeholder repository id of a card written before its repository is known; push_to_hub
#: replaces it with the real one in the copy it uploads
REPO_PLACEHOLDER = "ORG/NAME"
PIPELINE_TAGS = {"unconditional": "unconditional-image-generation", "translation": "image-to-image"}
_METRICS_START = "<!-- ganzoo:metrics -->"
_METRICS_END = "<!-- /ganzoo:metrics -->"
_METRICS_BLOCK = re.compile(re.escape(_METRICS_START) + r".*?" + re.escape(_METRICS_END), re.S)
# recipe fields that say how a model was trained (the rest are logging and housekeeping)
_RECIPE_FIELDS = (
    "size",
    "optimizer",
    "lr_g",
    "lr_d",
    "betas",
    "momentum",
    "n_critic",
    "batch_size",
    "steps",
    "epochs",
    "lambda_cycle",
    "lambda_identity",
    "pool_size",
)


def data_facts(data: str | None) -> tuple[str | None, str, str, str]:
    """What a card says about a training set: (``datasets:`` id or None, words for the body,
    ``license:``, terms of use), from what a registered dataset says of itself (its provenance,
    licence and card_license; see ganzoo.data). Weights inherit the terms of their data, so a
    card gets "other" unless the data's registration says otherwise."""
    if not data:
        return None, "an unrecorded dataset", "other", "Check the terms of the training data."
    if data.startswith("hf://datasets/"):
        repo = data.removeprefix("hf://datasets/")
        return repo, f"the Hub dataset `{repo}`", "other", f"The terms of `{repo}` apply."
    entry = registry().find("datasets", data)
    if entry is None:  # a local folder or archive: its path says nothing to readers of the card
        return None, "a local image collection", "other", "The terms of the training data apply."
    licence = entry.spec.get("licence")
    words = entry.spec.get("provenance") or entry.summary or data
    terms = (
        f"Terms of the training data: {licence}."
        if licence
        else "Check the terms of the training data."
    )
    # a registered dataset's Hub copy links the card to it on the Hub
    return entry.spec.get("hub") or data, words, entry.spec.get("card_license", "other"), terms


def _model_spec(config: dict[str, Any]) -> dict[str, Any]:
    entry = registry().find("models", f"{config['plugin']}:{config['model']}")
    return dict(entry.spec) if entry is not None else {}


def _normalise_results(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per number: ``{"name", "value", "protocol"}``. A result has a ``value``, or
    ``values`` as ``MetricResult.as_dict`` gives them: one row each, named ``name/key``."""
    rows = []
    for result in results:
        if not isinstance(result, dict) or "name" not in result:
            raise GanzooError(f"a metric result needs a name and a value, got {result!r}")
        protocol = result.get("protocol", "")
        values = result.get("values")
        if isinstance(values, dict):
            # labelled as `ganzoo eval` prints them: "swd" for {"swd": ...}, "msssim/real", ...
            name = str(result["name"])
            pairs = [(name if key == name else f"{name}/{key}", v) for key, v in values.items()]
        elif "value" in result or "values" in result:
            pairs = [(str(result["name"]), result.get("value", values))]
        else:
            raise GanzooError(f"metric {result['name']!r} has no value")
        for name, value in pairs:
            rows.append({**result, "name": name, "value": value, "protocol": protocol})
    return rows


def _protocol_text(protocol: Any) -> str:
    if isinstance(protocol, dict):
        return ", ".join(f"{k}={v}" for k, v in protocol.items())
    return str(protocol or "")


def _eval_results(rows: list[dict[str, Any]], task: str, data: str | None) -> list[EvalResult]:
    results = []
    for row in rows:
        dataset = row.get("data") or row.get("dataset") or data or "unknown"
        results.append(
            EvalResult(
                task_type=PIPELINE_TAGS.get(task, task),
                dataset_type=str(dataset),
                dataset_name=str(dataset),
                metric_type=str(row["name"]),
                metric_value=row["value"],
                # the protocol (sample count, image size, feature extractor, ...) travels with
                # the number, since a metric value means nothing without it
                metric_args={"protocol": row.get("protocol")},
            )
        )
    return results


def _metrics_section(rows: list[dict[str, Any]], data: str | None = None) -> str:
    if not rows:
        body = (
            "Not evaluated yet. `ganzoo eval SOURCE --data DATA` measures it and records the "
            "numbers here."
        )
    else:
        lines = ["| metric | value | data | protocol |", "| --- | --- | --- | --- |"]
        for row in rows:
            value = row["value"]
            shown = f"{value:.4g}" if isinstance(value, float) else json.dumps(value)
            where = row.get("data") or row.get("dataset") or data or ""
            lines.append(
                f"| {row['name']} | {shown} | {where} | {_protocol_text(row['protocol'])} |"
            )
        body = "\n".join(lines)
    return f"{_METRICS_START}\n{body}\n{_METRICS_END}"


def _recipe_table(config: dict[str, Any]) -> str:
    recipe = config["recipe"]
    lines = ["| field | value |", "| --- | --- |"]
    for role, spec in config["components"].items():
        args = f" {json.dumps(spec['args'])}" if spec.get("args") else ""
        lines.append(f"| {role} | `{spec['name']}`{args} |")
    for key in _RECIPE_FIELDS:
        value = recipe.get(key)
        if value is not None:
            lines.append(f"| {key} | {value if isinstance(value, str) else json.dumps(value)} |")
    return "\n".join(lines)


def _training_domains(
    task: str, data: str | None, source: str | None
) -> tuple[list[str], str, str, str]:
    """(``datasets:`` ids, words for the body, ``license:``, terms of use) of a model's training
    data; a translator's source domain, by default the one ``data`` is registered with, counts
    as training data too."""
    dataset, where, license, terms = data_facts(data)
    datasets = [dataset] if dataset else []
    if task == "translation" and data:
        source = source or source_domain(data)
    if task == "translation" and source:
        # both domains are training data: both go in the card, and both sets of terms apply
        source_id, source_words, source_license, source_terms = data_facts(source)
        where = f"{source_words} (source domain) and {where} (target domain)"
        datasets = list(dict.fromkeys([*([source_id] if source_id else []), *datasets]))
        license = "mit" if license == source_license == "mit" else "other"
        terms = " ".join(t for t in dict.fromkeys([source_terms, terms]) if t)
    return datasets, where, license, terms


def _card_title(model: str, data: str | None) -> str:
    """MODEL-DATA like the zoo's names: the ganzoo dataset name, or the Hub dataset's name."""
    dataset = data_facts(data)[0]
    if data and registry().find("datasets", data) is not None:
        return f"{model}-{data}"
    if dataset:
        return f"{model}-{dataset.rsplit('/', 1)[-1]}"
    return model


def _translator_words(height: int, width: int) -> dict[str, str]:
    """The card's words for an image-to-image translator (see ``_task_words``)."""
    return {
        "what": (
            f"An unpaired image-to-image translator: `generator` maps the source domain to the "
            f"target domain and `generator_reverse` maps back, {width}x{height} pixels."
        ),
        "usage": (
            "import ganzoo\n"
            "import torchvision.transforms.functional as TF\n"
            "from PIL import Image\n\n"
            f'gan = ganzoo.load("hf://{REPO_PLACEHOLDER}")\n'
            f'photo = Image.open("photo.jpg").convert("RGB").resize(({width}, {height}))\n'
            "translated = gan.translate(TF.to_tensor(photo)[None])  "
            f"# [1, 3, {height}, {width}] in [0, 1]"
        ),
        "cli": f"ganzoo translate hf://{REPO_PLACEHOLDER} photos/ -o translated/",
        "picture": "Each row: source image, translation, reconstruction (translated back).",
        "limits": (
            "It learns the look of its training domains only: photos unlike the source set "
            "(other poses, crops, lighting) translate poorly, and identities are not preserved "
            "reliably."
        ),
    }


def _generator_words(height: int, width: int, latent_dim: int | None) -> dict[str, str]:
    """The card's words for an unconditional generator (see ``_task_words``)."""
    noise = f"noise of dimension {latent_dim}" if latent_dim else "random noise"
    return {
        "what": f"An unconditional image generator: {noise} to a {width}x{height} image.",
        "usage": (
            "import ganzoo\n\n"
            f'gan = ganzoo.load("hf://{REPO_PLACEHOLDER}")\n'
            f"images = gan.sample(16, seed=0)  # [16, 3, {height}, {width}] in [0, 1]"
        ),
        "cli": f"ganzoo sample hf://{REPO_PLACEHOLDER} -n 64 -o grid.png",
        "picture": "A grid of samples from fixed noise.",
        "limits": (
            "Small GANs like this one can drop modes of the data (mode collapse) and produce "
            "artefacts; samples show faces in the style of the training set only."
        ),
    }


def _task_words(config: dict[str, Any], latent_dim: int | None) -> dict[str, str]:
    """What the model does, how to use it in Python and on the command line, what its sample
    picture shows and its limits: ``what``, ``usage``, ``cli``, ``picture``, ``limits``."""
    height, width = config["image_size"]
    if config.get("task", "unconditional") == "translation":
        return _translator_words(height, width)
    return _generator_words(height, width, latent_dim)


def _limitations(limits: str, terms: str) -> str:
    general = (
        "Generated images can be mistaken for real ones; label them as generated. The "
        "training data carries its own biases (who and what appears in it), which the "
        "model reproduces."
    )
    return " ".join(part for part in (limits, terms, general) if part)


def _card_body(
    config: dict[str, Any],
    spec: dict[str, Any],
    *,
    title: str,
    where: str,
    terms: str,
    words: dict[str, str],
    metrics: str,
    has_sample: bool,
    step: int | None,
) -> str:
    """The Markdown below the card's front matter."""
    trained = f"{step} steps" if step else "the recipe below"
    averaged = config.get("training", {}).get("averaged_steps")
    if averaged:
        trained += f" (its weights: the mean of the checkpoints at steps {_listed(averaged)})"
    # a plugin's distribution brings ganzoo-core along; never plain "ganzoo", which on PyPI is an
    # unrelated project
    install = f"pip install {config.get('distribution') or 'ganzoo-core'}"
    summary = spec.get("summary", "")
    sections = [
        f"# {title}",
        summary and f"{summary[:1].upper()}{summary[1:]}.",
        f"{words['what']} Trained on {where} for {trained} with ganzoo "
        f"{config.get('ganzoo_version', '')} (model `{config['model']}` from the plugin "
        f"`{config.get('distribution', config['plugin'])}` {config.get('plugin_version', '')}).",
        f"Paper: {spec['paper']}" if spec.get("paper") else "",
        f"![samples](sample.png)\n\n{words['picture']}" if has_sample else "",
        "## Usage",
        f"```bash\n{install}\n{words['cli']}\n```",
        f"```python\n{words['usage']}\n```",
        "The weights are `model.safetensors` (loading never unpickles anything); `config.json` "
        "names the plugin, components and recipe that rebuild the networks.",
        "## Training recipe",
        f"Recipe `{config.get('recipe_name', 'default')}`:\n\n{_recipe_table(config)}",
        "## Metrics",
        metrics,
        "## Limitations",
        _limitations(words["limits"], terms),
        f"<sub>Card written by ganzoo {__version__}.</sub>",
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def _listed(steps: list[int]) -> str:
    """``[1, 2, 3]`` -> ``"1, 2 and 3"``."""
    words = [str(step) for step in steps]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def render_model_card(
    config: dict[str, Any],
    *,
    data: str | None = None,
    metrics: list[dict[str, Any]] | None = None,
    has_sample: bool = False,
    step: int | None = None,
    latent_dim: int | None = None,
    source: str | None = None,
) -> ModelCard:
    """The README.md of a Hub-ready folder for a model config (``ganzoo.models.make_config``).

    ``data`` is the training set (a translator's target domain); ``source`` a translator's
    source domain, by default the one ``data`` is registered with (celeba for anime)."""
    spec = _model_spec(config)
    task = config.get("task", "unconditional")
    model = config["model"]
    rows = _normalise_results(metrics or [])
    datasets, where, license, terms = _training_domains(task, data, source)
    title = _card_title(model, data)
    card_data = ModelCardData(
        library_name="ganzoo",
        license=license,
        tags=["ganzoo", "gan", "pytorch", "safetensors", *spec.get("tags", [task]), model],
        datasets=datasets or None,
        pipeline_tag=PIPELINE_TAGS.get(task),
        metrics=sorted({row["name"] for row in rows}) or None,
        model_name=title,
        eval_results=_eval_results(rows, task, data) or None,
    )
    body = _card_body(
        config,
        spec,
        title=title,
        where=where,
        terms=terms,
        words=_task_words(config, latent_dim),
        metrics=_metrics_section(rows, data),
        has_sample=has_sample,
        step=step,
    )
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n{body}")


def _rows(results: list[EvalResult]) -> list[dict[str, Any]]:
    return [
        {
            "name": r.metric_type,
            "value": r.metric_value,
            "data": r.dataset_type,
            "protocol": (r.metric_args or {}).get("protocol", ""),
        }
        for r in results
    ]


def _load(path: Path) -> ModelCard:
    try:
        # the front matter huggingface_hub will read, checked first for aliases (an alias bomb)
        block = REGEX_YAML_BLOCK.search(path.read_text(encoding="utf-8"))
        if block:
            card_yaml(block.group(2))
        return ModelCard.load(path)
    except (OSError, ValueError) as exc:
        raise GanzooError(f"cannot read the model card {path}: {exc}") from None
    except yaml.YAMLError as exc:  # front matter edited by hand
        first = str(exc).strip().splitlines()[0]
        raise GanzooError(f"model card {path} has invalid YAML front matter ({first})") from None


def card_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The metric results a card records, as ``{"name", "value", "data", "protocol"}`` dicts."""
    return _rows(_load(Path(path)).data.eval_results or [])


def update_card_metrics(path: str | Path, results: list[dict[str, Any]]) -> ModelCard:
    """Records metric results in a card: in its front matter's model-index and ``metrics`` list
    and in the body's metrics table. A result replaces an earlier one of the same name and data;
    others are kept. Returns the updated card (the caller saves it)."""
    path = Path(path)
    card = _load(path)
    task = next((k for k, v in PIPELINE_TAGS.items() if v == card.data.pipeline_tag), "")
    default_data = (card.data.datasets or [None])[0]
    merged = {(r.metric_type, r.dataset_type): r for r in (card.data.eval_results or [])}
    for result in _eval_results(_normalise_results(results), task, default_data):
        merged[(result.metric_type, result.dataset_type)] = result
    card.data.eval_results = list(merged.values())
    card.data.model_name = card.data.model_name or path.parent.name
    card.data.metrics = sorted({r.metric_type for r in merged.values()})
    section = _metrics_section(_rows(card.data.eval_results))
    if _METRICS_BLOCK.search(card.text):
        card.text = _METRICS_BLOCK.sub(lambda _: section, card.text)
    else:
        card.text = card.text.rstrip("\n") + f"\n\n## Metrics\n\n{section}\n"
    return card
