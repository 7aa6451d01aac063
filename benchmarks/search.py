"""Recipe search: candidates for one model and dataset, each trained at the same compute budget
and scored by FID (and the toon scores on toon), with a fixed set of source faces in every grid.

The budget is counted in training FLOPs, not seconds, so that candidates are compared fairly on a
shared, busy machine: ``--budget`` is the images the first candidate of the experiment sees, and
every other candidate sees as many images as the same FLOPs buy it (a wider network sees fewer,
a gradient penalty costs its double backward). FLOPs per image come from
``torch.utils.flop_counter`` over one whole training step, as in bench_train.py.

    GANZOO_DATA=../shared/data python benchmarks/search.py translator-anime --budget 6400
    python benchmarks/search.py dcgan-anime --budget 64000 --only base,ema+augment
    python benchmarks/search.py translator-anime --curve ls+augment --points 12800,25600

Results accumulate in ``--out`` (results.json, one row per candidate, and runs/); the table and
grids are written to ``docs/search/EXPERIMENT.md`` and ``docs/search/EXPERIMENT.jpg``. A curve
(``--curve LABEL``) trains one candidate in stages with ``--resume`` and scores every stage.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
import time
from pathlib import Path

AUGMENT = "color,translation,cutout"  # DiffAugment's policy for small sets
LS = {"loss": "least-squares", "loss_args": {}}  # "ls" in the labels
CLIP = {"loss": "wasserstein-clip", "loss_args": {"clip_value": 0.01}}

# The translator's searches ran from the default recipe as it was before them (the Wasserstein
# loss with a gradient penalty, no augmentation; now `--recipe wasserstein`); spelt out here so
# that the candidates stay the same now that the default is their winner.
TRANSLATOR = {"loss": "wgan:wasserstein-gp", "loss_args": {"gp_lambda": 10.0}, "augment": None}
# ... at the size the zoo trains (64x64)
TRANSLATOR_64 = {"size": 64, **TRANSLATOR}

WGAN_GP = {
    "loss": "wasserstein-gp",
    "loss_args": {"gp_lambda": 10.0},
    "discriminator_args": {"norm": "layer"},
    "optimizer": "adam",
    "lr_g": 1e-4,
    "lr_d": 1e-4,
    "betas": [0.0, 0.9],
}

WIDTH_32 = {"generator_args": {"width": 32, "stem_skip": True}, "discriminator_args": {"width": 32}}
# the paper's widths (ResNet-18's 64 channels), with the stem skip the searches kept
WIDTH_64 = {"generator_args": {"width": 64, "stem_skip": True}, "discriminator_args": {"width": 64}}

EXPERIMENTS = {
    # name: model, target data, source data (translators), base overrides, metrics, candidates;
    # "score": the (metric, key) a curve plots, FID unless said
    "translator-anime": {
        "model": "improved",
        "data": "anime",
        "source": "celeba",
        "base": TRANSLATOR_64,
        "metrics": ["fid", "kid"],
        "candidates": {
            "gp (old default)": {},
            "ls": LS,
            "clip": CLIP,
            "ls+augment": {**LS, "augment": AUGMENT},
            "ls+ema": {**LS, "ema": 0.999},
            "clip+augment": {**CLIP, "augment": AUGMENT},
            "gp+augment": {"augment": AUGMENT},
            "ls+augment cycle 5": {**LS, "augment": AUGMENT, "lambda_cycle": 5.0},
            "ls+augment batch 32": {**LS, "augment": AUGMENT, "batch_size": 32},
            "ls cycle 5": {**LS, "lambda_cycle": 5.0},
            "ls identity 0": {**LS, "lambda_identity": 0.0},
            "ls no skip": {**LS, "generator_args.stem_skip": False},
            "ls lr 2e-4": {**LS, "lr_g": 2e-4, "lr_d": 2e-4},
            "ls batch 32": {**LS, "batch_size": 32},
            "ls width 32": {**LS, **WIDTH_32},
            "ls+augment width 32": {**LS, "augment": AUGMENT, **WIDTH_32},
            "ls+augment width 64": {**LS, "augment": AUGMENT, **WIDTH_64},
            # the recipe that keeps toon-content at width 32 (translator-toon below)
            "ls+augment width 32 identity 5": {
                **LS,
                "augment": AUGMENT,
                "lambda_identity": 5.0,
                **WIDTH_32,
            },
            "ls+augment lr 2e-4": {**LS, "augment": AUGMENT, "lr_g": 2e-4, "lr_d": 2e-4},
            # two ways to keep the discriminators from outpacing the generators: R1 (gamma by
            # StyleGAN2-ADA's rule, 0.0002 * 64^2 / 8) or a slower rate; neither gained to 24,000
            "ls+augment width 32 r1 0.1": {
                **LS,
                "loss_args": {"r1_gamma": 0.1},
                "augment": AUGMENT,
                **WIDTH_32,
            },
            "ls+augment width 32 lr_d 1.25e-4": {
                **LS,
                "augment": AUGMENT,
                "lr_d": 1.25e-4,
                **WIDTH_32,
            },
            # device_run.py's batch: at equal images, does batch 32 keep up with the entry's 8? (and
            # with the rate x2, by Adam's square-root rule for 4x the batch)
            "ls+augment width 32 batch 32": {
                **LS,
                "augment": AUGMENT,
                "batch_size": 32,
                **WIDTH_32,
            },
            "ls+augment width 32 batch 32 lr 1e-3": {
                **LS,
                "augment": AUGMENT,
                "batch_size": 32,
                "lr_g": 1e-3,
                "lr_d": 1e-3,
                **WIDTH_32,
            },
            "ls+augment no colour": {**LS, "augment": "translation,cutout"},
            "ls+augment identity 2": {**LS, "augment": AUGMENT, "lambda_identity": 2.0},
            "ls+augment identity 5": {**LS, "augment": AUGMENT, "lambda_identity": 5.0},
            # anime signal with no pretrained network (ganzoo_improved/model.py)
            "ls+augment grey+smooth fakes": {
                **LS,
                "augment": AUGMENT,
                "extra_fakes": "grey,smooth",
            },
            "ls+augment surface": {**LS, "augment": AUGMENT, "lambda_surface": 1.0},
            "ls+augment nce": {**LS, "augment": AUGMENT, "lambda_nce": 1.0},
            # the long run's recipe: EMA does not change the training, only what is exported
            "ls+augment+ema": {**LS, "augment": AUGMENT, "ema": 0.999},
        },
    },
    "translator-toon": {
        "model": "improved",
        "data": "toon",
        "source": "toon/photo",
        "base": TRANSLATOR,
        "metrics": ["toon-content", "toon-fid"],
        "score": ("toon-content", "all"),
        "candidates": {
            "gp (old default)": {},
            "ls": LS,
            "ls+augment": {**LS, "augment": AUGMENT},
            "ls+augment identity 5": {**LS, "augment": AUGMENT, "lambda_identity": 5.0},
            # eyes are two pixels wide at 32x32: eye colour is what toon-content misses most
            "ls+augment 64x64": {**LS, "augment": AUGMENT, "size": 64},
            # its eye colours are shifted in brightness (yellow read as brown, red as pink):
            # without DiffAugment's colour jitter the critic sees the exact palette (it changed
            # nothing measurable; the identity weight below did)
            "ls+augment 64x64 no colour": {**LS, "augment": "translation,cutout", "size": 64},
            # CycleGAN's identity loss is there to keep the input's colours
            "ls+augment 64x64 identity 2": {
                **LS,
                "augment": AUGMENT,
                "size": 64,
                "lambda_identity": 2.0,
            },
            "ls+augment 64x64 identity 5": {
                **LS,
                "augment": AUGMENT,
                "size": 64,
                "lambda_identity": 5.0,
            },
            # the zoo's anime recipe (width 32): does its content hold on toon?
            "ls+augment 64x64 width 32": {**LS, "augment": AUGMENT, "size": 64, **WIDTH_32},
            "ls+augment 64x64 width 32 identity 5": {
                **LS,
                "augment": AUGMENT,
                "size": 64,
                "lambda_identity": 5.0,
                **WIDTH_32,
            },
            "ls+ema": {**LS, "ema": 0.999},
            "gp+ema": {"ema": 0.999},
            "gp+augment": {"augment": AUGMENT},
        },
    },
    "dcgan-anime": {
        "model": "dcgan",
        "data": "anime",
        "source": None,
        # the published recipe (now `reference`; the default became this search's winner)
        "base": {"ema": 0.0, "augment": None, "batch_size": 64},
        "metrics": ["fid", "kid", "msssim"],
        # what its curve plots: the samples' diversity, the score the search falls short on
        "score": ("msssim", "generated"),
        "candidates": {
            "base": {},
            "ema": {"ema": 0.999},
            "augment": {"augment": AUGMENT},
            "ema+augment": {"ema": 0.999, "augment": AUGMENT},
            # the same images in 4x (2x) the updates: 64,000 images are only 1,000 steps at 64
            "augment batch 16": {"augment": AUGMENT, "batch_size": 16},
            "ema+augment batch 16": {"ema": 0.999, "augment": AUGMENT, "batch_size": 16},
            "augment batch 32": {"augment": AUGMENT, "batch_size": 32},
            "augment ls": {"augment": AUGMENT, "loss": "least-squares"},
            # batch 16's samples are good (FID 142) but alike (msssim 0.53): remedies for that
            "augment batch 16 ls": {"augment": AUGMENT, "batch_size": 16, "loss": "least-squares"},
            "augment batch 16 mbstd": {
                "augment": AUGMENT,
                "batch_size": 16,
                "discriminator_args": {"minibatch_std": 4},
            },
            "ema+augment batch 16 mbstd": {
                "ema": 0.999,
                "augment": AUGMENT,
                "batch_size": 16,
                "discriminator_args": {"minibatch_std": 4},
            },
            "augment batch 16 sn": {
                "augment": AUGMENT,
                "batch_size": 16,
                "discriminator_args": {"norm": "none", "spectral_norm": True},
            },
            "augment batch 16 r1": {
                "augment": AUGMENT,
                "batch_size": 16,
                "loss_args": {"r1_gamma": 1.0},
            },
            # batch norm removes each batch's mean from the discriminator's features, the very
            # thing that gives a batch of alike fakes away; layer norm judges each image alone
            "augment batch 16 layer norm": {
                "augment": AUGMENT,
                "batch_size": 16,
                "discriminator_args": {"norm": "layer"},
            },
            "augment batch 16 pack 2": {
                "augment": AUGMENT,
                "batch_size": 16,
                "discriminator_args": {"pack": 2},
            },
        },
    },
    "wgan-anime": {
        "model": "wgan",
        "data": "anime",
        "source": None,
        "base": {},
        "metrics": ["fid", "kid", "msssim"],
        "candidates": {
            "base": {},
            "ema+augment": {"ema": 0.999, "augment": AUGMENT},
            # DCGAN's winner (DiffAugment, batch 16) on the published recipe (clipping, RMSprop)
            "clip augment batch 16": {"augment": AUGMENT, "batch_size": 16},
            # Gulrajani et al.'s recipe: a gradient penalty (per sample, so layer norm in the
            # critic), Adam 1e-4 with betas (0, 0.9), n_critic 5; plus DiffAugment and batch 16
            "gp augment batch 16": {**WGAN_GP, "augment": AUGMENT, "batch_size": 16},
            # ... with the generator stepped every second batch, not every fifth
            "gp augment batch 16 n_critic 2": {
                **WGAN_GP,
                "augment": AUGMENT,
                "batch_size": 16,
                "n_critic": 2,
            },
            # ... with the generator stepped on every batch, at DCGAN's learning rate and momentum
            # (Adam 2e-4, betas (0.5, 0.9)): the lazy gp recipe with n_critic 2 was at FID 303 on
            # anime after 64,000 images, where DCGAN's default had 142 (its generator makes 4x the
            # steps of that recipe's at 2x the learning rate). It collapsed: FID 359 on anime
            # after 32,000 images, msssim 0.89 (real pairs 0.30), every sample one pattern
            "lazy gp n_critic 1 lr 2e-4 augment batch 16": {
                **WGAN_GP,
                "loss_args": {"gp_lambda": 10.0, "gp_every": 4},
                "lr_g": 2e-4,
                "lr_d": 2e-4,
                "betas": [0.5, 0.9],
                "augment": AUGMENT,
                "batch_size": 16,
                "n_critic": 1,
            },
            # ... with the penalty lazy (on one critic step in four, weighted four times): the
            # penalty's double backward more than halves the speed (47 -> 24 img/s on one thread)
            "lazy gp augment batch 16 n_critic 2": {
                **WGAN_GP,
                "loss_args": {"gp_lambda": 10.0, "gp_every": 4},
                "augment": AUGMENT,
                "batch_size": 16,
                "n_critic": 2,
            },
        },
    },
}
for name in ("dcgan", "wgan"):  # the same candidates on CelebA's 5,000 faces
    EXPERIMENTS[f"{name}-celeba"] = {**EXPERIMENTS[f"{name}-anime"], "data": "celeba"}

FACES = 8  # source images in every translator grid, the same for every candidate
# the metrics a curve may plot that fall as they improve; the rest rise
LOWER_IS_BETTER = {"fid", "kid", "toon-fid", "msssim"}


def merge(base: dict, extra: dict) -> dict:
    """Recipe overrides: ``extra`` wins; ``*_args`` mappings are merged key by key, unless
    ``extra`` also names the component (another loss's arguments are not this one's)."""
    out = {**base}
    for key, value in extra.items():
        new_component = key.endswith("_args") and key.removesuffix("_args") in extra
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not new_component:
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def flops_per_image(model_name: str, overrides: dict, data: str, source: str | None) -> float:
    """Training FLOPs per target image over one whole step (forward and backward of every net),
    counted as bench_train.py counts them."""
    import torch

    import ganzoo
    from ganzoo.optim import Stepper

    sys.path.insert(0, str(Path(__file__).parent))
    from bench_train import flops_per_image as count

    torch.manual_seed(0)
    model = ganzoo.create(model_name, **overrides)
    batch_size = int(model.recipe["batch_size"])
    batch = {role: torch.rand(batch_size, 3, *model.image_size) * 2 - 1 for role in model.domains}
    stepper = Stepper(model.configure_optimizers(), torch.device("cpu"), "fp32")
    return count(model, batch, torch.device("cpu"), stepper)


def train_and_score(label: str, overrides: dict, images: int, experiment: dict, args, run_dir):
    """Trains (or, with a run that exists, resumes up to ``images``) and scores one candidate."""
    from ganzoo.evaluate import evaluate
    from ganzoo.training.train import TrainOptions, train

    batch = int(overrides.get("batch_size") or default_batch(experiment))
    steps = max(1, images // batch)
    resume = run_dir.exists() and args.curve is not None
    if run_dir.exists() and not resume:
        shutil.rmtree(run_dir)
    started = time.perf_counter()
    train(
        TrainOptions(
            model=experiment["model"],
            data=experiment["data"],
            source=experiment["source"],
            out=None if resume else str(run_dir),
            resume=str(run_dir) if resume else None,
            seed=args.seed,
            quiet=True,
            threads=args.threads,
            overrides={"steps": steps} if resume else {**overrides, "steps": steps},
        )
    )
    seconds = time.perf_counter() - started
    metrics = offline(experiment["metrics"])
    results = evaluate(
        str(run_dir),
        experiment["data"],
        metrics,
        n=args.n,
        seed=args.seed,
        source_data=experiment["source"],
        update_card=False,
    )
    return {
        "label": label,
        "overrides": overrides,
        "images_seen": steps * batch,
        "steps": steps,
        "batch": batch,
        "train_seconds": round(seconds, 1),
        "threads": args.threads,
        "n": args.n,
        "results": {r.name: r.values for r in results},
        "run_dir": str(run_dir),
    }


def default_batch(experiment: dict) -> int:
    import ganzoo

    spec = ganzoo.registry().get("models", experiment["model"]).spec
    return int(spec["recipes"]["default"].get("batch_size", 64))


@functools.cache
def _inception_available() -> frozenset[str]:
    sys.path.insert(0, str(Path(__file__).parent))
    from reproduce import inception_available

    return frozenset(inception_available())


def offline(metrics: list[str]) -> list[str]:
    """Leaves out Inception metrics whose weights are missing, saying so once."""
    from reproduce import INCEPTION_METRICS

    available = _inception_available()
    return [m for m in metrics if m in available or m not in INCEPTION_METRICS]


def face_grid(experiment: dict, rows: list[dict], path: Path, args) -> None:
    """One picture: the fixed source faces on top, then each candidate's translations of them
    (translators), or 8 samples from a fixed seed (unconditional models), a row per candidate;
    none for a curve's folder, which has no candidates side by side."""
    if not rows:
        return
    import torch
    from PIL import Image, ImageDraw

    import ganzoo
    from ganzoo.io.images import grid_image

    size = None
    lines, names = [], []
    for row in rows:
        model = ganzoo.load(row["run_dir"], device="cpu")
        size = model.image_size
        if experiment["source"]:
            if not lines:
                faces = source_faces(experiment, size, args)
                lines.append(faces)
                names.append(f"{experiment['source']} (input)")
            lines.append(model.translate(faces))
        else:
            lines.append(model.sample(FACES, seed=args.seed))
        names.append(row["label"])
    grid = grid_image(torch.cat(lines), nrow=FACES, scale=2)
    image = Image.fromarray(grid.permute(1, 2, 0).numpy())
    label_width = 190
    canvas = Image.new("RGB", (image.width + label_width, image.height), "white")
    canvas.paste(image, (label_width, 0))
    draw = ImageDraw.Draw(canvas)
    step = image.height / len(lines)
    for i, name in enumerate(names):
        draw.text((6, int(i * step + step / 2) - 6), name, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path, quality=90)


def source_faces(experiment: dict, size, args):
    """The same ``FACES`` source images for every candidate: evenly spaced through the set."""
    import numpy as np

    from ganzoo.data import open_domains
    from ganzoo.evaluate import load_images

    domains = open_domains(experiment["data"], ("source",), size, source=experiment["source"])
    dataset = domains["source"]
    indices = np.linspace(0, len(dataset) - 1, FACES).astype(int)
    return load_images(dataset, indices).float() / 255


KEY_VALUES = {
    "fid": ["fid"],
    "kid": ["kid"],
    "msssim": ["generated", "real"],
    "toon-content": ["all", "hair_colour", "eye_colour", "hair_style"],
    "toon-fid": ["toon-fid"],
}


def table(name: str, experiment: dict, rows: list[dict], curve: bool = False) -> str:
    """A Markdown table of candidates (or of a curve's stages: then with the training time to
    each stage, pauses left out, as a column)."""
    columns = [(m, k) for m in experiment["metrics"] for k in KEY_VALUES.get(m, [])]
    columns = [(m, k) for m, k in columns if any(k in r["results"].get(m, {}) for r in rows)]
    head = ["candidate", "images", "train s", *[f"{m}:{k}" for m, k in columns]]
    if curve:
        head.insert(3, "train s to here, pauses out")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        values = [
            f"{row['results'][m][k]:.4g}" if k in row["results"].get(m, {}) else "-"
            for m, k in columns
        ]
        cells = [row["label"], str(row["images_seen"]), f"{row['train_seconds']:.0f}", *values]
        if curve:
            seconds = seconds_to(row)
            cells.insert(3, f"{seconds:.0f}" if seconds is not None else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def seconds_to(row: dict) -> float | None:
    """A curve stage's training time from the start of its run: the run's metrics.csv up to the
    images the stage had seen, pauses left out (on one thread: one-thread CPU seconds). None when
    the run is gone."""
    from ganzoo.hub.zoo_entry import active_seconds, metrics_rows

    if not row.get("run_dir"):
        return None
    logged = metrics_rows(Path(row["run_dir"]))
    return active_seconds([r for r in logged if int(r["images"]) <= row["images_seen"]])


def write_docs(name: str, experiment: dict, rows: list[dict], args) -> None:
    docs = Path(args.docs)
    docs.mkdir(parents=True, exist_ok=True)
    search_rows = [r for r in rows if not r.get("curve")]
    curve_rows = [r for r in rows if r.get("curve")]
    source = experiment["source"]
    what = f"{source} -> {experiment['data']}" if source else experiment["data"]
    text = [
        f"# Recipe search: {experiment['model']}, {what}",
        "",
        f"Written by `python benchmarks/search.py {name}`. Each candidate trains on the same "
        "training FLOPs (the images column: what those FLOPs buy it), seed "
        f"{args.seed}, {args.threads} CPU thread(s); scored on n={args.n} generated images "
        f"against up to {args.n} real {experiment['data']} images at the training size. FID "
        "below n=10,000 is biased upward: compare rows only with each other. Train seconds "
        "ran beside other jobs and are not timings.",
        "",
        "Overrides of each candidate, on top of the recipe "
        f"`default` with {json.dumps(experiment['base'])}:",
        "",
        *[f"- {r['label']}: `{json.dumps(r['overrides'])}`" for r in search_rows],
        "",
        table(name, experiment, search_rows),
        "",
        f"![grid]({name}.jpg)",
    ]
    labels = list(dict.fromkeys(r["label"] for r in curve_rows))  # in the order they first ran
    for index, label in enumerate(labels):
        points = sorted(
            (r for r in curve_rows if r["label"] == label), key=lambda r: r["images_seen"]
        )
        text += ["", f"## Curve: {label}", "", table(name, experiment, points, curve=True)]
        score = experiment.get("score", ("fid", "fid"))
        path = docs / (f"{name}-curve.png" if index == 0 else f"{name}-curve-{index + 1}.png")
        text += ["", curve_plot(name, points, score, path, args.target)]
    (docs / f"{name}.md").write_text("\n".join(text) + "\n")
    face_grid(experiment, search_rows, docs / f"{name}.jpg", args)


def curve_plot(
    name: str, rows: list[dict], score: tuple[str, str], path: Path, target: float | None
) -> str:
    """A score (FID unless the experiment says) against images seen (log scale), with a
    straight-line fit in log(images) through the points, extended to ``target`` when given;
    returns the Markdown that shows and reads it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    images = np.array([r["images_seen"] for r in rows], dtype=float)
    metric, key = score
    name_of_score = metric if key == metric else f"{metric} {key}"
    values = np.array([r["results"][metric][key] for r in rows])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(images, values, "o-", label="measured")
    reach = None
    fitted = len(rows) >= 2  # the first stage of a curve has nothing to fit yet
    if fitted:
        slope, intercept = np.polyfit(np.log10(images), values, 1)
    # the fit is extended only to a target not yet reached that it heads towards: down for
    # FID, up for scores
    lower_is_better = metric in LOWER_IS_BETTER
    ahead = target is not None and (values[-1] > target if lower_is_better else values[-1] < target)
    if fitted and ahead and slope * (target - values[-1]) > 0:
        reach = 10 ** ((target - intercept) / slope)
        xs = np.logspace(np.log10(images[0]), np.log10(max(reach, images[-1])), 50)
        ax.plot(xs, slope * np.log10(xs) + intercept, "--", label="fit, extended")
    if target is not None:
        ax.axhline(target, color="grey", lw=0.8, label=f"target {target:g}")
    ax.set_xscale("log")
    ax.set_xlabel("training images seen")
    ax.set_ylabel(f"{name_of_score} (n={rows[0]['n']})")
    ax.set_title(f"{name}: {rows[0]['label']}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    line = f"![curve]({path.name})"
    if fitted:
        line += f"\n\nFit: {name_of_score} = {intercept:.4g} {slope:+.3g} x log10(images)."
    if target is not None and not ahead:
        line += f" The last point is already at or past the target {target:g}."
    if reach is not None:
        line += (
            f" Extended, it reaches {target:g} at about {reach:,.0f} images seen; a straight "
            "line in log(images) is a rough guide, not a promise."
        )
    return line


def load_rows(out: Path) -> list[dict]:
    path = out / "results.json"
    return json.loads(path.read_text()) if path.exists() else []


def add_row(out: Path, row: dict) -> list[dict]:
    """Adds ``row`` to results.json, replacing the row of the same candidate (and, for curves,
    the same images seen). Read, changed and written under a lock at that moment, so several
    workers may share ``--out`` (a search and a curve side by side on a two-core machine)."""
    from filelock import FileLock

    def same(r: dict) -> bool:
        if bool(r.get("curve")) != bool(row.get("curve")) or r["label"] != row["label"]:
            return False
        return not row.get("curve") or r["images_seen"] == row["images_seen"]

    with FileLock(str(out / ".results.lock")):
        rows = [r for r in load_rows(out) if not same(r)] + [row]
        tmp = out / "results.json.tmp"
        tmp.write_text(json.dumps(rows, indent=2))
        tmp.replace(out / "results.json")
    return rows


def run_search(name: str, experiment: dict, args, out: Path) -> list[dict]:
    rows = load_rows(out)
    candidates = experiment["candidates"]
    labels = [s.strip() for s in args.only.split(",")] if args.only else list(candidates)
    first = merge(experiment["base"], next(iter(candidates.values())))
    budget_flops = args.budget * flops_per_image(experiment["model"], first, *_domains(experiment))
    for label in labels:
        overrides = merge(experiment["base"], candidates[label])
        cost = flops_per_image(experiment["model"], overrides, *_domains(experiment))
        images = int(budget_flops / cost)
        print(f"{label}: {cost / 1e9:.2f} GFLOP/image, {images} images", flush=True)
        row = train_and_score(
            label, overrides, images, experiment, args, out / "runs" / slug(label)
        )
        row["gflop_per_image"] = round(cost / 1e9, 3)
        rows = add_row(out, row)
        print(json.dumps(row["results"]), flush=True)
    return rows


def run_curve(name: str, experiment: dict, args, out: Path) -> list[dict]:
    rows = load_rows(out)
    label = args.curve
    overrides = merge(experiment["base"], experiment["candidates"][label])
    run_dir = out / "runs" / f"curve-{slug(label)}"
    for point in (int(p) for p in args.points.split(",")):
        row = train_and_score(label, overrides, point, experiment, args, run_dir)
        row["curve"] = True
        rows = add_row(out, row)
        print(f"{row['images_seen']}: {json.dumps(row['results'])}", flush=True)
    return rows


def _domains(experiment: dict) -> tuple[str, str | None]:
    return experiment["data"], experiment["source"]


def slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label).strip("-").replace("--", "-")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=sorted(EXPERIMENTS))
    parser.add_argument("--budget", type=int, default=6400, help="images of the first candidate")
    parser.add_argument("--only", help="comma-separated candidate labels (default: all)")
    parser.add_argument("--curve", help="train this candidate in stages and score each")
    parser.add_argument("--points", default="6400,12800,25600", help="images at each stage")
    parser.add_argument("--n", type=int, default=1000, help="generated images scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=None, help="default: results/search/EXPERIMENT")
    parser.add_argument("--docs", default=str(Path(__file__).parent.parent / "docs" / "search"))
    parser.add_argument("--docs-only", action="store_true", help="rewrite the table and grid")
    parser.add_argument(
        "--target", type=float, help="where the curve's fit is extended to (its score's units)"
    )
    args = parser.parse_args()
    experiment = EXPERIMENTS[args.experiment]
    out = Path(args.out or f"results/search/{args.experiment}")
    out.mkdir(parents=True, exist_ok=True)
    if args.docs_only:
        rows = load_rows(out)
    elif args.curve:
        rows = run_curve(args.experiment, experiment, args, out)
    else:
        rows = run_search(args.experiment, experiment, args, out)
    write_docs(args.experiment, experiment, rows, args)


if __name__ == "__main__":
    main()
