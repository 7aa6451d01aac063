"""DCGAN networks (Radford, Metz and Chintala 2016) for any size that halves down to a small map.

Radford et al. describe 64x64 images: the generator projects the noise to a 4x4 map with 1024
channels (512 in the widely used PyTorch example, which we follow) and doubles the resolution
with fractionally-strided convolutions while halving the channels; the discriminator mirrors it
with strided convolutions. Batch norm everywhere except the generator's output and the
discriminator's input layer, ReLU in the generator with tanh at the output, LeakyReLU 0.2 in the
discriminator, weights from N(0, 0.02).

Other sizes, which the paper does not cover, are handled by one rule: ``k`` is the largest number
of halvings after which both sides are still integers and the smaller side is at least 3. The
base map is then ``(H / 2^k, W / 2^k)``; the generator projects the noise to it with one
transposed convolution whose kernel is the base map, followed by ``k`` stride-2
``ConvTranspose2d(4, 2, 1)`` layers; the discriminator runs the same in reverse and ends in a
convolution whose kernel is the base map, giving one logit. The base map has ``width * 2^(k-1)``
channels, so 64x64 (base 4x4, k=4) gives the classic 512-256-128-64. Examples:

- 32x32: base 4x4, k=3, channels 256-128-64.
- 96x96 (the paper's anime faces): 96 = 3 * 2^5, base 3x3, k=5, channels 1024-512-256-128-64.
- 128x160 W x H (the paper's CelebA, ``size=(160, 128)`` as (H, W)): 160 = 5 * 2^5 and
  128 = 4 * 2^5, base 5x4 (H x W), k=5, channels 1024-...-64. A sixth halving would leave 2.5.

A size whose base map would be larger than ``MAX_BASE`` pixels a side (an odd or prime side, or
one with too few factors of two, e.g. 100 = 25 * 4) raises a GanzooError: such a network would
be one huge projection kernel rather than a DCGAN.

Choices the paper leaves open: convolutions followed by a normalization carry no bias (the
normalization's shift makes it redundant); the others (the discriminator's first and last layers
and the generator's last) do. The discriminator outputs a raw logit per image, shape ``[N]``,
because the losses take logits (BCE-with-logits, or a critic value for WGAN).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ganzoo.components import Discriminator, Generator
from ganzoo.errors import GanzooError

#: the largest side of the base map that the first (last) layer's kernel may have
MAX_BASE = 8

NORMS = ("batch", "instance", "layer", "none")


def base_map(size: tuple[int, int]) -> tuple[tuple[int, int], int]:
    """The base map ``(h, w)`` and the number of stride-2 layers ``k`` for an image size."""
    height, width = size
    k = 0
    while (
        height % 2 ** (k + 1) == 0
        and width % 2 ** (k + 1) == 0
        and min(height, width) // 2 ** (k + 1) >= 3
    ):
        k += 1
    base = (height // 2**k, width // 2**k)
    if k == 0 or max(base) > MAX_BASE:
        raise GanzooError(
            f"DCGAN networks cannot work at {width}x{height} (W x H): each side must be a base of "
            f"3 to {MAX_BASE} pixels times a power of two, e.g. 32, 64, 96 or 128x160"
        )
    return base, k


def norm_layer(norm: str, num_channels: int) -> nn.Module:
    if norm == "batch":
        return nn.BatchNorm2d(num_channels)
    if norm == "instance":
        return nn.InstanceNorm2d(num_channels, affine=True)
    if norm == "layer":
        # layer norm over (C, H, W), as Gulrajani et al. suggest for a WGAN-GP critic
        return nn.GroupNorm(1, num_channels)
    if norm == "none":
        return nn.Identity()
    raise GanzooError(f"unknown norm {norm!r}; choose {', '.join(NORMS)}")


def dcgan_init(module: nn.Module) -> None:
    """Radford et al.: convolution weights from N(0, 0.02); normalization gains from N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.GroupNorm)) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(Generator):
    """Noise ``[N, latent_dim]`` to images ``[N, channels, H, W]`` in [-1, 1].

    Args:
        size: (H, W) of the images; see the module docstring for which sizes work.
        channels: image channels.
        latent_dim: length of the noise vector (100 in Radford et al.).
        width: channels of the last hidden layer; the base map has ``width * 2^(k-1)``.
    """

    def __init__(
        self, size: tuple[int, int], channels: int = 3, latent_dim: int = 100, width: int = 64
    ):
        super().__init__()
        base, k = base_map(size)
        self.latent_dim = latent_dim
        hidden = width * 2 ** (k - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, hidden, kernel_size=base, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
        ]
        for _ in range(k - 1):
            layers += [
                nn.ConvTranspose2d(hidden, hidden // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(hidden // 2),
                nn.ReLU(inplace=True),
            ]
            hidden //= 2
        layers += [nn.ConvTranspose2d(hidden, channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        dcgan_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z.view(z.shape[0], -1, 1, 1))


class MinibatchStd(nn.Module):
    """Appends one channel: the standard deviation of the features across groups of ``group``
    images, averaged over features and positions (Karras et al. 2018, section 3). A batch of
    near-identical fakes shows a low value that real batches never have, so the discriminator
    can tell collapsed samples apart and the generator is pushed to vary them."""

    def __init__(self, group: int):
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        group = min(self.group, n)
        while n % group:  # the last, smaller batch of an epoch
            group -= 1
        # image i is grouped with i + n/group, i + 2n/group, ...: any order works, this one
        # needs no copy
        spread = x.float().view(group, -1, c, h, w).std(dim=0, correction=0)
        spread = spread.mean(dim=(1, 2, 3)).to(x.dtype)  # [n / group]
        return torch.cat([x, spread.view(-1, 1, 1, 1).repeat(group, 1, h, w)], dim=1)

    def extra_repr(self) -> str:
        return f"group={self.group}"


class DCGANDiscriminator(Discriminator):
    """Images ``[N, channels, H, W]`` to one logit per image, shape ``[N]`` (no sigmoid), or
    per pack of ``pack`` images, shape ``[N / pack]``.

    Args:
        size: (H, W) of the images; see the module docstring for which sizes work.
        channels: image channels.
        width: channels of the first layer, doubled by each stride-2 layer after it.
        norm: "batch" (Radford et al.), "instance", "layer" or "none"; a WGAN-GP critic must not
            use "batch", since the gradient penalty is per sample.
        minibatch_std: group size of a minibatch standard-deviation channel before the last
            layer (ours, not in Radford et al.; 4 in Karras et al.); 0 leaves it out.
        spectral_norm: divide every convolution's weight by its largest singular value, one
            power iteration per step (Miyato et al. 2018, whose discriminators use no batch
            norm: pair it with ``norm="none"``); not in Radford et al.
        pack: images judged together, stacked along the channels, one logit per pack (PacGAN,
            Lin et al. 2018: a pack of near-identical fakes looks unlike any pack of real
            images, which a single image cannot show); 1, off, in Radford et al.
    """

    def __init__(
        self,
        size: tuple[int, int],
        channels: int = 3,
        width: int = 64,
        norm: str = "batch",
        minibatch_std: int = 0,
        spectral_norm: bool = False,
        pack: int = 1,
    ):
        super().__init__()
        if norm not in NORMS:
            raise GanzooError(f"unknown norm {norm!r}; choose {', '.join(NORMS)}")
        if minibatch_std < 0 or minibatch_std == 1:
            raise GanzooError(
                f"minibatch_std is a group size of 2 or more (0: off), got {minibatch_std}"
            )
        if pack < 1:
            raise GanzooError(f"pack is the number of images judged together (1: off), got {pack}")
        base, k = base_map(size)
        self.pack = pack
        biased = norm == "none"
        layers: list[nn.Module] = [
            nn.Conv2d(channels * pack, width, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        hidden = width
        for _ in range(k - 1):
            layers += [
                nn.Conv2d(hidden, hidden * 2, 4, 2, 1, bias=biased),
                norm_layer(norm, hidden * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            hidden *= 2
        if minibatch_std:
            layers.append(MinibatchStd(minibatch_std))
        layers.append(nn.Conv2d(hidden + bool(minibatch_std), 1, kernel_size=base))
        self.net = nn.Sequential(*layers)
        dcgan_init(self)
        if spectral_norm:
            for m in self.net:
                if isinstance(m, nn.Conv2d):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        if n % self.pack:
            raise GanzooError(
                f"a batch of {n} images does not split into packs of {self.pack}; make the "
                "batch size a multiple of discriminator_args.pack"
            )
        # consecutive images form a pack: batches are drawn in random order
        return self.net(x.reshape(n // self.pack, self.pack * c, h, w)).reshape(n // self.pack)
