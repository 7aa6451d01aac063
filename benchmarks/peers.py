"""ganzoo's translators beside the reference implementations, on the same data and CPU-seconds.

The references are taesungp/contrastive-unpaired-translation's CUT, FastCUT and CycleGAN (that
repository carries a copy of junyanz's CycleGAN). Bring it in at run time and pass its path; its
code never enters this repository:

    GANZOO_DATA=../shared/data python benchmarks/peers.py --ref PATH/TO/CUT-CHECKOUT
    python benchmarks/peers.py --ref ... --systems cut,improved --seconds 400,800,1200
    python benchmarks/peers.py --docs-only

A ganzoo system run again with a longer ``--seconds`` list keeps its points and resumes its run
from the last of them; a reference system trains again from the start. ``NAME@K`` is system NAME's
K-th run, in a folder of its own, to tell run-to-run noise from a real gap (a ganzoo system's K-th
run uses seed K-1; the references are not seeded):

    python benchmarks/peers.py --ref ... --systems fastcut@2 --seconds 1600,3200

Each point records the CPU it was measured on (``this_machine``); a ganzoo system's curve is not
extended on a different one, since a CPU-second buys different work on each.

Every system trains on one thread (``OMP_NUM_THREADS=1``, no data-loader workers) on CelebA ->
anime at 64x64: the references read the very 64x64 images ganzoo trains on, exported once as PNG
(``--load_size 64 --crop_size 64``, their default flips). Each is stopped at the CPU-seconds in
``--seconds`` (the training process's own user+system time, so a neighbour on the other core does
not count) and its generator translates, at each point, the same 1,000 CelebA faces that
``ganzoo eval`` draws (seed 0); those translations are scored with ``ganzoo.evaluate`` against
the same 1,000 anime faces. The translation's own CPU time is not counted as training.

Local patch (not in the reference's files): in that repository ``CycleGANModel
.data_dependent_initialize`` takes no ``data`` argument, which its ``train.py`` passes; the
launcher below gives it one, as a no-op, before running ``train.py``. Its ``backward_G`` also
reads ``opt.amp``, an option that repository's parser does not define: the launcher sets it to
False (no mixed precision, as on any CPU run).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
FACES = 8  # faces in every grid: the same as benchmarks/search.py's
N_EVAL = 1000

# the reference systems: their train.py options on top of the shared ones
REFERENCES = {
    "cut": ["--model", "cut"],
    "fastcut": [
        "--model",
        "cut",
        "--nce_idt",
        "False",
        "--lambda_NCE",
        "10",
        "--flip_equivariance",
        "True",
    ],
    "cyclegan": ["--model", "cycle_gan"],
}
# ganzoo systems: a translator model, its recipe (default: "default") and overrides, at 64x64
GANZOO = {
    "improved": {"model": "improved", "overrides": {"size": 64}},
    "improved+ema": {"model": "improved", "overrides": {"size": 64, "ema": 0.999}},
    "ganzoo-cut": {"model": "cut", "overrides": {"size": 64}},
    "ganzoo-fastcut": {"model": "cut", "recipe": "fast", "overrides": {"size": 64}},
    # the same at the reference's own batch 1 and 9 residual blocks
    "ganzoo-fastcut-b1": {
        "model": "cut",
        "recipe": "fast",
        "overrides": {"size": 64, "batch_size": 1, "generator_args": {"width": 64, "blocks": 9}},
    },
    # and with the reference's remaining choices: blurred resampling in both networks, flip
    # equivariance and randomly mirrored training images
    "ganzoo-fastcut-ref": {"model": "cut", "recipe": "fast-reference", "overrides": {"size": 64}},
    # and PatchNCE on the reference's own layers (--nce_layers 0,4,8,12,16)
    "ganzoo-fastcut-ref-layers": {
        "model": "cut",
        "recipe": "fast-reference",
        "overrides": {
            "size": 64,
            "generator_args": {
                "width": 64,
                "blocks": 9,
                "antialias": True,
                "nce_layers": "reference",
            },
        },
    },
}
# and with generator EMA 0.999, which changes what is exported, not what is trained: each point
# is scored twice, with the average and (NAME.trained) with the checkpoint's trained weights
GANZOO["ganzoo-fastcut-ref-layers-ema"] = {
    **GANZOO["ganzoo-fastcut-ref-layers"],
    "overrides": {**GANZOO["ganzoo-fastcut-ref-layers"]["overrides"], "ema": 0.999},
}
SHARED = [
    "--gpu_ids",
    "-1",
    "--display_id",
    "-1",
    "--load_size",
    "64",
    "--crop_size",
    "64",
    "--num_threads",
    "0",
    "--display_freq",
    "100000000",
    "--print_freq",
    "2000",
    "--save_latest_freq",
    "100000000",
    "--save_epoch_freq",
    "100000",
]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def export_data(out: Path) -> Path:
    """trainA (CelebA) and trainB (anime) as 64x64 PNGs, the images ganzoo trains on, and
    eval.pt: the 1,000 CelebA faces ganzoo eval translates and the grid's 8 faces."""
    import numpy as np
    import torch
    from PIL import Image

    from ganzoo.data import open_domains
    from ganzoo.evaluate import draw_source, load_images

    root = out / "data"
    if (root / "eval.pt").exists():
        return root
    domains = open_domains("anime", ("source", "target"), (64, 64), source="celeba")
    for folder, role in (("trainA", "source"), ("trainB", "target")):
        (root / folder).mkdir(parents=True, exist_ok=True)
        dataset = domains[role]
        for start in range(0, len(dataset), 500):
            indices = np.arange(start, min(start + 500, len(dataset)))
            for i, image in zip(indices, load_images(dataset, indices), strict=True):
                Image.fromarray(image.permute(1, 2, 0).numpy()).save(root / folder / f"{i:05d}.png")
    source = domains["source"]
    eval_faces = load_images(source, draw_source(source, N_EVAL, seed=0))
    grid_faces = load_images(source, np.linspace(0, len(source) - 1, FACES).astype(int))
    torch.save({"eval": eval_faces, "grid": grid_faces}, root / "eval.pt")
    return root


LAUNCHER = r"""
import json, os, runpy, sys, time
from pathlib import Path
import torch
ref, points, out, eval_file = sys.argv[1], json.loads(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
machine = sys.argv[5]
sys.argv = [str(Path(ref) / "train.py"), *sys.argv[6:]]
sys.path.insert(0, ref)
import models
from models import cycle_gan_model
# the local patch the module docstring of benchmarks/peers.py describes
cycle_gan_model.CycleGANModel.data_dependent_initialize = lambda self, data=None: None
faces = torch.load(eval_file)
images = [0]
excluded = [0.0]  # CPU seconds not counted as training: start-up and translating

def translate(net, uint8):
    out = []
    with torch.no_grad():
        for chunk in uint8.split(50):
            out.append(((net(chunk.float() / 127.5 - 1) + 1) * 127.5).clamp(0, 255).round().byte())
    return torch.cat(out)

def checkpoint(model, seconds):
    started = time.process_time()
    net = getattr(model, "netG", None) or model.netG_A
    folder = out / f"cpu{seconds}"
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"eval": translate(net, faces["eval"]), "grid": translate(net, faces["grid"])},
               folder / "translations.pt")
    (folder / "point.json").write_text(json.dumps(
        {"cpu_seconds": seconds, "images_seen": images[0], "wall": time.time(),
         "machine": machine}))
    excluded[0] += time.process_time() - started

create = models.create_model
def create_model(opt):
    opt.amp = getattr(opt, "amp", False)  # the second local patch (module docstring)
    model = create(opt)
    optimize = model.optimize_parameters
    pending = list(points)
    def optimize_parameters():
        if not images[0]:  # the clock starts at the first step: start-up is not training
            excluded[0] = time.process_time()
        optimize()
        images[0] += model.real_A.shape[0]
        trained = time.process_time() - excluded[0]
        while pending and trained >= pending[0]:
            checkpoint(model, pending.pop(0))
        if not pending:
            sys.exit(0)
    model.optimize_parameters = optimize_parameters
    return model
models.create_model = create_model
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def base_and_seed(name: str) -> tuple[str, int]:
    """``NAME@K``, the K-th run of system NAME, as (NAME, K - 1); a plain NAME is its first run."""
    base, _, repeat = name.partition("@")
    if repeat and not (repeat.isdigit() and int(repeat) >= 1):
        sys.exit(f"error: {name!r}: the run after '@' must be a whole number from 1")
    return base, int(repeat or 1) - 1


def train_reference(name: str, ref: Path, data: Path, points: list[int], out: Path) -> None:
    folder = out / name
    folder.mkdir(parents=True, exist_ok=True)
    base = base_and_seed(name)[0]
    args = [*SHARED, *REFERENCES[base], "--dataroot", str(data), "--name", base]
    args += ["--checkpoints_dir", str(folder / "checkpoints")]
    command = [sys.executable, "-c", LAUNCHER, str(ref), json.dumps(points), str(folder)]
    command += [str(data / "eval.pt"), this_machine(), *args]
    env = {**os.environ, **ONE_THREAD}
    with open(folder / "train.log", "w") as log:
        subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


DOMAINS = ("anime", "celeba")  # (target, source) of every ganzoo system


def train_ganzoo(name: str, data: Path, points: list[int], out: Path) -> None:
    """A ganzoo translator, trained in stages of about ``points`` CPU-seconds: a probe of
    its speed sets the steps of each stage, and each stage resumes the last. Points already
    there are kept, and a longer one resumes the run from the last of them."""
    import torch

    import ganzoo

    torch.set_num_threads(1)
    base, seed = base_and_seed(name)
    system = {**GANZOO[base], "seed": seed}
    folder = out / name
    faces = torch.load(data / "eval.pt")
    recipe = system.get("recipe", "default")
    batch = int(ganzoo.create(system["model"], recipe, **system["overrides"]).recipe["batch_size"])
    done = {
        int(p.parent.name[3:]): json.loads(p.read_text()) for p in folder.glob("cpu*/point.json")
    }
    check_same_machine(name, done.values())
    last = max(done.values(), key=seconds_of, default={"cpu_seconds": 0, "images_seen": 0})
    trained, steps = float(last["cpu_seconds"]), last["images_seen"] // batch
    rate = steps / trained if steps else None
    for seconds in (p for p in points if p not in done and p > trained):
        # steps for the remaining seconds at the rate measured so far (first stage: a probe)
        todo = 20 if rate is None else max(1, round((seconds - trained) * rate))
        while True:
            trained += train_stage(system, recipe, folder / "run", steps, todo)
            steps += todo
            rate = steps / trained
            if trained >= seconds * 0.98:
                break
            todo = max(1, round((seconds - trained) * rate))
        model = ganzoo.load(str(folder / "run"), device="cpu")
        row = {"cpu_seconds": round(trained), "images_seen": steps * batch}
        save_point(folder / f"cpu{seconds}", model, faces, row)
        if system["overrides"].get("ema"):  # and the weights trained, not their average
            load_trained_weights(model, folder / "run")
            save_point(out / f"{name}{TRAINED}" / f"cpu{seconds}", model, faces, row)


TRAINED = ".trained"  # beside an EMA system's folder: the same points, scored without the EMA


def save_point(point: Path, model, faces: dict, row: dict) -> None:
    """A point's translations of the eval and grid faces, and its point.json."""
    import torch

    point.mkdir(parents=True, exist_ok=True)
    translations = {
        key: (model.translate(images.float() / 255) * 255).round().byte()
        for key, images in faces.items()
    }
    torch.save(translations, point / "translations.pt")
    row = {**row, "wall": time.time(), "machine": this_machine()}
    (point / "point.json").write_text(json.dumps(row))


def load_trained_weights(model, run_dir: Path) -> None:
    """Puts the last checkpoint's trained weights in place of the EMA ones ``ganzoo.load``
    gave each exported network."""
    from safetensors.torch import load_file

    from ganzoo.io.checkpoints import list_checkpoints

    state = load_file(str(list_checkpoints(run_dir)[-1][1]))
    for net_name, net in model.exported().items():
        prefix = f"model/{net_name}."
        net.load_state_dict(
            {k.removeprefix(prefix): v for k, v in state.items() if k.startswith(prefix)}
        )


def this_machine() -> str:
    """The CPU a point's seconds were measured on: its model and the widest vector instructions
    PyTorch uses there. A CPU-second on an AVX2-only EPYC trains about a fifth of what one on
    an AVX512 EPYC did (docs/peers), so curves from two machines must not be joined."""
    import platform

    import torch

    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    model = names[0] if names else platform.processor() or "unknown CPU"
    return f"{model}, {torch.backends.cpu.get_cpu_capability()}"


def check_same_machine(name: str, points) -> None:
    """One line, not a curve that silently joins two machines' CPU-seconds."""
    here = this_machine()
    for point in points:
        if point.get("machine", here) != here:
            sys.exit(
                f"error: {name}'s points were measured on {point['machine']}, and this machine "
                f"is {here}; CPU-seconds differ between machines: use another --out"
            )


def train_stage(system: dict, recipe: str, run_dir: Path, steps: int, todo: int) -> float:
    """``todo`` more steps of the run in ``run_dir`` (a new run when ``steps`` is 0); returns
    the CPU-seconds they took."""
    from ganzoo.training.train import TrainOptions, train

    target, source = DOMAINS
    started = time.process_time()
    train(
        TrainOptions(
            model=system["model"],
            recipe=recipe,
            data=target,
            source=source,
            out=None if steps else str(run_dir),
            resume=str(run_dir) if steps else None,
            seed=system["seed"],
            quiet=True,
            threads=1,
            overrides={**system["overrides"], "steps": todo}
            if not steps
            else {"steps": steps + todo},
        )
    )
    return time.process_time() - started


def score(out: Path, name: str) -> list[dict]:
    """FID and KID of every point of one system (cached in its point.json)."""
    import torch
    from PIL import Image

    from ganzoo.evaluate import evaluate

    rows = []
    for point in sorted((out / name).glob("cpu*/point.json"), key=lambda p: int(p.parent.name[3:])):
        row = json.loads(point.read_text())
        if "fid" not in row:
            folder = point.parent / "eval"
            folder.mkdir(exist_ok=True)
            for i, image in enumerate(torch.load(point.parent / "translations.pt")["eval"]):
                Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:04d}.png")
            results = evaluate(str(folder), "anime", ["fid", "kid"], n=N_EVAL, size=(64, 64))
            values = {r.name: r.values for r in results}
            row.update(fid=values["fid"]["fid"], kid=values["kid"]["kid"], n=N_EVAL)
            point.write_text(json.dumps(row))
        rows.append({"system": name, **row, "point": point.parent.name})
    return rows


def write_report(rows: list[dict], out: Path, docs: Path) -> None:
    """docs/peers/README.md's table, FID and KID against CPU-seconds, and the 8-face grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    docs.mkdir(parents=True, exist_ok=True)
    systems = list(dict.fromkeys(r["system"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key in zip(axes, ("fid", "kid"), strict=True):
        for name in systems:
            mine = [r for r in rows if r["system"] == name]
            ax.plot([r["cpu_seconds"] for r in mine], [r[key] for r in mine], "o-", label=name)
        ax.set_xlabel("training CPU-seconds (one thread)")
        ax.set_ylabel(f"{key.upper()} (n={N_EVAL})")
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(docs / "peers-curve.png", dpi=100)
    plt.close(fig)
    lines = ["| system | CPU-seconds | images seen | FID | KID |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['system']} | {r['cpu_seconds']} | {r['images_seen']:,} | {r['fid']:.1f} | "
        f"{r['kid']:.4f} |"
        for r in rows
    ]
    lines += ["", machines_line(rows)]
    (docs / "README.md").write_text(report_text(lines))
    last_points = [max((r for r in rows if r["system"] == s), key=seconds_of) for s in systems]
    face_grid(out, last_points, docs / "peers-grid.jpg")
    print("\n".join(lines))


def machines_line(rows: list[dict]) -> str:
    """Which CPU each system's seconds were measured on (points from before it was recorded:
    "not recorded")."""
    machines: dict[str, list[str]] = {}
    for row in rows:
        systems = machines.setdefault(row.get("machine", "not recorded"), [])
        if row["system"] not in systems:
            systems.append(row["system"])
    return "Machines: " + "; ".join(f"{m}: {', '.join(s)}" for m, s in machines.items()) + "."


def seconds_of(row: dict) -> int:
    return row["cpu_seconds"]


def face_grid(out: Path, rows: list[dict], path: Path) -> None:
    """The grid's 8 CelebA faces on top, then each row's translations of them."""
    import torch
    from PIL import Image, ImageDraw

    from ganzoo.io.images import grid_image

    strips = [torch.load(out / "data" / "eval.pt")["grid"]]
    strips += [torch.load(out / r["system"] / r["point"] / "translations.pt")["grid"] for r in rows]
    grid = grid_image(torch.cat(strips).float() / 255, nrow=FACES, scale=2)
    image = Image.fromarray(grid.permute(1, 2, 0).numpy())
    canvas = Image.new("RGB", (image.width + 160, image.height), "white")
    canvas.paste(image, (160, 0))
    draw = ImageDraw.Draw(canvas)
    step = image.height / len(strips)
    names = ["celeba (input)"] + [f"{r['system']} @{r['cpu_seconds']}s" for r in rows]
    for i, name in enumerate(names):
        draw.text((6, int(i * step + step / 2) - 6), name, fill="black")
    canvas.save(path, quality=90)


def report_text(table: list[str]) -> str:
    """The page around the table: what ran, how it was measured, where the pictures are."""
    head = [
        "# ganzoo's translators beside the reference implementations",
        "",
        "Written by `GANZOO_DATA=../shared/data python benchmarks/peers.py --ref "
        "PATH/contrastive-unpaired-translation` (taesungp/contrastive-unpaired-translation, "
        "fetched at run time; its code is not in this repository). CelebA -> anime at 64x64, "
        "the same images for every system; one thread each; CPU-seconds are the training "
        "process's own user+system time from its first step (start-up and the translations "
        f"for scoring not counted). FID and KID at n={N_EVAL}: the same {N_EVAL} CelebA faces "
        f"translated, against the same {N_EVAL} anime faces (`ganzoo.evaluate`, seed 0). The "
        "references run their own defaults (ResNet-9-block generator, width 64, batch 1, "
        "Adam 2e-4); ganzoo's `improved` its default recipe at `--size 64`, and `ganzoo-cut` "
        "and `ganzoo-fastcut` the `cut` plugin's `default` and `fast` recipes (the same ideas "
        "in ganzoo: a ResNet generator of 6 blocks at width 64, batch 8, Adam 2e-4); "
        "`ganzoo-fastcut-b1` is `fast` at the reference's batch 1 and 9 blocks, and "
        "`ganzoo-fastcut-ref` (the recipe `fast-reference`) that with the reference's blurred "
        "resampling, flip equivariance and mirrored training images as well, and "
        "`ganzoo-fastcut-ref-layers` that with PatchNCE on the reference's own layers, and "
        "`ganzoo-fastcut-ref-layers-ema` that with generator EMA 0.999 (its `.trained` rows "
        "score the same checkpoints' trained weights, without the average). `NAME@2` is a "
        "second run of system NAME from the start (ganzoo's with seed 1). CPU-seconds compare "
        "only within one machine (the line under the table).",
        "",
        "Local patches, applied by the benchmark's launcher and not to the reference's files: "
        "`CycleGANModel.data_dependent_initialize` takes the `data` argument its `train.py` "
        "passes (as a no-op), and `opt.amp`, which its `backward_G` reads but its parser does "
        "not define, is set to False.",
        "",
        *table,
        "",
        "![FID and KID against CPU-seconds](peers-curve.png)",
        "",
        "The same 8 CelebA faces, translated by each system at its last point:",
        "",
        "![grid](peers-grid.jpg)",
        "",
    ]
    return "\n".join(head)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", type=Path, help="a checkout of contrastive-unpaired-translation")
    parser.add_argument("--systems", default="cut,fastcut,cyclegan,improved")
    parser.add_argument("--seconds", default="400,800,1200", help="CPU-seconds at each point")
    parser.add_argument("--out", type=Path, default=Path("results/peers"))
    parser.add_argument("--docs", type=Path, default=HERE.parent / "docs" / "peers")
    parser.add_argument("--docs-only", action="store_true", help="score and write the docs only")
    args = parser.parse_args()
    systems = [s.strip() for s in args.systems.split(",")]
    unknown = [s for s in systems if base_and_seed(s)[0] not in {*REFERENCES, *GANZOO}]
    if unknown:
        sys.exit(
            f"error: unknown system {unknown[0]!r}; known: {', '.join([*REFERENCES, *GANZOO])}"
        )
    points = [int(s) for s in args.seconds.split(",")]
    if not args.docs_only:
        data = export_data(args.out)
        for name in systems:
            if all((args.out / name / f"cpu{p}" / "point.json").exists() for p in points):
                print(f"{name}: every point is there; not trained again", flush=True)
            elif base_and_seed(name)[0] in REFERENCES:
                if args.ref is None or not (args.ref / "train.py").exists():
                    sys.exit(
                        "error: --ref must name a checkout of contrastive-unpaired-translation"
                    )
                train_reference(name, args.ref, data, points, args.out)
            else:
                train_ganzoo(name, data, points, args.out)
            for scored in (name, name + TRAINED):
                if (args.out / scored).is_dir():
                    print(json.dumps(score(args.out, scored)), flush=True)
    names = [n for s in systems for n in (s, s + TRAINED) if (args.out / n).is_dir()]
    rows = [row for name in names for row in score(args.out, name)]
    write_report(rows, args.out, args.docs)


if __name__ == "__main__":
    main()
