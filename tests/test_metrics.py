"""Metrics: agreement with torch-fidelity, sanity of every metric, caching, clear errors.

Offline and on the CPU: the Inception here has random weights in torch-fidelity's layout (the
real file is a 95 MB download), which is enough to check that our pipeline computes exactly what
torch-fidelity computes from the same network.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch_fidelity
from torch.utils.data import Dataset

from ganzoo.data.toon import toon_anime
from ganzoo.errors import GanzooError
from ganzoo.metrics import cache, inception
from ganzoo.metrics.base import Context, MetricResult
from ganzoo.metrics.inception import FID, KID, InceptionScore
from ganzoo.metrics.msssim import MSSSIM, mean_pair_msssim, ms_ssim, window_and_scales
from ganzoo.metrics.swd import SWD, swd
from ganzoo.metrics.toon import (
    ToonContent,
    ToonFID,
    ToonModes,
    expected_coverage,
    mode_stats,
)

N = 10  # images per set for Inception tests: it runs at 299x299, a few images per second here
SEED = 3


pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_caches")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(inception.random_inception_weights(tmp_path_factory.mktemp("w") / "random.pth"))


def noisy(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed)) * sigma
    return (images.float() + noise).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def faces():
    """``N`` toon faces at 32x32: the "real" images of the Inception tests."""
    return toon_anime(size=(32, 32), length=1000).render_batch(range(N))


class Images(Dataset):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i]


# ---------------------------------------------------------------------------------------------
# Inception metrics


SIGMAS = (0, 25, 70)  # noise added to the real faces to make the "generated" sets


@pytest.fixture(scope="module")
def inception_runs(weights, faces, tmp_path_factory):
    """Our fid, kid and is of the real faces plus noise, at each of ``SIGMAS``, each in a new
    evaluation; and torch-fidelity's numbers for the middle one. Shared by the tests below
    because every Inception pass and every 2048x2048 eigendecomposition costs seconds here."""
    real = faces
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANZOO_CACHE", str(tmp_path_factory.mktemp("cache")))
        extract = inception.extract
        mp.setattr(inception, "extract", lambda *a: calls.append(1) or extract(*a))
        ours = {}
        for sigma in SIGMAS:
            context = Context(seed=SEED, inception_weights=weights, real_key="faces")
            metrics = (FID(), KID(subset_size=N // 2), InceptionScore())
            if sigma != SIGMAS[1]:
                metrics = metrics[:1]
            fake = noisy(real, sigma)
            ours[sigma] = [m.compute(fake, real, context=context) for m in metrics]
    theirs = torch_fidelity.calculate_metrics(
        input1=Images(noisy(real, SIGMAS[1])),
        input2=Images(real),
        fid=True,
        kid=True,
        isc=True,
        cuda=False,
        feature_extractor_weights_path=weights,
        kid_subset_size=N // 2,
        rng_seed=SEED,
        cache=False,
        save_cpu_ram=True,  # no worker processes
        verbose=False,
    )
    return ours, theirs, len(calls)


def test_fid_kid_is_equal_torch_fidelity(inception_runs):
    ours, theirs, _ = inception_runs
    fid, kid, score = (result.values for result in ours[SIGMAS[1]])
    assert fid["fid"] == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    assert kid["kid"] == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)
    assert kid["std"] == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-3)
    assert score["is"] == pytest.approx(theirs["inception_score_mean"], rel=1e-5)
    assert score["std"] == pytest.approx(theirs["inception_score_std"], rel=1e-4, abs=1e-6)


def test_fid_is_zero_on_itself_and_grows_with_noise(inception_runs):
    ours, _, extractions = inception_runs
    fids = [ours[sigma][0].values["fid"] for sigma in SIGMAS]
    assert abs(fids[0]) < 1e-3 * fids[1]
    assert fids[0] < fids[1] < fids[2]
    # the real statistics went to the cache: later evaluations extract the generated side only
    assert extractions == 1 + len(SIGMAS)
    protocol = ours[SIGMAS[1]][0].protocol
    assert f"{N} generated vs {N} real" in protocol and "299x299" in protocol
    assert "random.pth" in protocol and f"seed {SEED}" in protocol
    assert f"100 subsets of {N // 2}" in ours[SIGMAS[1]][1].protocol


# ---------------------------------------------------------------------------------------------
# SWD and MS-SSIM


def test_swd_grows_with_noise():
    ds = toon_anime(size=(32, 32), length=1000)
    real, other = ds.render_batch(range(32)), ds.render_batch(range(500, 532))
    values = [swd(noisy(other, sigma), real, seed=0) for sigma in (0, 10, 40)]
    assert list(values[0]) == ["32px", "16px", "avg"]
    averages = [v["avg"] for v in values]
    assert averages[0] < averages[1] < averages[2]
    assert values[0]["32px"] < values[1]["32px"] < values[2]["32px"]
    assert swd(other, real, seed=0) == values[0]  # deterministic in the seed
    result = SWD().compute(other, real, context=Context(seed=0))
    assert "32 generated vs 32 real" in result.protocol and "x1e3" in result.protocol


def test_msssim_identical_is_one_and_noise_is_low():
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(8, 3, 64, 64, generator=g) * 255).to(torch.uint8)
    b = (torch.rand(8, 3, 64, 64, generator=g) * 255).to(torch.uint8)
    assert torch.allclose(ms_ssim(a, a), torch.ones(8), atol=1e-5)
    assert ms_ssim(a, b).max() < 0.1
    assert window_and_scales(64, 64) == (7, 4)
    assert window_and_scales(256, 256) == (11, 5)
    collapsed = a[:1].expand(16, -1, -1, -1)
    assert mean_pair_msssim(collapsed, 0, torch.device("cpu")) == pytest.approx(1, abs=1e-5)
    result = MSSSIM().compute(collapsed, torch.cat([a, b]), context=Context(seed=0))
    assert result.values["generated"] > 0.99 > 0.1 > result.values["real"]
    assert "4 scales" in result.protocol and "7-px" in result.protocol


# ---------------------------------------------------------------------------------------------
# toon metrics


class OracleClassifier:
    """Stands in for the toon classifier: reads the mode that ``coded`` wrote into a pixel."""

    feature_dim = 2

    def state_dict(self):
        return {"w": torch.ones(1)}

    def features(self, images):
        return images[:, :2, 0, 0].float()

    def modes(self, images):
        return images[:, 0, 0, 0].long() * 4 + images[:, 1, 0, 0].long() // 64

    def predict(self, images):
        m = self.modes(images)
        return {"hair_colour": m // 100, "eye_colour": m // 10 % 10, "hair_style": m % 10}


def coded(modes):
    images = torch.zeros(len(modes), 3, 8, 8, dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.as_tensor(modes) // 4
    images[:, 1, 0, 0] = torch.as_tensor(modes) % 4 * 64
    return images


def test_mode_counting_with_a_stand_in_classifier(monkeypatch):
    import ganzoo.metrics.toon as toon

    monkeypatch.setattr(toon, "classifier", lambda device: OracleClassifier())
    uniform = torch.randint(0, 1000, (3000,), generator=torch.Generator().manual_seed(0))
    context = Context(real_dataset=toon_anime(size=(32, 32)))
    result = ToonModes().compute(coded(uniform), coded(torch.arange(1000)), context=context)
    assert result.values["modes_real"] == 1000 and result.values["kl_real"] == pytest.approx(0)
    # 3,000 uniform draws cover 950 modes on average, with a standard deviation of about 7
    assert abs(result.values["modes"] - expected_coverage(3000)) < 35
    assert result.values["kl"] < 0.5
    collapsed = ToonModes().compute(coded([7] * 3000), coded(range(1000)), context=context)
    assert collapsed.values["modes"] == 1 and collapsed.values["kl"] == pytest.approx(np.log(1000))
    assert mode_stats(torch.tensor([1, 2])) == (2, pytest.approx(np.log(500)))


def test_content_with_a_stand_in_classifier(monkeypatch):
    import ganzoo.metrics.toon as toon

    monkeypatch.setattr(toon, "classifier", lambda device: OracleClassifier())
    modes = torch.arange(0, 1000, 10)
    truth = np.stack([modes // 100, modes // 10 % 10, modes % 10], 1)
    context = Context(task="translation", source_attributes=truth, source=coded(modes))
    kept = ToonContent().compute(coded(modes), coded(modes), context=context)
    assert kept.values["all"] == 1 and kept.values["source_all"] == 1
    shifted = ToonContent().compute(coded(modes + 1), coded(modes), context=context)
    assert shifted.values["all"] == 0 and shifted.values["hair_colour"] == 1


def test_toon_fid_with_a_stand_in_classifier(monkeypatch):
    import ganzoo.metrics.toon as toon

    monkeypatch.setattr(toon, "classifier", lambda device: OracleClassifier())
    modes = torch.randint(0, 1000, (500,), generator=torch.Generator().manual_seed(0))
    real = coded(modes)
    context = Context(real_dataset=toon_anime(size=(32, 32)), real_key="coded")
    same = ToonFID().compute(real, real, context=context).values["toon-fid"]
    shifted = ToonFID().compute(coded((modes + 300) % 1000), real, context=context)
    assert abs(same) < 1e-6 < shifted.values["toon-fid"]
    assert "500 generated vs 500 real" in shifted.protocol
    assert len(list(cache.cache_dir().glob("toon-features-*.npz"))) == 1


def test_toon_metrics_need_toon_data():
    context = Context(real_dataset=Images(torch.zeros(4, 3, 32, 32, dtype=torch.uint8)), data="x")
    with pytest.raises(GanzooError, match="needs toon data"):
        ToonModes().check(context)
    with pytest.raises(GanzooError, match="scores translators"):
        ToonContent().check(Context(real_dataset=toon_anime(size=(32, 32))))


def _shipped_classifier():
    from ganzoo.data import toon_classifier

    if not toon_classifier.WEIGHTS.is_file():
        pytest.skip("the toon classifier's weights are not shipped in this checkout yet")


def test_toon_modes_with_the_shipped_classifier():
    _shipped_classifier()
    ds = toon_anime(size=(64, 64), length=20000)
    real = ds.render_batch(range(1000))  # each block of 1,000 indices holds every mode once
    context = Context(real_dataset=ds)
    ToonModes().check(context)
    result = ToonModes().compute(real, real, context=context)
    assert result.values["modes"] >= 950 and result.values["kl"] < 0.1
    collapsed = ToonModes().compute(real[:1].expand(1000, -1, -1, -1), real, context=context)
    assert collapsed.values["modes"] <= 10


def test_toon_content_with_the_shipped_classifier():
    _shipped_classifier()
    from ganzoo.data.toon import toon_photo

    photo, anime = toon_photo(size=(64, 64)), toon_anime(size=(64, 64))
    index = np.arange(300)
    context = Context(
        task="translation",
        real_dataset=anime,
        source=photo.render_batch(index),
        source_attributes=photo.attribute_array()[index],
    )
    ToonContent().check(context)
    # a perfect translator draws the same face in the anime style
    perfect = ToonContent().compute(
        anime.render_batch(index), anime.render_batch(index), context=context
    )
    assert perfect.values["all"] >= 0.9 and perfect.values["source_all"] >= 0.9
    # a collapsed one keeps the attributes of one face only
    collapsed = anime.render_batch([0]).expand(300, -1, -1, -1)
    assert ToonContent().compute(collapsed, collapsed, context=context).values["all"] < 0.05


# ---------------------------------------------------------------------------------------------
# results and the cache


def test_result_as_dict():
    result = MetricResult("swd", {"avg": np.float32(1.5)}, "64 images", "toon")
    assert result.as_dict() == {
        "name": "swd",
        "values": {"avg": 1.5},
        "protocol": "64 images",
        "data": "toon",
    }


def test_reference_cache_is_keyed_and_written_once():
    calls = []

    def compute():
        calls.append(1)
        return {"mu": np.arange(3.0)}

    first = cache.cached_arrays("t", {"real": "a"}, compute)
    second = cache.cached_arrays("t", {"real": "a"}, compute)
    cache.cached_arrays("t", {"real": "b"}, compute)
    cache.cached_arrays("t", None, compute)  # no identity: never cached
    cache.cached_arrays("t", None, compute)
    assert len(calls) == 4
    assert np.array_equal(first["mu"], second["mu"])
    files = sorted(p.name for p in cache.cache_dir().iterdir())
    assert len(files) == 2 and all(f.startswith("t-") and f.endswith(".npz") for f in files)
