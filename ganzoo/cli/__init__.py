"""The ``ganzoo`` command line.

Each command is a thin layer over a library function. ``list`` must stay fast and free of torch,
so heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import warnings
from typing import Any

import click

from ganzoo.errors import GanzooError
from ganzoo.registry import KINDS, registry, singular
from ganzoo.version import __version__

LIST_KINDS = (
    "models",
    "losses",
    "metrics",
    "datasets",
    "generators",
    "discriminators",
    "zoo",
    "plugins",
)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows, strict=False)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in rows:
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganzoo")
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    help="Full tracebacks for errors (anywhere on the line; or GANZOO_DEBUG=1).",
)
def cli() -> None:
    """ganzoo: a plugin-based GAN model zoo for PyTorch."""


# ---------------------------------------------------------------------------------------------
# list / info


def _list_rows(kind: str, pattern: str | None) -> list[dict[str, Any]]:
    reg = registry()
    if kind == "plugins":
        plugins = sorted(reg.plugins.values(), key=lambda p: p.name)
        return [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "status": f"broken: {p.error}" if p.broken else "ok",
                "contributes": len(p.entries),
            }
            for p in plugins
            if not pattern or fnmatch.fnmatchcase(p.name, pattern)
        ]
    if kind == "zoo":
        from ganzoo.zoo import zoo_entries

        return [
            {
                "name": e.name,
                "model": e.model,
                "data": e.data,
                "size": e.size,
                "fid": e.fid,
                "weights": e.weights,  # bundled (here), hub or absent
                "status": e.status,
                "summary": e.summary,
            }
            for e in zoo_entries(pattern)
        ]
    rows = [
        {"name": e.name, "plugin": e.plugin, "summary": e.summary}
        for e in reg.entries(kind, pattern)
    ]
    # names that another plugin registers too: listed the way they are reached, plugin:name
    rows += [
        {"name": e.qualified_name, "plugin": e.plugin, "summary": e.summary}
        for e in reg.shadowed(kind, pattern)
    ]
    return rows


@cli.command("list")
@click.argument("pattern", required=False)
@click.option("--kind", type=click.Choice(LIST_KINDS), help="Only this kind of thing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_command(pattern: str | None, kind: str | None, as_json: bool) -> None:
    """Models, losses, metrics, datasets and zoo entries that installed plugins register
    (generators, discriminators and plugins with --kind).

    PATTERN is a shell-style wildcard, e.g. 'w*'.
    """
    kinds = [kind] if kind else ["models", "losses", "metrics", "datasets", "zoo"]
    result = {k: _list_rows(k, pattern) for k in kinds}
    broken = [p for p in registry().plugins.values() if p.broken]
    if as_json:
        if not kind:
            result["broken_plugins"] = [{"name": p.name, "error": p.error} for p in broken]
        _echo_json(result[kind] if kind else result)
        return
    for k, rows in result.items():
        if not rows:
            continue
        click.echo(click.style(k, bold=True))
        headers = list(rows[0])
        click.echo(_table([[str(r[h]) for h in headers] for r in rows], headers))
        click.echo()
    if not kind:
        for p in broken:
            click.echo(f"broken plugin {p.name} ({p.distribution} {p.version}): {p.error}")
    if not any(result.values()):
        click.echo("nothing matches" + (f" {pattern!r}" if pattern else ""))
    if not kind:
        click.echo(
            "generators and discriminators: ganzoo list --kind generators (or --kind "
            "discriminators); the details of any name: ganzoo info NAME"
        )


def _model_info(entry) -> dict[str, Any]:
    from ganzoo.models import build, make_config

    config = make_config(entry.name)
    model = build(config)
    params = {
        name: sum(p.numel() for p in module.parameters()) for name, module in model.named_children()
    }
    plugin = registry().plugins[entry.plugin]
    from ganzoo.zoo import zoo_entries

    return {
        "kind": "model",
        "name": entry.name,
        "plugin": entry.plugin,
        "distribution": plugin.distribution,
        "version": plugin.version,
        "task": config["task"],
        "class": entry.builder,
        "summary": entry.summary,
        "paper": entry.spec.get("paper", ""),
        "components": config["components"],
        "image_size": config["image_size"],
        "recipes": sorted(entry.spec.get("recipes", {})),
        "default_recipe": config["recipe"].to_dict(),
        "parameters": params,
        "zoo": [z.name for z in zoo_entries() if z.model == entry.name],
    }


def _info(name: str) -> dict[str, Any]:
    reg = registry()
    entry = reg.find("models", name)
    if entry is not None:
        return _model_info(entry)
    entry = reg.find("datasets", name)
    if entry is not None:
        from ganzoo.data import describe

        return {"kind": "dataset", "name": entry.name, "plugin": entry.plugin, **describe(name)}
    from ganzoo.zoo import find_zoo_entry

    zoo = find_zoo_entry(name)
    if zoo is not None:
        return {"kind": "zoo entry", **zoo.as_dict()}
    for kind in KINDS:
        entry = reg.find(kind, name)
        if entry is not None:
            return _component_info(entry)
    raise GanzooError(f"nothing named {name!r}; see `ganzoo list`")


def _component_info(entry) -> dict[str, Any]:
    """A generator, discriminator, loss or metric: where it comes from and what it takes."""
    reg = registry()
    spec = {k: v for k, v in entry.spec.items() if k != "summary"}
    info = {
        "kind": singular(entry.kind),
        "name": entry.name,
        "plugin": entry.plugin,
        "version": reg.plugins[entry.plugin].version,
        "summary": entry.summary,
        **spec,
        "arguments": _arguments(entry),
    }
    field = {"generators": "generator", "discriminators": "discriminator", "losses": "loss"}
    if entry.kind in field:
        info["set_with"] = f"--set {field[entry.kind]}_args.NAME=VALUE"
    others = [e.qualified_name for e in reg.holders(entry.kind, entry.name) if e is not entry]
    if others:
        info["also_registered_as"] = others
    return info


def _arguments(entry) -> dict[str, Any] | str:
    """The builder's arguments with their defaults, from its signature; a network's size and
    channels are left out, since ganzoo passes them itself."""
    import inspect

    try:
        params = inspect.signature(entry.load()).parameters.values()
    except GanzooError as exc:  # the rest of what info shows is still worth reading
        return f"unknown: {exc}"
    except (TypeError, ValueError):  # a builtin without a signature
        return {}
    given = ("size", "channels") if entry.kind in ("generators", "discriminators") else ()
    return {
        p.name: "(required)" if p.default is p.empty else p.default
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in given
    }


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(name: str, as_json: bool) -> None:
    """One model, loss, metric, dataset or zoo entry."""
    data = _info(name)
    if as_json:
        _echo_json(data)
        return
    card = data.pop("card", None)
    for key, value in data.items():
        if isinstance(value, dict) and not value:
            click.echo(f"{key}: -")
        elif isinstance(value, dict):
            click.echo(f"{key}:")
            for k, v in value.items():
                click.echo(f"  {k}: {json.dumps(v) if isinstance(v, (dict, list)) else v}")
        elif isinstance(value, list):
            click.echo(f"{key}: {', '.join(map(str, value)) or '-'}")
        else:
            click.echo(f"{key}: {value}")
    if card:
        click.echo("\n" + card)


# ---------------------------------------------------------------------------------------------
# run


#: A translator's source domain is --source-data in `run` and `eval` alike. `run` used to call
#: it --source; that spelling still works, hidden, so that old command lines (and the train
#: commands in older model cards) keep working.
SOURCE_DATA_HELP = (
    "Translators: the source-domain data, whose images they turn into DATA's (default: the "
    "source domain DATA names). A dataset name, folder, .tar/.zip, or hf://datasets/..."
)


def _source_data(source_data: str | None, old_spelling: str | None) -> str | None:
    """--source-data, or what the old spelling --source gave."""
    if old_spelling is None:
        return source_data
    if source_data is not None and source_data != old_spelling:
        raise click.UsageError("--source is the old spelling of --source-data: give one of them")
    warnings.warn(
        "--source is now spelled --source-data (the old spelling still works)", stacklevel=2
    )
    return old_spelling


@cli.command()
@click.argument("model")
@click.option("--data", required=True, help="Dataset name, folder, .tar/.zip, or hf://datasets/...")
@click.option("--source-data", help=SOURCE_DATA_HELP)
@click.option("--source", "old_source", hidden=True, help="Old spelling of --source-data.")
@click.option("--data-root", type=click.Path(), help="Where real datasets live (or GANZOO_DATA).")
@click.option("--recipe", default="default", show_default=True, help="default or paper.")
@click.option("--steps", type=int, help="Training steps (one batch each).")
@click.option("--epochs", type=int, help="Epochs over the target data (instead of --steps).")
@click.option("--size", help="Image size: 64, or WxH such as 128x160.")
@click.option("--batch-size", type=int)
@click.option("--out", type=click.Path(), help="Run directory (default runs/MODEL-DATA-TIME).")
@click.option("--resume", type=click.Path(), help="Continue the run in this directory.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:i.")
@click.option(
    "--precision", type=click.Choice(["fp32", "bf16", "fp16"]), default="fp32", show_default=True
)
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the networks.")
@click.option(
    "--threads",
    default="auto",
    show_default=True,
    help="CPU threads: a number, or auto (half the cores, whatever else runs, so that a seed "
    "gives the same weights; a resumed run keeps its own).",
)
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override any recipe field, e.g. --set loss=wasserstein-gp --set loss_args.gp_lambda=5 "
    "(KEY.SUB reaches into a mapping). Order does not matter: a new component name drops the old "
    "component's arguments first, then the *_args overrides apply.",
)
@click.option("--config", "config_file", type=click.Path(), help="YAML or JSON recipe fields.")
@click.option("--quiet", is_flag=True, help="No progress bar or progress lines.")
def run(
    model: str,
    data: str,
    source_data: str | None,
    old_source: str | None,
    data_root: str | None,
    recipe: str,
    steps: int | None,
    epochs: int | None,
    size: str | None,
    batch_size: int | None,
    out: str | None,
    resume: str | None,
    seed: int,
    device: str,
    precision: str,
    compile_: bool,
    threads: str,
    assignments: tuple[str, ...],
    config_file: str | None,
    quiet: bool,
) -> None:
    """Train MODEL on DATA and write a run directory."""
    from ganzoo.recipes import parse_assignments, read_config_file
    from ganzoo.training.threads import parse_threads
    from ganzoo.training.train import TrainOptions, train

    overrides: dict[str, Any] = read_config_file(config_file) if config_file else {}
    overrides.update(parse_assignments(list(assignments)))
    for key, value in (
        ("steps", steps),
        ("epochs", epochs),
        ("size", size),
        ("batch_size", batch_size),
    ):
        if value is not None:
            overrides[key] = value
    if steps is not None and epochs is None:
        overrides["epochs"] = None
    options = TrainOptions(
        model=model,
        data=data,
        source=_source_data(source_data, old_source),
        data_root=data_root,
        recipe=recipe,
        overrides=overrides,
        out=out,
        resume=resume,
        seed=seed,
        device=device,
        precision=precision,
        compile=compile_,
        quiet=quiet,
        threads=parse_threads(threads),
    )
    run_dir = train(options)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 writes the run
        click.echo(f"run written to {run_dir}")


# ---------------------------------------------------------------------------------------------
# using trained models


@cli.command()
@click.argument("source")
@click.option("-n", "count", type=int, default=64, show_default=True, help="How many images.")
@click.option(
    "-o",
    "output",
    type=click.Path(),
    help="A .png grid, or a folder for one file per image (default samples.png); with "
    "--interpolate a .gif or .mp4, the strip beside it as .png (default walk.gif).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="With --interpolate: the first."
)
@click.option(
    "--truncation",
    type=float,
    default=1.0,
    show_default=True,
    metavar="PSI",
    help="Scale the noise toward its mean (z' = PSI z, PSI > 0): below 1, less variety, fewer "
    "artefacts.",
)
@click.option(
    "--interpolate",
    "walk",
    type=int,
    metavar="K",
    help="A latent walk through K seeds (slerp): an animation and a still strip, not -n images.",
)
@click.option(
    "--frames", type=int, default=16, show_default=True, help="Walk frames from a seed to the next."
)
@click.option("--fps", type=int, default=16, show_default=True, help="Walk frames per second.")
@click.option("--device", default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("--raw", is_flag=True, help="Images at the model's size, not enlarged to 128 px.")
def sample(
    source: str,
    count: int,
    output: str | None,
    seed: int,
    truncation: float,
    walk: int | None,
    frames: int,
    fps: int,
    device: str,
    force: bool,
    raw: bool,
) -> None:
    """Images from an unconditional model (zoo name, run, folder or hf://ORG/NAME)."""
    from ganzoo.cli.inference import interpolate_to_path, sample_to_path

    options = {"seed": seed, "truncation": truncation, "device": device, "force": force, "raw": raw}
    if walk is None:
        written = sample_to_path(source, count, output or "samples.png", **options)
        click.echo(f"wrote {written}")
        return
    paths = interpolate_to_path(
        source, walk, output or "walk.gif", frames=frames, fps=fps, **options
    )
    click.echo(f"wrote {' and '.join(paths)}")


@cli.command()
@click.argument("source")
@click.argument("inputs", nargs=-1, required=True)
@click.option(
    "-o",
    "output",
    type=click.Path(),
    required=True,
    help="Output folder; for a video, a .mp4 (or .mov, .mkv).",
)
@click.option("--reverse", is_flag=True, help="Translate target to source instead.")
@click.option("--device", default="auto", show_default=True)
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
def translate(
    source: str, inputs: tuple[str, ...], output: str, reverse: bool, device: str, force: bool
) -> None:
    """Translate image files or folders, or one video (needs ganzoo-core[video]), with an
    image-to-image model."""
    from ganzoo.cli.inference import translate_paths, translate_video
    from ganzoo.cli.video import is_video_name

    if any(is_video_name(item) for item in inputs):
        if len(inputs) > 1:
            raise GanzooError("a video is translated on its own: give one video per command")
        frames, fps = translate_video(
            source, inputs[0], output, reverse=reverse, device=device, force=force
        )
        click.echo(f"wrote {frames} frames at {float(fps):.4g} fps to {output}")
        return
    if is_video_name(output):  # else a folder named out.mp4 would appear, full of PNGs
        raise GanzooError(f"-o {output} names a video, but the inputs are images: give a folder")
    written = translate_paths(
        source, list(inputs), output, reverse=reverse, device=device, force=force
    )
    count = len(written)
    click.echo(f"wrote {count} image{'s' if count != 1 else ''} to {output}")


@cli.command("eval")
@click.argument("model_or_images")
@click.option("--data", required=True, help="Dataset to compare against.")
@click.option("--source-data", help=SOURCE_DATA_HELP)
@click.option("--data-root", type=click.Path())
@click.option("--metrics", default="fid,kid", show_default=True, help="Comma-separated.")
@click.option(
    "-n",
    "count",
    type=int,
    default=10_000,
    show_default=True,
    help="Generated images; real ones too, or the whole real set when smaller. "
    "FID is biased upward below 10,000: compare figures at equal n only.",
)
@click.option("--size", help="Folders and archives of images: the size to score at (default 64).")
@click.option(
    "--reverse",
    is_flag=True,
    help="Translators: score the way back (target to source) against DATA, the source domain; "
    "inputs from --source-data (default: the data it was trained into).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--report", type=click.Path(), help="Also write an HTML page: pictures, metrics.")
@click.option(
    "--no-card",
    is_flag=True,
    help="Leave the model's card as it is (by default a run's or folder's card records the "
    "figures): for checks with another seed or n.",
)
def eval_command(
    model_or_images: str,
    data: str,
    source_data: str | None,
    data_root: str | None,
    metrics: str,
    count: int,
    size: str | None,
    reverse: bool,
    seed: int,
    device: str,
    as_json: bool,
    report: str | None,
    no_card: bool,
) -> None:
    """Metrics of a model, or of images, against a dataset.

    MODEL_OR_IMAGES is a model (zoo name, run, Hub-ready folder or hf://ORG/NAME), or images:
    a dataset name, a folder, or a .tar/.zip.
    """
    from ganzoo.evaluate import evaluate, format_results
    from ganzoo.recipes import parse_size

    if report:
        from ganzoo.cli.report import check_report_path

        check_report_path(report)  # before the slow part
    names = [m.strip() for m in metrics.split(",") if m.strip()]
    results = evaluate(
        model_or_images,
        data,
        names,
        n=count,
        seed=seed,
        device=device,
        source_data=source_data,
        data_root=data_root,
        size=parse_size(size) if size is not None else None,
        reverse=reverse,
        update_card=not no_card,
    )
    if as_json:
        _echo_json([r.as_dict() for r in results])
    else:
        click.echo(format_results(results))
    if report:
        _write_eval_report(
            report, model_or_images, data, results, seed, device, source_data, data_root, reverse
        )


def _write_eval_report(path: str, model_or_images: str, data: str, results, *options) -> None:
    from ganzoo.cli.report import write_report

    written = write_report(path, model_or_images, data, results, *options)
    click.echo(f"wrote {written}", err=True)  # stderr: --json output stays parseable


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.argument("out_dir", type=click.Path())
@click.option("--force", is_flag=True, help="Overwrite OUT_DIR's files if it exists.")
@click.option(
    "--onnx", is_flag=True, help="Add the generator(s) as ONNX (needs ganzoo-core[onnx])."
)
@click.option(
    "--average",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Export the mean of the weights of the run's last N checkpoints (1: the latest).",
)
def export(run_dir: str, out_dir: str, force: bool, onnx: bool, average: int) -> None:
    """A Hub-ready folder (config.json, model.safetensors, README.md) from a run."""
    from ganzoo.hub import export_run, load

    if onnx:
        from ganzoo.hub.onnx_export import export_onnx, require_onnx

        require_onnx()  # before anything is written
    folder = export_run(run_dir, out_dir, force=force, average=average)
    click.echo(f"wrote {folder}")
    if onnx:
        for path in export_onnx(load(folder, device="cpu"), folder):
            click.echo(f"wrote {path}")


@cli.command()
@click.argument("source")
@click.option("--repo", required=True, help="ORG/NAME on the Hugging Face Hub.")
@click.option("--private", is_flag=True)
def push(source: str, repo: str, private: bool) -> None:
    """Upload a Hub-ready folder or a run to the Hugging Face Hub."""
    from ganzoo.hub import push_to_hub

    url, commit = push_to_hub(source, repo, private=private)
    click.echo(f"pushed to {url} (commit {commit})")


@cli.command("new-plugin")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(), default=".", show_default=True)
@click.option(
    "--task",
    type=click.Choice(["unconditional", "translation"]),
    default="unconditional",
    show_default=True,
    help="Noise to image, or unpaired image-to-image translation (CycleGAN).",
)
def new_plugin(name: str, directory: str, task: str) -> None:
    """Scaffold an installable plugin package that works at once."""
    from ganzoo.cli.scaffold import new_plugin as scaffold

    path = scaffold(name, directory, task=task)
    click.echo(f"created {path}\nnext: pip install -e {path} && ganzoo list")


@cli.command()
@click.argument("source")
@click.option("--port", type=int, default=7860, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="0.0.0.0 to share on a LAN.")
@click.option("--device", default="auto", show_default=True)
def demo(source: str, port: int, host: str, device: str) -> None:
    """A local web page (Gradio) to try a model: translate a photo, or draw samples."""
    from ganzoo.cli.demo import serve

    serve(source, port=port, host=host, device=device)


def _command(args: list[str]) -> str:
    """``ganzoo COMMAND [FIRST ARGUMENT]``, how an error line names what was being done."""
    words = []
    for arg in args:
        if arg.startswith("-") or len(words) == 2:
            break
        words.append(arg)
    return " ".join(["ganzoo", *words])


def _unexpected(exc: Exception, args: list[str]) -> str:
    """The backstop's one line for an exception no check turned into a GanzooError."""
    from ganzoo.validate import is_out_of_memory

    first = (str(exc).strip().splitlines() or [""])[0][:200]
    if is_out_of_memory(exc):
        return (
            f"error: out of memory in `{_command(args)}` ({type(exc).__name__}: {first}); use "
            "a smaller --batch-size, --size or -n"
        )
    return (
        f"error: {type(exc).__name__} in `{_command(args)}`: {first} (a bug in ganzoo or a "
        "plugin; --debug or GANZOO_DEBUG=1 shows the traceback)"
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: one clear line and a non-zero exit for every user error, never a traceback."""
    # warnings (a skipped image, a plugin name clash) read as one plain line, not a source location
    warnings.formatwarning = lambda message, *args, **kwargs: f"warning: {message}\n"
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug may stand anywhere on the line, so it is taken out before click reads the rest
    debug = "--debug" in args or os.environ.get("GANZOO_DEBUG", "").strip() not in ("", "0")
    args = [arg for arg in args if arg != "--debug"]
    try:
        cli.main(args=args, prog_name="ganzoo", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # a mistyped option or value: one line, and where to look
        hint = f" (see `{exc.ctx.command_path} -h`)" if exc.ctx else ""
        click.echo(f"error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except GanzooError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:  # disk full, permission denied, ... : the user's environment
        if debug:
            raise
        click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(1)
    except Exception as exc:  # the backstop: whatever no check above caught is still one line
        if debug:
            raise
        click.echo(_unexpected(exc, args), err=True)
        sys.exit(1)
