"""The embedded toon dataset and its attribute classifier (the shipped weights; no retraining)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ganzoo.data.toon import ToonFaces, toon_anime, toon_photo
from ganzoo.data.toon_classifier import WEIGHTS, load_classifier
from ganzoo.errors import GanzooError
from ganzoo.registry import registry

HELD_OUT_SEED = 4242  # neither the training seed nor the one `evaluate` reports on


@pytest.fixture(scope="module")
def classifier():
    return load_classifier()


def dark_fraction(images: torch.Tensor) -> float:
    """Pixels dark in every channel: the anime outlines."""
    return (images.amax(1) < 70).float().mean().item()


def colour_count(images: torch.Tensor) -> float:
    """Distinct RGB colours per image: few for flat cel colours, many for shading and noise."""
    return float(np.mean([len(torch.unique(im.reshape(3, -1).T, dim=0)) for im in images]))


def edge_density(images: torch.Tensor) -> float:
    """Fraction of horizontal neighbours that differ sharply: hard edges."""
    step = (images[..., 1:].float() - images[..., :-1].float()).abs().amax(1)
    return (step > 60).float().mean().item()


@pytest.mark.parametrize("builder", [toon_anime, toon_photo])
def test_same_seed_and_index_give_identical_bytes(builder):
    a = builder(size=(64, 64), seed=3)
    b = builder(size=(64, 64), seed=3, length=500)  # the length does not change an image
    batch = a.render_batch([7, 123, 0, 499])
    assert torch.equal(batch, b.render_batch([7, 123, 0, 499]))
    # an image does not depend on its batch companions or on the path that renders it
    assert torch.equal(batch[1], a.render_batch([123])[0])
    assert torch.equal(batch[0], a[7])
    assert torch.equal(a.render_batch([499, 7])[1], batch[0])
    other = builder(size=(64, 64), seed=4).render_batch([7, 123, 0, 499])
    assert not torch.equal(batch, other)
    assert all(not torch.equal(x, y) for x, y in zip(batch, other, strict=True))


@pytest.mark.parametrize("builder", [toon_anime, toon_photo])
def test_images_do_not_depend_on_the_batch(builder):
    ds = builder(size=(47, 53), length=120, seed=2)  # odd sizes: no lucky vector alignment
    whole = ds.render_batch(np.arange(120))
    order = np.random.default_rng(0).permutation(120)
    pieces = torch.empty_like(whole)
    for start in range(0, 120, 7):
        pieces[order[start : start + 7]] = ds.render_batch(order[start : start + 7])
    assert torch.equal(whole, pieces)


def test_attributes_correspond_across_styles():
    anime, photo = toon_anime(size=(64, 64), seed=5), toon_photo(size=(64, 64), seed=5)
    table = anime.attribute_array()
    assert table.shape == (20000, 3)
    assert np.array_equal(table, photo.attribute_array())
    for i in (0, 1, 999, 1000, 19999):
        attrs = anime.attributes(i)
        assert attrs == photo.attributes(i)
        assert list(attrs) == ["hair_colour", "eye_colour", "hair_style"]
        assert list(attrs.values()) == table[i].tolist()
        assert (
            anime.mode(i)
            == attrs["hair_colour"] * 100 + attrs["eye_colour"] * 10 + attrs["hair_style"]
        )


def test_exactly_1000_modes_each_block_balanced():
    table = toon_anime(size=(32, 32), length=20000).attribute_array()
    assert table.min() == 0 and table.max() == 9
    modes = table[:, 0] * 100 + table[:, 1] * 10 + table[:, 2]
    assert len(np.unique(modes)) == 1000
    # every block of 1,000 consecutive indices holds each mode once
    assert all(len(np.unique(block)) == 1000 for block in modes.reshape(20, 1000))
    assert np.bincount(modes, minlength=1000).tolist() == [20] * 1000


@pytest.mark.parametrize("size", [(32, 32), (64, 64), (128, 128), (48, 96), (128, 40)])
@pytest.mark.parametrize("builder", [toon_anime, toon_photo])
def test_shapes_and_dtype(builder, size):
    ds = builder(size=size, length=100)
    assert len(ds) == 100
    item = ds[3]
    assert item.dtype == torch.uint8 and item.shape == (3, *size)
    batch = ds.render_batch(np.arange(5))
    assert batch.dtype == torch.uint8 and batch.shape == (5, 3, *size)
    assert batch.float().std() > 10  # not blank


@pytest.mark.parametrize(
    "size", [(31, 64), (64, 129), (16, 16), (256, 256), (64,), (64, 64, 3), 16, "64"]
)
def test_bad_size_is_a_one_line_error(size):
    with pytest.raises(GanzooError) as err:
        toon_anime(size=size)
    assert "\n" not in str(err.value)


def test_an_int_size_means_a_square():
    assert toon_photo(size=48, length=10)[0].shape == (3, 48, 48)


def test_out_of_range_index():
    ds = toon_photo(size=(32, 32), length=10)
    with pytest.raises(IndexError):
        ds[10]
    assert torch.equal(ds[-1], ds[9])


def test_dataloader_uses_the_batch_path():
    ds = toon_anime(size=(32, 32), length=64)
    loader = DataLoader(ds, batch_sampler=[[5, 1, 9, 2]])
    (batch,) = list(loader)
    assert torch.equal(batch, ds.render_batch([5, 1, 9, 2]))


def test_the_two_styles_differ_measurably():
    anime = toon_anime(size=(64, 64), seed=11).render_batch(np.arange(64))
    photo = toon_photo(size=(64, 64), seed=11).render_batch(np.arange(64))
    assert dark_fraction(anime) > 2 * dark_fraction(photo)  # outlines
    assert edge_density(anime) > 3 * edge_density(photo)  # hard edges against soft ones
    assert colour_count(photo) > 2 * colour_count(anime)  # shading and texture against flat fills
    assert (anime.float() - photo.float()).abs().mean() > 20


def test_weights_are_small():
    assert WEIGHTS.stat().st_size <= 2 * 2**20


@pytest.mark.parametrize("builder", [toon_anime, toon_photo])
def test_classifier_accuracy_on_held_out_images(classifier, builder):
    ds = builder(size=(64, 64), length=500, seed=HELD_OUT_SEED)
    truth = torch.from_numpy(ds.attribute_array())
    predicted = classifier.predict(ds.render_batch(np.arange(500)))
    for i, name in enumerate(("hair_colour", "eye_colour", "hair_style")):
        accuracy = (predicted[name] == truth[:, i]).float().mean().item()
        assert accuracy >= 0.99, f"{builder.__name__} {name}: {accuracy:.3f}"


def test_classifier_api(classifier):
    ds = toon_anime(size=(128, 128), length=8, seed=HELD_OUT_SEED)
    images = ds.render_batch(np.arange(8))
    predicted = classifier.predict(images)  # resized to 64 inside
    assert set(predicted) == {"hair_colour", "eye_colour", "hair_style"}
    assert all(v.dtype == torch.long and v.shape == (8,) for v in predicted.values())
    modes = classifier.modes(images.float() / 255)  # floats in [0, 1] work too
    assert modes.dtype == torch.long and modes.shape == (8,)
    assert 0 <= modes.min() and modes.max() <= 999
    features = classifier.features(images)
    assert features.dtype == torch.float32 and features.shape == (8, classifier.feature_dim)


def test_registry_builds_toon():
    ds = registry().build("datasets", "toon", size=(64, 64))
    assert isinstance(ds, ToonFaces) and ds.style == "anime"
    assert ds[0].shape == (3, 64, 64)
    photo = registry().build("datasets", "toon/photo", size=(32, 48), root=None)
    assert photo.style == "photo" and photo[0].shape == (3, 32, 48)
