"""precision, recall, density and coverage: the numbers on synthetic feature sets (equal to the
authors' ``prdc`` package where it is installed), and one Inception pass per image set when an
evaluation asks for them beside fid and kid."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch

import ganzoo.evaluate as ev
from ganzoo.errors import GanzooError
from ganzoo.metrics import inception
from ganzoo.metrics.base import Context
from ganzoo.metrics.manifold import Precision, density_coverage, precision_recall

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_caches")

MODES, PER_MODE, DIM = 5, 100, 8


def mixture(seed: int) -> torch.Tensor:
    """500 feature rows from 5 well-separated Gaussian modes (the same modes for every seed)."""
    centres = torch.randn(MODES, DIM, generator=torch.Generator().manual_seed(0)) * 6
    noise = torch.randn(MODES, PER_MODE, DIM, generator=torch.Generator().manual_seed(seed))
    return (centres[:, None] + noise).reshape(-1, DIM)


def all_four(fake: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    return {**precision_recall(fake, real), **density_coverage(fake, real)}


def test_equal_to_the_prdc_package():
    prdc = pytest.importorskip("prdc")
    real, fake = mixture(1), mixture(2)[::2] * 1.1 + 0.5
    with contextlib.redirect_stdout(io.StringIO()):  # compute_prdc prints the set sizes
        k3 = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=3)
        k5 = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=5)
    ours = all_four(fake, real)
    assert 0.1 < ours["precision"] < 0.95 and 0.1 < ours["coverage"] < 0.95  # not trivial
    for name, theirs in (("precision", k3), ("recall", k3), ("density", k5), ("coverage", k5)):
        assert ours[name] == pytest.approx(float(theirs[name]), abs=1e-6), name


def test_a_set_against_itself_is_perfect():
    real = mixture(1)
    same = all_four(real.clone(), real)
    assert same["precision"] == same["recall"] == same["coverage"] == 1
    assert same["density"] == pytest.approx(1, abs=0.05)


def test_a_shifted_copy_loses_precision_and_density():
    real = mixture(1)
    alike = all_four(mixture(2), real)  # another sample of the same distribution
    shifted = all_four(mixture(2) + 1.5, real)  # 1.5 standard deviations along each axis
    assert alike["precision"] > 0.8 and alike["density"] > 0.8
    assert shifted["precision"] < alike["precision"] / 2
    assert shifted["density"] < alike["density"] / 2


def test_a_collapsed_copy_loses_recall_and_coverage():
    real = mixture(1)
    alike = all_four(mixture(2), real)
    # every sample near the first mode's centre: realistic, but one mode of five
    noise = torch.randn(MODES * PER_MODE, DIM, generator=torch.Generator().manual_seed(3))
    collapsed = mixture(2)[:PER_MODE].mean(0) + 0.5 * noise
    low = all_four(collapsed, real)
    assert alike["recall"] > 0.8 and alike["coverage"] > 0.8
    assert low["recall"] < 0.25 and low["coverage"] < 0.25
    assert low["precision"] > 0.8  # fidelity is kept: FID alone could not tell these apart


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return str(inception.random_inception_weights(tmp_path_factory.mktemp("w") / "random.pth"))


def test_one_evaluation_extracts_features_once_for_all_inception_metrics(weights, monkeypatch):
    calls = []
    extract = inception.extract
    monkeypatch.setattr(inception, "extract", lambda *a, **k: calls.append(1) or extract(*a, **k))
    names = ["fid", "kid", "precision", "recall", "density", "coverage"]
    results = ev.evaluate(
        "toon", "toon", names, n=8, size=(32, 32), device="cpu", inception_weights=weights
    )
    assert len(calls) == 2  # one pass over the generated images, one over the real ones
    assert [r.name for r in results] == names
    for result in results[2:]:
        assert 0 <= result.values[result.name] <= 5  # density may exceed 1; the rest may not
        assert "balls around 8 real and 8 generated" in result.protocol
    assert "k=3" in results[2].protocol and "k=5" in results[4].protocol


def test_too_few_images_is_one_line(weights, monkeypatch):
    rows = torch.rand(3, 2048)
    monkeypatch.setattr(inception, "extract", lambda *a, **k: {inception.POOL3: rows})
    images = torch.zeros(3, 3, 8, 8, dtype=torch.uint8)
    context = Context(inception_weights=weights)
    with pytest.raises(GanzooError, match=r"^precision needs more than 3 images on each side"):
        Precision().compute(images, images.clone(), context=context)
