"""MS-SSIM between random pairs of images, a diversity measure (Odena et al. 2017, AC-GAN):
the lower the mean similarity of random generated pairs, the more diverse the samples. The real
images' value is reported beside it; a generator well above it is collapsing.

MS-SSIM follows Wang, Simoncelli & Bovik (2003): contrast-structure terms at every scale and the
luminance term at the coarsest, combined with the standard five exponents, on each colour channel
(dynamic range 255, K1 = 0.01, K2 = 0.03, valid Gaussian filtering, 2x2 average pooling between
scales), then averaged over channels. The standard 11-px window (sigma 1.5) needs images of at
least 176 px for five scales; smaller images use a 7-px window (sigma 1.5) and as many scales as
keep it inside the image, with the leading exponents renormalised to sum to one. The protocol
states which.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ganzoo.metrics.base import Context, Metric, MetricResult, derive_seed

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SIGMA = 1.5
K1, K2, DATA_RANGE = 0.01, 0.03, 255.0
BATCH = 128  # pairs per pass


def window_and_scales(height: int, width: int) -> tuple[int, int]:
    """(window size, number of scales) for an image size, as the module docstring says."""
    side = min(height, width)
    if side >= 11 * 2 ** (len(WEIGHTS) - 1):
        return 11, len(WEIGHTS)
    window = 7 if side >= 7 else side
    scales = 1
    while scales < len(WEIGHTS) and side >> scales >= window:
        scales += 1
    return window, scales


def _gaussian(window: int, device: torch.device) -> torch.Tensor:
    t = torch.arange(window, dtype=torch.float64, device=device) - (window - 1) / 2
    g = torch.exp(-(t**2) / (2 * SIGMA**2))
    return (g / g.sum()).float()


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    # separable, 'valid' (no padding), each channel alone
    c = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, g.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ms_ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """MS-SSIM of image pairs ``a[i], b[i]`` (uint8 or 0..255 float [N, 3, H, W]): [N]."""
    a, b = a.float(), b.float()
    window, scales = window_and_scales(*a.shape[-2:])
    weights = torch.tensor(WEIGHTS[:scales], device=a.device)
    weights = weights / weights.sum()
    g = _gaussian(window, a.device)
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    terms = []
    for scale in range(scales):
        if scale:
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        mu_a, mu_b = _blur(a, g), _blur(b, g)
        var_a = _blur(a * a, g) - mu_a**2
        var_b = _blur(b * b, g) - mu_b**2
        cov = _blur(a * b, g) - mu_a * mu_b
        cs = (2 * cov + c2) / (var_a + var_b + c2)
        if scale == scales - 1:
            cs = cs * (2 * mu_a * mu_b + c1) / (mu_a**2 + mu_b**2 + c1)
        # negative similarities would make the fractional powers undefined (tf.image does this)
        terms.append(cs.mean(dim=(2, 3)).clamp_min(0))  # [N, C]
    values = torch.stack(terms, dim=-1) ** weights  # [N, C, scales]
    return values.prod(dim=-1).mean(dim=1)


def mean_pair_msssim(images: torch.Tensor, seed: int, device: torch.device) -> float:
    """Mean MS-SSIM over ``len(images) // 2`` disjoint random pairs."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    pairs = order[: len(order) // 2 * 2].view(-1, 2)
    total = 0.0
    for start in range(0, len(pairs), BATCH):
        p = pairs[start : start + BATCH]
        total += ms_ssim(images[p[:, 0]].to(device), images[p[:, 1]].to(device)).sum().item()
    return total / max(len(pairs), 1)


class MSSSIM(Metric):
    """Mean MS-SSIM of random generated pairs (diversity; lower is more diverse), and of real
    pairs for reference."""

    name = "msssim"

    def compute(self, fake, real, *, context: Context) -> MetricResult:
        values = {
            "generated": mean_pair_msssim(fake, derive_seed(context.seed, 1), context.device),
            "real": mean_pair_msssim(real, derive_seed(context.seed, 2), context.device),
        }
        h, w = fake.shape[-2:]
        window, scales = window_and_scales(h, w)
        protocol = (
            f"{len(fake) // 2} random generated pairs, {len(real) // 2} real pairs, at {w}x{h}, "
            f"no resizing; MS-SSIM (Wang et al. 2003) with {scales} scales (exponents "
            f"{', '.join(str(x) for x in WEIGHTS[:scales])}"
            f"{', renormalised' if scales < len(WEIGHTS) else ''}), {window}-px Gaussian window "
            f"sigma {SIGMA}, per channel then averaged; seed {context.seed}"
        )
        return MetricResult(self.name, values, protocol, context.data)
