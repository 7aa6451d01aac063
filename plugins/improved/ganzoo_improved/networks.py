"""The paper's translator networks (section 4.2): a ResNet-18-style encoder-decoder generator and
a 70x70 PatchGAN discriminator. Both use instance norm, as CycleGAN does."""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganzoo.components import Discriminator, Generator
from ganzoo.errors import GanzooError


def instance_norm(num_channels: int) -> nn.Module:
    # CycleGAN's choice: no learnt gain or shift, so weight clipping has no gain to crush
    return nn.InstanceNorm2d(num_channels, affine=False)


def channels_last(op: nn.Module | Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    """``op(x)``, computed on a channels-last copy of a channels-first CPU tensor.

    On CPU, PyTorch's max-pool, average-pool and bilinear kernels and oneDNN's convolution to
    three channels are 2-10x faster channels-last, while instance norm is 2-5x slower there
    (measured fwd+bwd at the translator's shapes); so the networks stay channels-first and only
    those operations switch, and switch back. Other devices get ``op(x)``.
    """
    if x.device.type != "cpu" or x.is_contiguous(memory_format=torch.channels_last):
        return op(x)
    return op(x.contiguous(memory_format=torch.channels_last)).contiguous()


def cyclegan_init(module: nn.Module) -> None:
    """CycleGAN's initialisation: convolution weights from N(0, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def conv_in_relu(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, bias=False),
        instance_norm(out_channels),
        nn.ReLU(inplace=True),
    )


def check_size(size: tuple[int, int], what: str) -> None:
    height, width = size
    if height % 16 or width % 16 or min(height, width) < 32:
        raise GanzooError(
            f"the {what} needs H and W divisible by 16 and at least 32, got {width}x{height} "
            "(W x H)"
        )


class ConcatResidualBlock(nn.Module):
    """Conv3x3-IN-ReLU-Conv3x3-IN, concatenated with the block's input and merged by a 1x1
    Conv-IN-ReLU. When the block strides, its input is average-pooled to match.

    The merge is normalised because its output is also a skip into the decoder, where it is
    added to a normalised map: without the norm, N(0, 0.02) weights leave the skips about ten
    times weaker than that map, the decoder ignores them, and the generator learns the
    input's layout only very slowly (measured: L1 0.24 instead of 0.19 after 300 autoencoding
    steps, and translations that do not depend on the input at all)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            conv_in_relu(in_channels, out_channels, 3, stride),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False),
            instance_norm(out_channels),
        )
        self.shortcut = nn.AvgPool2d(2) if stride == 2 else nn.Identity()
        self.merge = conv_in_relu(out_channels + in_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        strided = not isinstance(self.shortcut, nn.Identity)
        skip = channels_last(self.shortcut, x) if strided else x
        return self.merge(torch.cat([self.body(x), skip], dim=1))


class Decoder(nn.Module):
    """The paper's upsampling part, on encoder features at 1/2, 1/4, 1/8 and 1/16 resolution.

    From the deepest map up: a Conv3x3-IN-ReLU to the next shallower map's channels, a bilinear
    x2 upsample, and an addition of that map; after reslayer-1's map is added (1/2 resolution),
    two Conv1x1-IN-ReLU, a bilinear x2 upsample to full resolution and a Conv7x7 with tanh.
    """

    def __init__(self, feature_channels: tuple[int, ...], channels: int):
        super().__init__()
        self.stages = nn.ModuleList(
            conv_in_relu(deep, shallow, 3)
            for deep, shallow in zip(feature_channels[:0:-1], feature_channels[-2::-1], strict=True)
        )
        top = feature_channels[0]
        self.head = nn.Sequential(conv_in_relu(top, top, 1), conv_in_relu(top, top, 1))
        self.out = nn.Sequential(nn.Conv2d(top, channels, 7, 1, 3), nn.Tanh())

    def forward(self, features: list[Tensor], full: Tensor | None = None) -> Tensor:
        """``full``, when given, is a full-resolution map added after the last upsample."""
        x = features[-1]
        for stage, skip in zip(self.stages, features[-2::-1], strict=True):
            x = upsample(stage(x), skip.shape[-2:]) + skip
        x = self.head(x)
        x = upsample(x, tuple(2 * s for s in x.shape[-2:]))
        if full is not None:
            x = x + full
        return channels_last(self.out, x)


def upsample(x: Tensor, size: tuple[int, int]) -> Tensor:
    bilinear = functools.partial(F.interpolate, size=size, mode="bilinear", align_corners=False)
    return channels_last(bilinear, x)


class ImprovedGenerator(Generator):
    """The paper's generator (section 4.2, Figure 1): images to images of the same size.

    What the paper says, and what we chose where it is silent:

    - Stem: Conv7x7-IN-ReLU-MaxPool, as stated. We use stride 1 in the convolution and MaxPool(3,
      2, 1), so the stem halves the resolution (ResNet-18's stem quarters it; see below).
    - Four residual layers (reslayer-1..4) of two blocks each, 3x3 convolutions, ResNet-18 as the
      base model. We take ResNet-18's widths: ``width, 2*width, 4*width, 8*width`` (64 gives
      64-128-256-512).
    - A block is Conv-IN-ReLU-Conv-IN whose output is concatenated with an input and passed
      through one more convolution. The paper says "the input of the entire residual layer"; we
      concatenate each block's own input (so both blocks of a layer work the same way), average-
      pooled when the block strides, and merge with a 1x1 convolution and ReLU.
    - Downsampling: the paper says each residual layer halves the resolution but also that the
      deepest map is 1/16 of the image, which with a halving stem allows three halvings. We keep
      the 1/16: reslayer-1 keeps the resolution (as in ResNet-18), reslayers 2-4 stride 2 in
      their first block, so the maps are 1/2, 1/4, 1/8, 1/16 of the image.
    - Decoder: "the feature map output by reslayer-4 is convolved, upsampled to 1/8 and added to
      reslayer-3's output; repeated until reslayer-1's output is added", then two convolutions
      (1x1, as stated) and a final 7x7 convolution with tanh. The paper does not say how it
      upsamples, the kernel of the convolutions before each addition, or how the 1/2 map returns
      to full size. We use bilinear upsampling, a Conv3x3-IN-ReLU that also maps the channels to
      those of the map it is added to, and one more bilinear x2 upsample between the 1x1
      convolutions and the 7x7 one.
    - Normalization is instance norm without affine parameters (CycleGAN's), initialisation
      N(0, 0.02) (CycleGAN's), zero padding throughout.

    - ``stem_skip`` (ours, off in the paper recipe): the stem convolution's full-resolution output
      is also added after the last upsample, one more short-circuit connection of the same kind.
      Without it, every output pixel comes from 1/2-resolution maps: at 32x32 that loses the thin
      outlines of anime faces, and the generator learns the input's layout slowly.

    At width 64 it has 13.8M parameters (the encoder 12.2M, against ResNet-18's 11.2M without its
    classifier: the 1x1 merge convolutions add the difference); the stem skip adds none.

    Args:
        size: (H, W); both divisible by 16 and at least 32.
        channels: image channels, in and out.
        width: channels of the stem and reslayer-1, doubled by each later layer.
        stem_skip: add the stem's full-resolution map before the output convolution.
    """

    def __init__(
        self, size: tuple[int, int], channels: int = 3, width: int = 64, stem_skip: bool = False
    ):
        super().__init__()
        check_size(size, "improved generator")
        widths = (width, 2 * width, 4 * width, 8 * width)
        self.stem_skip = stem_skip
        self.stem = conv_in_relu(channels, width, 7)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        layers = []
        in_channels = width
        for index, out_channels in enumerate(widths):
            stride = 1 if index == 0 else 2
            layers.append(
                nn.Sequential(
                    ConcatResidualBlock(in_channels, out_channels, stride),
                    ConcatResidualBlock(out_channels, out_channels),
                )
            )
            in_channels = out_channels
        self.reslayers = nn.ModuleList(layers)
        self.decoder = Decoder(widths, channels)
        cyclegan_init(self)

    def encode(self, x: Tensor) -> list[Tensor]:
        """The outputs of reslayer-1..4, at 1/2, 1/4, 1/8 and 1/16 of the image's size."""
        return self._encode(self.stem(x))

    def _encode(self, stem: Tensor) -> list[Tensor]:
        features = []
        x = channels_last(self.pool, stem)
        for layer in self.reslayers:
            x = layer(x)
            features.append(x)
        return features

    def forward(self, x: Tensor) -> Tensor:
        stem = self.stem(x)
        return self.decoder(self._encode(stem), stem if self.stem_skip else None)

    def features(self, x: Tensor) -> list[Tensor]:
        """For PatchNCE: the image, the stem's map and reslayer-1..3's, as CUT takes the input,
        the first convolution and the maps down to the residual blocks of its ResNet."""
        stem = self.stem(x)
        return [x, stem, *self._encode(stem)[:3]]

    def extra_repr(self) -> str:
        return f"stem_skip={self.stem_skip}"


class TimmImprovedGenerator(Generator):
    """The improved generator's decoder on timm's ``resnet18`` (features_only, instance norm).

    timm's ResNet-18 strides 2 in its stem convolution and again in the max pool, so its four
    stages are at 1/4 to 1/32 of the image. To get the paper's layout (stem to 1/2, deepest map
    1/16) we set the stem convolution's stride to 1 after building the model; the stages are then
    at 1/2, 1/4, 1/8 and 1/16 exactly as in ``ImprovedGenerator`` and the same decoder applies.
    (timm's ``feature_info.reduction()`` still reports the original 4-32.) The blocks are
    timm's BasicBlock, with the usual additive shortcut rather than the paper's concatenation.

    ``width`` sets the stage widths through timm's ``channels`` argument; timm fixes the stem at
    64 channels whatever the stage widths, so at width != 64 reslayer-1 starts with a 1x1
    projection from 64. No pretrained weights: ImageNet statistics are for batch norm.

    Args:
        size: (H, W); both divisible by 16 and at least 32.
        channels: image channels, in and out.
        width: channels of the first stage, doubled by each later one.
    """

    def __init__(self, size: tuple[int, int], channels: int = 3, width: int = 64):
        super().__init__()
        import timm

        check_size(size, "improved timm generator")
        widths = (width, 2 * width, 4 * width, 8 * width)
        self.encoder = timm.create_model(
            "resnet18",
            features_only=True,
            pretrained=False,
            in_chans=channels,
            out_indices=(1, 2, 3, 4),
            channels=widths,
            norm_layer=functools.partial(nn.InstanceNorm2d, affine=False),
        )
        self.encoder.conv1.stride = (1, 1)
        self.decoder = Decoder(widths, channels)
        cyclegan_init(self)

    def encode(self, x: Tensor) -> list[Tensor]:
        """timm's four stage outputs, at 1/2, 1/4, 1/8 and 1/16 of the image's size."""
        return self.encoder(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encode(x))

    def features(self, x: Tensor) -> list[Tensor]:
        """For PatchNCE: the image and the first three stages' maps."""
        return [x, *self.encode(x)[:3]]


class PatchGAN70(Discriminator):
    """A 70x70 PatchGAN (Isola et al. 2017, as in CycleGAN): one score per overlapping 70x70
    patch, a map ``[N, 1, h, w]``; any input of at least 32x32.

    The paper: three convolution blocks of two convolution layers each, 64 output channels in
    the first convolution, doubling per block, and a 70x70 PatchGAN. Our design:

    - block i (``width * 2^i`` channels): Conv4x4 stride 2 - IN - LeakyReLU(0.2) - Conv1x1 - IN -
      LeakyReLU(0.2); no norm after the very first convolution (as in pix2pix and DCGAN);
    - then, as in CycleGAN's PatchGAN: Conv4x4 stride 1 (``8 * width``) - IN - LeakyReLU(0.2) -
      Conv4x4 stride 1 to one channel. Padding 1 on the 4x4 convolutions.

    The 1x1 convolutions leave the receptive field alone, so it is CycleGAN's: going back from
    one output, r = r * stride + (kernel - stride) gives 1 -> 4 -> 7 -> 16 -> 34 -> 70.
    Instance norm without affine parameters and N(0, 0.02) initialisation, as in CycleGAN.
    Scores are raw (no sigmoid): the Wasserstein loss takes critic values.

    Args:
        size: (H, W) of the images; any, at least 32 a side.
        channels: image channels.
        width: channels of the first convolution (64 in the paper).
    """

    def __init__(self, size: tuple[int, int], channels: int = 3, width: int = 64):
        super().__init__()
        if min(size) < 32:
            raise GanzooError(
                f"patchgan70 needs images of at least 32x32, got {size[1]}x{size[0]} (W x H)"
            )
        layers: list[nn.Module] = []
        in_channels = channels
        for index in range(3):
            out_channels = width * 2**index
            first = nn.Conv2d(in_channels, out_channels, 4, 2, 1, bias=index == 0)
            layers += [first] if index == 0 else [first, instance_norm(out_channels)]
            layers += [
                nn.LeakyReLU(0.2, inplace=True),
                nn.Conv2d(out_channels, out_channels, 1, bias=False),
                instance_norm(out_channels),
                nn.LeakyReLU(0.2, inplace=True),
            ]
            in_channels = out_channels
        layers += [
            nn.Conv2d(in_channels, 8 * width, 4, 1, 1, bias=False),
            instance_norm(8 * width),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(8 * width, 1, 4, 1, 1),
        ]
        self.net = nn.Sequential(*layers)
        cyclegan_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
