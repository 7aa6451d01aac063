"""PatchNCE (ganzoo.patchnce), the generators' features interface, the cut plugin and the
improved plugin's anime signals (ganzoo_improved.model)."""

from __future__ import annotations

import math

import pytest
import torch

import ganzoo
from ganzoo.components import Generator
from ganzoo.errors import GanzooError
from ganzoo.patchnce import PatchNCE, channels_of, info_nce
from ganzoo_improved.model import grey, smooth_edges, surface


class Features(Generator):
    """A stand-in generator whose features are the image itself and a fixed convolution."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def features(self, x):
        return [x, self.conv(x)]


def test_info_nce_is_low_for_matching_keys_and_log_p_for_random_ones():
    torch.manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(2, 64, 32), dim=-1)
    assert info_nce(keys, keys, 0.07) < 0.01
    noise = torch.nn.functional.normalize(torch.randn(2, 64, 32), dim=-1)
    assert info_nce(noise, keys, 10.0) == pytest.approx(math.log(64), rel=0.01)


def test_patchnce_prefers_a_translation_that_keeps_its_input():
    torch.manual_seed(0)
    generator = Features()
    nce = PatchNCE(channels_of(generator, 3, (16, 16)), patches=32)
    source = torch.rand(4, 3, 16, 16) * 2 - 1
    kept = nce(generator, source, source)
    shuffled = nce(generator, source, source.flip(-1).flip(-2))
    assert kept < shuffled
    kept.backward()
    assert generator.conv.weight.grad is not None  # the translation's side carries gradients


def test_a_generator_without_features_says_so_in_one_line():
    with pytest.raises(GanzooError, match="does not expose encoder features"):
        Generator().features(torch.zeros(1, 3, 8, 8))


def test_anime_signals():
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    g = grey(image)
    assert torch.equal(g[:, 0], g[:, 1]) and torch.equal(g[:, 1], g[:, 2])
    flat = torch.full((1, 3, 32, 32), 0.3)
    assert torch.allclose(surface(flat), flat, atol=1e-6)
    assert torch.allclose(smooth_edges(flat), flat, atol=1e-6)
    # a vertical step: smoothing touches only the columns next to the edge
    step = torch.full((1, 3, 32, 32), -1.0)
    step[..., 16:] = 1.0
    changed = (smooth_edges(step) - step).abs().amax(dim=(0, 1, 2)) > 1e-4
    assert changed.any() and not changed[:12].any() and not changed[20:].any()
    # the surface flattens noise more than it moves the edge
    noisy = step + 0.1 * torch.randn_like(step)
    assert (surface(noisy) - step)[..., 4:12].std() < (noisy - step)[..., 4:12].std()


def test_unknown_extra_fakes_are_refused():
    with pytest.raises(GanzooError, match="unknown extra_fakes 'sepia'"):
        ganzoo.create("improved", extra_fakes="grey,sepia")


def test_cut_translates_one_way_only():
    model = ganzoo.create("cut", size=32, generator_args={"width": 8, "blocks": 1})
    images = torch.rand(2, 3, 32, 32)
    assert model.translate(images).shape == (2, 3, 32, 32)
    with pytest.raises(GanzooError, match="one-sided"):
        model.translate(images, reverse=True)


def test_cut_networks_start_from_cuts_or_cyclegans_initialisation():
    from ganzoo_cut.networks import PatchGAN, ResnetGenerator

    def first_conv_std(network):
        conv = next(m for m in network.modules() if isinstance(m, torch.nn.Conv2d))
        return conv, conv.weight.std().item()

    conv, xavier = first_conv_std(ResnetGenerator((32, 32), width=16, blocks=1))
    fans = conv.weight[0].numel() + conv.weight.shape[0] * conv.weight[0, 0].numel()
    assert xavier == pytest.approx(0.02 * math.sqrt(2 / fans), rel=0.2)  # CUT's default
    _, normal = first_conv_std(PatchGAN((32, 32), width=16, init="normal"))
    assert normal == pytest.approx(0.02, rel=0.2)  # CycleGAN's N(0, 0.02)
    with pytest.raises(GanzooError, match="init must be one of xavier, normal, got 'he'"):
        ResnetGenerator((32, 32), width=16, blocks=1, init="he")


def test_mirrored_patchnce_compares_each_patch_with_its_mirror_image():
    """A translation made from the mirrored input is, mirrored back, the input: with
    ``mirrored`` PatchNCE scores it as well as an unmirrored copy, and without it, worse."""
    torch.manual_seed(0)
    generator = Features()
    with torch.no_grad():  # features that commute with mirroring, as the loss asks G's to
        weight = generator.conv.weight
        weight.copy_((weight + weight.flip(-1)) / 2)
    nce = PatchNCE(channels_of(generator, 3, (16, 16)), patches=32)
    source = torch.rand(4, 3, 16, 16) * 2 - 1
    torch.manual_seed(1)
    kept = nce(generator, source, source)
    torch.manual_seed(1)  # the same patches drawn
    mirrored = nce(generator, source, source.flip(-1), mirrored=True)
    torch.manual_seed(1)
    unaligned = nce(generator, source, source.flip(-1))
    assert mirrored.item() == pytest.approx(kept.item(), rel=1e-4)
    assert unaligned > kept


def test_blurred_resampling_keeps_flat_maps_flat_and_halves_or_doubles_the_size():
    from ganzoo_cut.networks import BlurDown, BlurUp

    flat = torch.full((2, 4, 8, 8), 0.7)
    assert torch.allclose(BlurDown(4)(flat), torch.full((2, 4, 4, 4), 0.7))
    assert torch.allclose(BlurUp(4)(flat), torch.full((2, 4, 16, 16), 0.7))
    # a ramp comes back up as its linear interpolation, midway between the samples
    ramp = torch.arange(4.0).view(1, 1, 1, 4).expand(1, 1, 4, 4)
    row = BlurUp(1)(ramp)[0, 0, 2]
    assert torch.allclose(row[1:-1], torch.arange(0.25, 3.0, 0.5))
    # a one-pixel checkerboard, which stride 2 alone would alias to a flat map, is blurred away
    checker = (torch.arange(8).view(8, 1) + torch.arange(8)).remainder(2).float()[None, None]
    assert BlurDown(1)(checker)[..., 1:-1, 1:-1].std() < 0.01
    assert torch.allclose(BlurDown(1)(checker)[..., 1:-1, 1:-1], torch.tensor(0.5))


def test_cut_networks_with_blurred_resampling_keep_their_shapes():
    from ganzoo_cut.networks import PatchGAN, ResnetGenerator

    image = torch.rand(2, 3, 32, 32) * 2 - 1
    for antialias in (False, True):
        generator = ResnetGenerator((32, 32), width=8, blocks=1, antialias=antialias)
        discriminator = PatchGAN((32, 32), width=8, antialias=antialias)
        assert generator(image).shape == image.shape
        assert [f.shape[-1] for f in generator.features(image)] == [32, 32, 16, 8, 8]
        assert discriminator(image).shape == (2, 1, 2, 2)
    blurs = [m for m in discriminator.modules() if type(m).__name__ == "BlurDown"]
    assert len(blurs) == 3


def test_cut_can_give_patchnce_the_references_layers():
    from ganzoo_cut.networks import ResnetGenerator

    image = torch.rand(2, 3, 32, 32) * 2 - 1
    generator = ResnetGenerator((32, 32), width=8, blocks=5, antialias=True, nce_layers="reference")
    maps = generator.features(image)
    # CUT's --nce_layers 0,4,8,12,16: the padded image, both downsampling convolutions before
    # their norm and blur (full and half size), residual blocks 1 and 5
    assert [tuple(m.shape[1:]) for m in maps] == [
        (3, 38, 38),
        (16, 32, 32),
        (32, 16, 16),
        (32, 8, 8),
        (32, 8, 8),
    ]
    stem, down = generator.encoder[0], generator.encoder[1]
    assert torch.equal(maps[1], down[0](stem(image)))
    assert not torch.equal(maps[3], maps[4])  # blocks 1 and 5, not one twice
    with pytest.raises(GanzooError, match="nce_layers must be one of blocks, reference, got 'all'"):
        ResnetGenerator((32, 32), nce_layers="all")


def test_cuts_switches_take_true_or_false():
    for field in ("flip_equivariance", "nce_identity"):
        with pytest.raises(GanzooError, match=f"{field}='yes' is not allowed: it takes true or"):
            ganzoo.create("cut", **{field: "yes"})
