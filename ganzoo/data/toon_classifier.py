"""A small CNN that reads the three toon attributes (hair colour, eye colour, hair style) from an
image in either style, to score generated images: how many of the 1,000 modes a model covers,
whether a translator keeps the attributes, and a Frechet distance on its features.

The shipped weights (``ganzoo/assets/toon_classifier.safetensors``) are reproduced on CPU by

    python -m ganzoo.data.toon_classifier train --out ganzoo/assets/toon_classifier.safetensors
    python -m ganzoo.data.toon_classifier evaluate

Training renders fresh images on the fly from a training seed; accuracy is measured on other
seeds, so held-out images are never seen. 1,000 steps of 128 images take about 3 minutes on two
idle CPU cores (torch.set_num_threads(2)), longer when other work shares them. Light blur,
resampling and noise are added in training because generated images are blurrier than rendered
ones.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.data.toon import ATTRIBUTES, ToonFaces
from ganzoo.errors import GanzooError

WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "toon_classifier.safetensors"
INPUT_SIZE = 64
CLASSES = 10  # per attribute
TRAIN_SEED_OFFSET = 1_000_003  # training images come from dataset seed offset + seed
HELD_OUT_SEED = 7  # a dataset seed that training never uses
BATCH = 256  # images per forward pass in predict / features


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ToonClassifier(nn.Module):
    """Predicts (hair_colour, eye_colour, hair_style) from a 64x64 image.

    A stride-2 stem keeps every pixel in view (eyes are only a few pixels wide in the photo style)
    while halving the cost; global average pooling makes it indifferent to where the face sits.
    """

    feature_dim = 128

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            _block(3, 32, 2),  # 32x32
            _block(32, 64, 2),  # 16x16
            _block(64, 128, 2),  # 8x8
            _block(128, 192, 2),  # 4x4
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(192, self.feature_dim),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(self.feature_dim, CLASSES * len(ATTRIBUTES))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, 3, 10]`` of images already prepared by ``prepare``."""
        return self.head(self.body(x)).view(-1, len(ATTRIBUTES), CLASSES)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """uint8 or [0, 1] float images ``[N, 3, H, W]`` to normalised float at 64x64: the central
        square, resized with bilinear antialiasing."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise GanzooError(f"expected images [N, 3, H, W], got {tuple(images.shape)}")
        x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
        h, w = x.shape[-2:]
        if h != w:  # toon centres the face in the shorter side: keep that square, undistorted
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            x = x[..., top : top + side, left : left + side]
        if x.shape[-2:] != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(
                x, (INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False
            )
        return (x - 0.5) / 0.25

    def _batched(self, images: torch.Tensor, fn) -> torch.Tensor:
        device = next(self.parameters()).device
        outs = []
        with torch.no_grad():
            for start in range(0, len(images), BATCH):
                outs.append(fn(self.prepare(images[start : start + BATCH].to(device))))
            if not outs:  # no images: still the right trailing shape
                outs.append(fn(torch.zeros(0, 3, INPUT_SIZE, INPUT_SIZE, device=device)))
        return torch.cat(outs)

    def predict(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The most likely value (0..9) of each attribute, as LongTensors ``[N]``."""
        labels = self._batched(images, lambda x: self(x).argmax(-1))
        return {name: labels[:, i] for i, name in enumerate(ATTRIBUTES)}

    def modes(self, images: torch.Tensor) -> torch.Tensor:
        """hair_colour * 100 + eye_colour * 10 + hair_style, in 0..999."""
        p = self.predict(images)
        return p["hair_colour"] * 100 + p["eye_colour"] * 10 + p["hair_style"]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Penultimate activations ``[N, 128]``, for a Frechet distance between image sets."""
        return self._batched(images, self.body)


def load_classifier(device: str | torch.device = "cpu", path: str | Path = WEIGHTS):
    """The classifier with the shipped weights, in eval mode."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise GanzooError(
            f"toon classifier weights not found at {path}; "
            "retrain with: python -m ganzoo.data.toon_classifier train"
        )
    model = ToonClassifier()
    model.load_state_dict(load_file(str(path)), strict=True)
    return model.eval().to(device)


# ---------------------------------------------------------------------------------------------
# training


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of the whole batch."""
    radius = max(1, int(round(2.5 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(t**2) / (2 * sigma**2))
    k = (k / k.sum()).to(x.dtype)
    c = x.shape[1]
    x = F.conv2d(
        F.pad(x, (radius, radius, 0, 0), mode="replicate"),
        k.view(1, 1, 1, -1).repeat(c, 1, 1, 1),
        groups=c,
    )
    return F.conv2d(
        F.pad(x, (0, 0, radius, radius), mode="replicate"),
        k.view(1, 1, -1, 1).repeat(c, 1, 1, 1),
        groups=c,
    )


def _training_batch(
    sets: dict[tuple[str, int], ToonFaces],
    rng: np.random.Generator,
    generator: torch.Generator,
    batch: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Half anime, half photo; a quarter rendered at another size and resampled to 64; then
    mild blur, a little brightness jitter and noise, as generated images have."""
    images, labels = [], []
    other = int(rng.choice([32, 40, 48, 56, 80, 96, 128]))
    for style in ("anime", "photo"):
        indices = rng.integers(0, len(sets[style, INPUT_SIZE]), batch // 2)
        split = batch // 8
        for size, part in ((other, indices[:split]), (INPUT_SIZE, indices[split:])):
            ds = sets[style, size]
            x = ds.render_batch(part).float() / 255
            if size != INPUT_SIZE:
                x = F.interpolate(
                    x,
                    (INPUT_SIZE, INPUT_SIZE),
                    mode="bilinear",
                    antialias=True,
                    align_corners=False,
                )
            images.append(x)
            labels.append(torch.from_numpy(ds.attribute_array(part)))
    x, y = torch.cat(images), torch.cat(labels)
    # blur a third of the batch, with one strength per step
    blurred = torch.tensor(rng.random(len(x)) < 1 / 3)
    x[blurred] = _blur(x[blurred], float(rng.uniform(0.4, 1.1)))
    gain = torch.tensor(rng.uniform(0.94, 1.06, (len(x), 1, 1, 1)), dtype=torch.float32)
    strength = torch.tensor(rng.uniform(0, 0.035, (len(x), 1, 1, 1)), dtype=torch.float32)
    noise = torch.randn(x.shape, generator=generator).mul_(strength)
    x = x.mul_(gain).add_(noise).clamp_(0.0, 1.0)
    return (x - 0.5) / 0.25, y


def accuracy(
    model: ToonClassifier, style: str, seed: int, count: int, size: int = INPUT_SIZE
) -> dict[str, float]:
    """Per-attribute accuracy on ``count`` clean images of one style and dataset seed."""
    ds = ToonFaces(style, (size, size), length=count, seed=seed)
    truth = torch.tensor(ds.attribute_array())
    predicted = model.predict(ds.render_batch(np.arange(count)))
    return {
        name: (predicted[name] == truth[:, i]).float().mean().item()
        for i, name in enumerate(ATTRIBUTES)
    }


def train(
    out: Path, seed: int = 0, steps: int = 1000, batch: int = 128, log=print
) -> ToonClassifier:
    """Trains from scratch, deterministically for a given seed on CPU, and saves the weights."""
    from safetensors.torch import save_file

    torch.set_num_threads(2)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    data_seed = TRAIN_SEED_OFFSET + seed
    sizes = (32, 40, 48, 56, INPUT_SIZE, 80, 96, 128)
    sets = {
        (style, s): ToonFaces(style, (s, s), length=1_000_000, seed=data_seed)
        for style in ("anime", "photo")
        for s in sizes
    }
    model = ToonClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, 3e-3, total_steps=steps, pct_start=0.15
    )
    start = time.perf_counter()
    model.train()
    for step in range(1, steps + 1):
        x, y = _training_batch(sets, rng, generator, batch)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, CLASSES), y.reshape(-1), label_smoothing=0.05)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 100 == 0 or step == steps:
            log(f"step {step}/{steps}  loss {loss.item():.4f}  {time.perf_counter() - start:.0f} s")
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out))
    size_mb = out.stat().st_size / 2**20
    log(f"trained in {time.perf_counter() - start:.0f} s; saved {out} ({size_mb:.2f} MiB)")
    return model


def report(model: ToonClassifier, seed: int, count: int, log=print) -> dict[str, dict[str, float]]:
    results = {}
    for style in ("anime", "photo"):
        results[style] = acc = accuracy(model, style, seed, count)
        figures = "  ".join(f"{name} {value:.4f}" for name, value in acc.items())
        log(f"held-out toon/{style} 64x64 (seed {seed}, {count} images): {figures}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ganzoo.data.toon_classifier", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train from scratch and save the weights")
    t.add_argument("--out", type=Path, default=WEIGHTS)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--steps", type=int, default=1000)
    t.add_argument("--batch", type=int, default=128)
    e = sub.add_parser("evaluate", help="held-out accuracy of saved weights")
    e.add_argument("--weights", type=Path, default=WEIGHTS)
    e.add_argument("--seed", type=int, default=HELD_OUT_SEED, help="dataset seed of the images")
    e.add_argument("--count", type=int, default=2000, help="images per style")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    try:
        if args.command == "train":
            model = train(args.out, args.seed, args.steps, args.batch)
            report(model, HELD_OUT_SEED, 2000)
        else:
            report(load_classifier(path=args.weights), args.seed, args.count)
    except GanzooError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
