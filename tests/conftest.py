"""Fixtures shared by the metric and evaluation tests."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """torch on one thread: on a busy 2-core machine its second thread spins waiting for a core
    and makes every convolution several times slower (measured: 3 min instead of 35 s here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def private_caches(tmp_path, monkeypatch):
    """Never touch the user's caches, never download."""
    from ganzoo.metrics import inception

    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
