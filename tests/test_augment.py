"""DiffAugment (recipe field ``augment``): the transforms, the policy parser, and that every
discriminator call of both model shapes sees augmented images."""

from __future__ import annotations

import pytest
import torch

import ganzoo
import ganzoo.models
from ganzoo.augment import TRANSFORMS, diff_augment, parse_policy
from ganzoo.errors import GanzooError
from ganzoo.optim import Stepper
from ganzoo.validate import AUGMENTS, check_recipe


def images(n=6, size=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=gen) * 2 - 1


def test_policy_parsing():
    assert parse_policy("color, translation,cutout") == ("color", "translation", "cutout")
    assert parse_policy(None) == parse_policy("") == parse_policy("none") == ()
    with pytest.raises(GanzooError, match="unknown transform 'colour'"):
        parse_policy("colour,cutout")
    # the torch-free recipe check knows the same names
    assert set(AUGMENTS) == set(TRANSFORMS)
    check_recipe({"augment": "color,cutout"})
    with pytest.raises(GanzooError, match="augment"):
        check_recipe({"augment": "flip"})


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_each_transform_keeps_the_shape_changes_images_and_passes_gradients(name):
    torch.manual_seed(0)
    x = images().requires_grad_(True)
    y = diff_augment(x, (name,))
    assert y.shape == x.shape
    assert not torch.allclose(y, x)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_moves_content_whole_pixels_and_fills_with_zero():
    torch.manual_seed(1)
    x = torch.ones(64, 1, 16, 16)
    y = diff_augment(x, ("translation",))
    # values are either kept or zero-filled; shifts are at most 2 of 16 pixels each way
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert (y[:, :, 2:-2, 2:-2] == 1).all()
    assert (y == 0).any()
    # a single bright pixel lands somewhere within the shift range, intact
    point = torch.zeros(32, 1, 16, 16)
    point[:, :, 8, 8] = 1
    moved = diff_augment(point, ("translation",))
    assert (moved.sum(dim=(1, 2, 3)) == 1).all()
    rows, cols = moved[:, 0].nonzero()[:, 1], moved[:, 0].nonzero()[:, 2]
    assert ((rows - 8).abs() <= 2).all() and ((cols - 8).abs() <= 2).all()
    shifts = set(zip(rows.tolist(), cols.tolist(), strict=True))
    assert len(shifts) > 1  # each image draws its own shift


def test_cutout_zeroes_at_most_a_quarter_and_each_image_its_own_square():
    torch.manual_seed(2)
    y = diff_augment(torch.ones(32, 3, 16, 16), ("cutout",))
    zeroed = (y == 0).float().mean(dim=(1, 2, 3))
    assert (zeroed <= 0.25).all() and (zeroed > 0).all()
    assert (y[:, 0] == y[:, 1]).all()  # the same square in every channel
    assert len({tuple(m.flatten().tolist()) for m in (y[:, 0] == 0)}) > 1


def test_color_changes_each_image_differently():
    torch.manual_seed(3)
    x = images(n=1).repeat(4, 1, 1, 1)
    y = diff_augment(x, ("color",))
    assert not torch.allclose(y[0], y[1])


def count_augmented_batches(monkeypatch, model, batch) -> list[int]:
    seen = []

    def spy(images, policy):
        seen.append(images.shape[0])
        return images

    monkeypatch.setattr(ganzoo.models, "diff_augment", spy)
    stepper = Stepper(model.configure_optimizers(), torch.device("cpu"), "fp32")
    model.train_step(batch, 0, stepper)
    return seen


def test_every_discriminator_call_of_both_shapes_sees_augmented_images(monkeypatch):
    torch.manual_seed(0)
    small = {"generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
    dcgan = ganzoo.create("dcgan", size=32, augment="color,translation,cutout", **small)
    # the discriminator step: real and fake; the generator step: fake
    assert count_augmented_batches(monkeypatch, dcgan, {"target": images(4, 32)}) == [4, 4, 4]
    cycle = ganzoo.create("improved", size=32, augment="translation", pool_size=0, **small)
    batch = {"source": images(2, 32), "target": images(2, 32, seed=1)}
    # real and pooled fake for each of the two discriminators, then both fakes for the generators
    assert count_augmented_batches(monkeypatch, cycle, batch) == [2] * 6
    # off in the base recipe: the discriminators see the images unchanged
    plain = ganzoo.create("dcgan", "reference", size=32, **small)
    assert count_augmented_batches(monkeypatch, plain, {"target": images(4, 32)}) == []


def test_a_step_with_augmentation_trains_with_a_penalty_loss():
    torch.manual_seed(0)
    model = ganzoo.create(
        "wgan",
        size=32,
        loss="wasserstein-gp",
        augment="color,translation,cutout",
        generator_args={"width": 8},
        discriminator_args={"width": 8, "norm": "layer"},
    )
    stepper = Stepper(model.configure_optimizers(), torch.device("cpu"), "fp32")
    logs = model.train_step({"target": images(4, 32)}, 0, stepper)
    assert torch.isfinite(logs["loss_d"])
