"""improved-anime on a lent GPU (issue 25, item 6): train there in one device call, score here.

A device call sends the working tree, 64 MiB at most. The six zoo weights alone are 56 MB and
the two datasets 113 MB, so the call travels without the weights (they stay on disk) and with a
64x64 copy of the data that fits in what is left. The steps, from the repository's root:

    GANZOO_DATA=../shared/data python benchmarks/device_run.py pack   # .device/: data at 64x64
    python benchmarks/device_run.py slim      # the zoo weights out of git's index, for the call
    # the device tool's run, with carry [".device"] and timeout_s 600:
    #   PYTHONUNBUFFERED=1 python3 benchmarks/device_run.py train --out $OUT --minutes 8
    python benchmarks/device_run.py restore   # the weights back: run it even if the call failed
    GANZOO_DATA=../shared/data python benchmarks/device_run.py score FILES_AT

``train`` needs no install: the device's Python has torch but no build backend, so the source
tree is made importable with a minimal ``.dist-info`` per distribution (its entry points are what
the registry reads). It trains `improved-anime`'s recipe in stages, sized by a timed warm-up to
fill ``--minutes``, and after each stage writes a zoo entry (fp16, `make_zoo_entry`) as one
.tar under $OUT: at most 8 files of 16 MiB come back. ``score`` gives each entry FID and KID at
n=1,000 on the same faces as docs/search/translator-anime.md, beside the bundled entry's, and a
grid of the same 8 faces translated by each.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKED = ROOT / ".device"
LIMIT = 64 * 2**20  # what one device call may send
ENTRY_SECONDS = 10  # writing one entry: loading it back, fp16, sha256, tar
EXCLUDE_MARK = "# device_run.py slim"
ZOO_WEIGHTS = "*/zoo/*/model.safetensors"
DATASETS = {"anime": 80, "celeba": 90}  # JPEG quality of the 64x64 copies: both fit the limit
# improved-anime's recipe (its config.json); the batch is a flag, since a GPU wants larger ones
ENTRY_RECIPE = {
    "size": 64,
    "checkpoint_every": 10**9,  # one checkpoint a stage, at its end: disk time is GPU time
    "generator_args": {"width": 32, "stem_skip": True},
    "discriminator_args": {"width": 32},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("pack", help="write .device/: the datasets at 64x64")
    sub.add_parser("slim", help="leave the zoo weights out of git's index for a device call")
    sub.add_parser("restore", help="put the zoo weights back into git's index")
    train = sub.add_parser("train", help="on the device: train in stages, entries into --out")
    train.add_argument("--out", required=True, help="where the entries go ($OUT)")
    train.add_argument("--minutes", type=float, default=8.0, help="training time, all stages")
    train.add_argument("--batch-size", type=int, default=32)
    # 14 MB an entry at width 32: four fill the 64 MiB a call brings back
    train.add_argument("--stages", type=int, default=4, choices=range(1, 5), help="entries")
    train.add_argument("--warmup", type=int, default=200, help="steps before the timed ones")
    train.add_argument("--device", default="auto")
    train.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--set", action="append", default=[], help="KEY=VALUE, as `ganzoo run --set`"
    )
    score = sub.add_parser("score", help="here: FID and KID of each entry brought back")
    score.add_argument("folder", help="the device call's files_at")
    score.add_argument("-n", type=int, default=1000)
    score.add_argument("--grid", default="runs/device-grid.jpg", help="the 8 faces, translated")
    args = parser.parse_args(argv)
    commands = {
        "pack": pack,
        "slim": slim,
        "restore": restore,
        "train": train_stages,
        "score": score_entries,
    }
    if args.command == "train":  # the device has no install of ganzoo: the checkout is one
        importable_source_tree(Path(tempfile.mkdtemp(prefix="ganzoo-site-")))
    from ganzoo.errors import GanzooError

    try:
        return commands[args.command](args)
    except GanzooError as exc:
        return fail(str(exc))


# ---------------------------------------------------------------------------------------------
# here, before and after the call


def pack(args) -> int:
    """The named datasets' training images, cropped and resized as training does, as JPEGs in
    .device/data/<folder>/ (the layout GANZOO_DATA expects): the device trains on what this
    machine would, up to JPEG's loss."""
    from PIL import Image

    from ganzoo.data.images import Unusable, decode
    from ganzoo.data.real import dataset_spec, locate

    for name, quality in DATASETS.items():
        spec = dataset_spec(name)
        target = PACKED / "data" / spec["folder"]
        target.mkdir(parents=True, exist_ok=True)
        source = locate(name, download=False).images()
        start = 0
        for count, read in source.chunks(1000):
            for file_name, data in zip(source.names[start : start + count], read(), strict=True):
                if isinstance(data, Unusable):
                    continue  # training skips it too
                pixels, _ = decode(data, (64, 64), spec["crop"])
                out = target / (Path(file_name).stem + ".jpg")
                Image.fromarray(pixels.transpose(1, 2, 0)).save(out, quality=quality)
            start += count
        print(f"{name}: {len(source)} images in {target}", flush=True)
    sizes = travelling_sizes(without_weights=True)
    print(f"a call without the zoo weights sends {mib(sum(sizes.values()))} of {mib(LIMIT)}")
    return 0 if sum(sizes.values()) <= LIMIT else fail("too large: lower the JPEG qualities")


def zoo_weights(tracked: bool = True) -> list[str]:
    """The zoo's weights in git's index, or (after ``slim``) those out of it."""
    return git("ls-files", *([] if tracked else ["--others"]), "--", ZOO_WEIGHTS).split()


def travelling_sizes(without_weights: bool = False) -> dict[str, int]:
    """What a device call would send: tracked and untracked-not-ignored files, and .device/."""
    files = {ROOT / f for f in git("ls-files", "-co", "--exclude-standard").splitlines()}
    if without_weights:
        files -= {ROOT / f for f in zoo_weights()}
    files |= {p for p in PACKED.rglob("*") if p.is_file()}
    return {str(f): f.stat().st_size for f in files if f.is_file()}


def slim(args) -> int:
    weights = zoo_weights()
    if not weights:
        return fail("no zoo weights in git's index: run restore first")
    git("rm", "-r", "-q", "--cached", "--", *weights)
    exclude = ROOT / ".git" / "info" / "exclude"
    # git reads no trailing comments: the mark is the line just above each path
    with exclude.open("a") as file:
        file.write("".join(f"{EXCLUDE_MARK}\n/{w}\n" for w in weights))
    total = sum(travelling_sizes().values())
    print(f"{len(weights)} zoo weights left out of the index; a call sends {mib(total)}")
    print("after the call, run: python benchmarks/device_run.py restore")
    return 0 if total <= LIMIT else fail(f"still over {mib(LIMIT)}: run pack, or carry less")


def restore(args) -> int:
    exclude = ROOT / ".git" / "info" / "exclude"
    lines = iter(exclude.read_text().splitlines(keepends=True) if exclude.is_file() else [])
    kept = []
    for line in lines:
        if line.strip() == EXCLUDE_MARK:
            next(lines, None)  # the path it marks
        else:
            kept.append(line)
    exclude.write_text("".join(kept))
    weights = zoo_weights(tracked=False)
    if weights:
        git("add", "--", *weights)
    print(f"{len(weights)} zoo weights back in the index; `git status` shows them unchanged")
    return 0


def score_entries(args) -> int:
    """FID and KID of the bundled entry and of each entry brought back, on the same faces, and
    a grid of the same 8 CelebA faces translated by each (search.py's)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import search

    tars = sorted(
        Path(args.folder).glob("improved-anime-*.tar"), key=lambda p: int(p.stem.split("-")[-1])
    )
    if not tars:
        return fail(f"no entries (*.tar) in {args.folder}")
    print("| entry | images seen | FID | KID |\n|---|---|---|---|")
    score_row("improved-anime", "the bundled entry", args.n)
    rows = [{"run_dir": "improved-anime", "label": "improved-anime"}]
    with tempfile.TemporaryDirectory() as scratch:
        for path in tars:
            with tarfile.open(path) as archive:
                archive.extractall(scratch, filter="data")
            folder = Path(scratch) / path.stem
            config = json.loads((folder / "config.json").read_text())
            seen = config["training"]["step"] * config["recipe"]["batch_size"]
            score_row(str(folder), path.name, args.n, f"{seen:,}")
            rows.append({"run_dir": str(folder), "label": f"{seen:,} images"})
        experiment = search.EXPERIMENTS["translator-anime"]
        search.face_grid(experiment, rows, Path(args.grid), argparse.Namespace(seed=0))
    print(f"grid: {args.grid}")
    return 0


def score_row(model: str, label: str, n: int, seen: str = "") -> None:
    from ganzoo.evaluate import evaluate

    results = evaluate(model, "anime", ["fid", "kid"], n=n, seed=0, source_data="celeba",
                       update_card=False)  # fmt: skip
    values = {r.name: r.values for r in results}
    fid, kid = values["fid"]["fid"], values["kid"]["kid"]
    print(f"| {label} | {seen} | {fid:.1f} | {kid:.3f} |", flush=True)


def git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"error: git {' '.join(args[:2])}: {done.stderr.strip()}")
    return done.stdout


def mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"


def fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------------
# there


def importable_source_tree(site: Path) -> None:
    """ganzoo and its plugins importable from this checkout, entry points included, with no
    pip: a minimal .dist-info for each distribution, and each project folder on sys.path."""
    for project in [ROOT, *sorted(p.parent for p in ROOT.glob("plugins/*/pyproject.toml"))]:
        meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
        info = site / f"{meta['name'].replace('-', '_')}-{meta['version']}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {meta['name']}\nVersion: {meta['version']}\n"
        )
        groups = meta.get("entry-points", {})
        (info / "entry_points.txt").write_text(
            "".join(
                f"[{group}]\n" + "".join(f"{key} = {value}\n" for key, value in points.items())
                for group, points in groups.items()
            )
        )
        sys.path.insert(0, str(project))
    sys.path.insert(0, str(site))


def train_stages(args) -> int:
    """A cold stage (kernels chosen, data cached), two timed ones that give the speed and each
    stage's start-up, then ``--stages`` equal stages to fill ``--minutes``, each resumed from
    the last and written out as an entry."""
    scratch = Path(tempfile.mkdtemp(prefix="ganzoo-device-"))
    os.environ.setdefault("GANZOO_DATA", str(PACKED / "data"))
    import torch

    torch.backends.cudnn.benchmark = True  # one image size throughout: pick the fastest kernels
    from ganzoo.recipes import parse_assignments

    deadline = time.monotonic() + args.minutes * 60
    overrides = {**ENTRY_RECIPE, "batch_size": args.batch_size, **parse_assignments(args.set)}
    out, run_dir = Path(args.out), scratch / "run"
    out.mkdir(parents=True, exist_ok=True)

    def stage(steps: int) -> float:
        started = time.monotonic()
        train_to(run_dir, steps, overrides, args)
        return time.monotonic() - started

    w = args.warmup
    stage(w)
    once, twice = stage(2 * w), stage(4 * w)  # w, then 2w steps, each with one start-up
    rate = w / max(twice - once, 1e-3)  # steps per second
    startup = max(once - w / rate, 0.0)
    left = deadline - time.monotonic() - args.stages * (startup + ENTRY_SECONDS)
    total = 4 * w + max(int(rate * left), args.stages)
    print(
        f"{rate * args.batch_size:.0f} images/s, {startup:.0f} s a start-up: "
        f"training to step {total}",
        flush=True,
    )
    for k in range(1, args.stages + 1):
        steps = 4 * w + (total - 4 * w) * k // args.stages
        stage(steps)
        write_entry(run_dir, out, steps * args.batch_size)
    return 0


def train_to(run_dir: Path, steps: int, overrides: dict, args) -> None:
    from ganzoo.training.train import TrainOptions, train

    resume = run_dir.exists()
    options = TrainOptions(
        model="improved",
        data="anime",
        source="celeba",
        out=None if resume else str(run_dir),
        resume=str(run_dir) if resume else None,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        quiet=True,
        overrides={"steps": steps} if resume else {**overrides, "steps": steps},
    )
    train(options)


def write_entry(run_dir: Path, out: Path, images: int) -> None:
    """The run's export as a zoo entry (fp16), packed as one .tar: a folder of files would
    use up the 8 files a call brings back."""
    from ganzoo.hub.zoo_entry import make_zoo_entry

    name = f"improved-anime-{images}"  # the folder's; the card is the zoo entry's, ready to copy
    folder = make_zoo_entry(
        run_dir, "improved-anime", fp16=True, out=run_dir.parent / name, force=True
    )
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(folder, arcname=name)
    (out / f"{name}.tar").write_bytes(buffer.getvalue())
    print(f"{images} images: {out / name}.tar ({mib(len(buffer.getvalue()))})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
