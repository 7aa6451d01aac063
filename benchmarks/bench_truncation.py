"""FID, precision and recall of an unconditional model at several truncations (psi): what
``ganzoo sample --truncation PSI`` trades. Lower psi should raise precision (fidelity) and lower
recall (variety); FID says how the two balance.

    GANZOO_DATA=../shared/data python benchmarks/bench_truncation.py --out docs/truncation.md
    python benchmarks/bench_truncation.py --model dcgan-anime --data anime --n 10000 --psi 1,0.7

Each psi is one ``ganzoo eval`` (``ganzoo.evaluate``) with the model's ``sample`` set to that psi:
the same seeds, the same real images (their features are cached after the first psi) and the
same protocol as the zoo cards, so the psi = 1 row repeats the card's FID at the same n (the
``dcgan-anime`` card: 119.6 at n = 1000, seed 0).
"""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

import ganzoo
from ganzoo.evaluate import card_rows, evaluate

METRICS = "fid,precision,recall"


class Truncated:
    """A loaded model whose ``sample`` uses a fixed psi; everything else is the model's own."""

    def __init__(self, gan, psi: float):
        self.gan, self.psi = gan, psi

    def __getattr__(self, name: str):
        return getattr(self.gan, name)

    def sample(self, n: int, seed: int | None = None):
        return self.gan.sample(n, seed=seed, truncation=self.psi)


@contextlib.contextmanager
def loading_truncated(psi: float):
    """``ganzoo.load``, which ``evaluate`` calls, gives the model at ``psi`` meanwhile."""
    load = ganzoo.load
    ganzoo.load = lambda source, **kwargs: Truncated(load(source, **kwargs), psi)
    try:
        yield
    finally:
        ganzoo.load = load


def table(rows: list[tuple[float, dict[str, float]]], metrics: list[str], header: str) -> str:
    lines = [header, "", "| psi | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for psi, values in rows:
        cells = [f"{values[name]:.4g}" if name in values else "-" for name in metrics]
        lines.append(f"| {psi:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="dcgan-anime", help="zoo name, run or folder")
    parser.add_argument("--data", default="anime")
    parser.add_argument("--n", type=int, default=1000, help="images per side (the cards' n)")
    parser.add_argument("--psi", default="1,0.9,0.8,0.7,0.5", help="comma-separated")
    parser.add_argument("--metrics", default=METRICS, help="comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="also write the table here (Markdown)")
    args = parser.parse_args()
    psis = [float(p) for p in args.psi.split(",")]
    metrics = args.metrics.split(",")

    rows = []
    for psi in psis:
        start = time.perf_counter()
        with loading_truncated(psi):
            results = evaluate(
                args.model, args.data, metrics, n=args.n, seed=args.seed, device=args.device,
                update_card=False,  # the card keeps the untruncated model's figures
            )  # fmt: skip
        values = {row["name"]: row["value"] for row in card_rows(results)}
        rows.append((psi, values))
        print(f"psi {psi:g}: {values} ({time.perf_counter() - start:.0f} s)", flush=True)

    header = (
        f"{args.model} against {args.data}: {args.n} generated and {args.n} real images, "
        f"seed {args.seed}; generated with `ganzoo sample --truncation PSI` (z' = PSI z). "
        f"Protocol: {results[0].protocol}"
    )
    text = table(rows, metrics, header)
    print("\n" + text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
