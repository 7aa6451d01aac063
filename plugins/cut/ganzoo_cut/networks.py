"""CUT's networks and loss, written for ganzoo's interfaces: CycleGAN's ResNet generator (with
``features`` for PatchNCE), a 70x70 PatchGAN and the least-squares loss.

With ``antialias``, both networks resample as CUT's reference does by default (Zhang 2019,
"Making Convolutional Networks Shift-Invariant Again"): a stride-1 convolution and then a blur
before taking every second pixel, and a blur-weighted transposed convolution before a stride-1
convolution, instead of strided and transposed convolutions.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.components import AdversarialLoss, Discriminator, Generator
from ganzoo.errors import GanzooError

INITS = ("xavier", "normal")
NCE_LAYERS = ("blocks", "reference")


def init_weights(module: nn.Module, init: str) -> None:
    """Zero biases and, for ``xavier``, CUT's default (``--init_type xavier --init_gain 0.02``:
    weights far smaller than N(0, 0.02), so that Adam's steps of 2e-4 move the layers before an
    instance norm much further relative to their size), or ``normal``, CycleGAN's N(0, 0.02)."""
    if init not in INITS:
        raise GanzooError(f"init must be one of {', '.join(INITS)}, got {init!r}")
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            if init == "xavier":
                nn.init.xavier_normal_(m.weight, gain=0.02)
            else:
                nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def conv_block(cin: int, cout: int, kernel: int, stride: int = 1, padding: int = 0) -> list:
    return [nn.Conv2d(cin, cout, kernel, stride, padding), nn.InstanceNorm2d(cout), nn.ReLU(True)]


def binomial_filter(taps: int) -> Tensor:
    """The normalised outer product of a binomial row, e.g. [1, 2, 1] for 3 taps."""
    row = torch.tensor([float(math.comb(taps - 1, k)) for k in range(taps)])
    kernel = torch.outer(row, row)
    return kernel / kernel.sum()


class BlurDown(nn.Module):
    """Halves H and W: a [1, 2, 1] blur over reflection padding, every second pixel kept."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("kernel", binomial_filter(3).expand(channels, 1, 3, 3).clone())

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, self.kernel, stride=2, groups=x.shape[1])


class BlurUp(nn.Module):
    """Doubles H and W: each pixel spread by a [1, 3, 3, 1] blur (times 4, so that a flat map
    stays flat), over replicated edges."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("kernel", 4 * binomial_filter(4).expand(channels, 1, 4, 4).clone())

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (1, 1, 1, 1), mode="replicate")
        up = F.conv_transpose2d(x, self.kernel, stride=2, padding=2, groups=x.shape[1])
        return up[:, :, 1:-1, 1:-1]


def downsampling(cin: int, cout: int, antialias: bool) -> nn.Sequential:
    if antialias:
        return nn.Sequential(*conv_block(cin, cout, 3, 1, 1), BlurDown(cout))
    return nn.Sequential(*conv_block(cin, cout, 3, 2, 1))


def upsampling(cin: int, cout: int, antialias: bool) -> list[nn.Module]:
    if antialias:
        return [BlurUp(cin), *conv_block(cin, cout, 3, 1, 1)]
    up = nn.ConvTranspose2d(cin, cout, 3, 2, 1, output_padding=1)
    return [up, nn.InstanceNorm2d(cout), nn.ReLU(True)]


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            *conv_block(channels, channels, 3),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            nn.InstanceNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResnetGenerator(Generator):
    """c7s1-w, d2w, d4w, ``blocks`` residual blocks, u2w, uw, c7s1-3 with tanh (Johnson et al.
    2016, as in CycleGAN and CUT).

    Args:
        size: (H, W), both divisible by 4.
        channels: image channels.
        width: channels of the first convolution.
        blocks: residual blocks at 1/4 resolution.
        init: ``xavier`` (CUT's) or ``normal`` (CycleGAN's), see ``init_weights``.
        antialias: blurred resampling, as CUT's reference (about 1.6x the CPU time per image);
            strided and transposed convolutions without it.
        nce_layers: the maps ``features`` gives PatchNCE: ``blocks``, each block's output
            (after its norm and ReLU), or ``reference``, the reference's ``--nce_layers
            0,4,8,12,16`` (see ``features``).
    """

    def __init__(
        self,
        size: tuple[int, int],
        channels: int = 3,
        width: int = 64,
        blocks: int = 6,
        init: str = "xavier",
        antialias: bool = False,
        nce_layers: str = "blocks",
    ):
        super().__init__()
        if size[0] % 4 or size[1] % 4:
            raise GanzooError(f"cut-resnet-generator needs H and W divisible by 4, got {size}")
        if nce_layers not in NCE_LAYERS:
            raise GanzooError(
                f"nce_layers must be one of {', '.join(NCE_LAYERS)}, got {nce_layers!r}"
            )
        self.nce_layers = nce_layers
        self.encoder = nn.ModuleList(
            [
                nn.Sequential(nn.ReflectionPad2d(3), *conv_block(channels, width, 7)),
                downsampling(width, 2 * width, antialias),
                downsampling(2 * width, 4 * width, antialias),
                *[ResidualBlock(4 * width) for _ in range(blocks)],
            ]
        )
        up = [*upsampling(4 * width, 2 * width, antialias)]
        up += upsampling(2 * width, width, antialias)
        up += [nn.ReflectionPad2d(3), nn.Conv2d(width, channels, 7), nn.Tanh()]
        self.decoder = nn.Sequential(*up)
        init_weights(self, init)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.encoder:
            x = layer(x)
        return self.decoder(x)

    def features(self, x: Tensor) -> list[Tensor]:
        """With ``nce_layers="blocks"``: the image, the first convolution's map, both
        downsampling maps and the first residual block's, each after its norm and ReLU. With
        ``reference``: the padded image, each downsampling convolution's map before its norm
        (with ``antialias``, before the blur too: at full and half resolution), and the first and
        fifth residual blocks' (docs/peers compares the two)."""
        if self.nce_layers == "reference":
            return self._reference_features(x)
        out = [x]
        for layer in self.encoder[:4]:
            x = layer(x)
            out.append(x)
        return out

    def _reference_features(self, x: Tensor) -> list[Tensor]:
        stem, *downs = self.encoder[:3]
        out = [stem[0](x)]  # the reflection-padded image
        x = stem(x)
        for down in downs:
            out.append(down[0](x))  # the convolution, before its norm
            x = down[1:](out[-1])
        for index, block in enumerate(self.encoder[3:8]):
            x = block(x)
            if index in (0, 4):
                out.append(x)
        return out


class PatchGAN(Discriminator):
    """C64-C128-C256-C512 with 4x4 convolutions (stride 2, 2, 2, 1), then one channel: one score
    per 70x70 patch. Instance norm from the second convolution on, LeakyReLU 0.2. ``init`` and
    ``antialias`` as the generator's: with it, each stride-2 convolution is a stride-1 one
    followed (after its norm and activation) by ``BlurDown``."""

    def __init__(
        self,
        size: tuple[int, int],
        channels: int = 3,
        width: int = 64,
        init: str = "xavier",
        antialias: bool = False,
    ):
        super().__init__()
        if min(size) < 32:
            raise GanzooError(f"cut-patchgan needs images of at least 32x32, got {size}")
        layers: list[nn.Module] = []
        cin = channels
        for index, stride in enumerate((2, 2, 2, 1)):
            cout = width * 2**index
            step = 1 if antialias else stride
            layers.append(nn.Conv2d(cin, cout, 4, step, 1))
            layers += [nn.InstanceNorm2d(cout)] if index else []
            layers.append(nn.LeakyReLU(0.2, True))
            layers += [BlurDown(cout)] if antialias and stride == 2 else []
            cin = cout
        layers.append(nn.Conv2d(cin, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        init_weights(self, init)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class LeastSquares(AdversarialLoss):
    """LSGAN: the discriminator pulls real scores to 1 and fakes to 0, the generator its
    fakes to 1; each term is a mean over patches, halved as in the reference."""

    def discriminator_loss(self, real: Tensor, fake: Tensor) -> Tensor:
        return 0.5 * (((real - 1) ** 2).mean() + (fake**2).mean())

    def generator_loss(self, fake: Tensor) -> Tensor:
        return ((fake - 1) ** 2).mean()
