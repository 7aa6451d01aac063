"""Fixtures shared by the tests: benchmark scripts as modules, torch on one thread."""

import importlib.util
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="session")
def load_benchmark():
    """``load_benchmark("search")``: a script of benchmarks/ imported as a module, to test its
    functions without running it."""

    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load


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
