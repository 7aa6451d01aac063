"""``benchmarks/device_run.py``: the data packed for a device call, a checkout that trains there
with no install, and the zoo weights left out of git's index for the call and put back after."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from argparse import Namespace
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganzoo.data.images import decode


@pytest.fixture
def device_run(load_benchmark, monkeypatch, tmp_path):
    module = load_benchmark("device_run")
    monkeypatch.setattr(module, "PACKED", tmp_path / ".device")
    monkeypatch.setattr(sys, "path", list(sys.path))  # importable_source_tree extends it
    return module


def fake_data(root: Path) -> None:
    """Photos shaped like CelebA's (178x218) and 64x64 anime faces, as GANZOO_DATA holds them."""
    rng = np.random.default_rng(0)
    for folder, size, count in (("celeba-faces", (218, 178), 6), ("anime-faces-64", (64, 64), 6)):
        (root / folder).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / folder / f"{i:06d}.png")


def test_pack_then_train_from_the_packed_data(device_run, monkeypatch, tmp_path, one_torch_thread):
    data = tmp_path / "data"
    fake_data(data)
    monkeypatch.setenv("GANZOO_DATA", str(data))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    device_run.pack(Namespace())

    # each copy is the 64x64 crop that training takes of the original, up to JPEG's loss
    photo = (data / "celeba-faces" / "000003.png").read_bytes()
    copy = tmp_path / ".device" / "data" / "celeba-faces" / "000003.jpg"
    expected, _ = decode(photo, (64, 64), "face")
    got = np.asarray(Image.open(copy)).transpose(2, 0, 1)
    assert got.shape == (3, 64, 64)
    assert np.abs(got.astype(int) - expected).mean() < 40  # noise is JPEG's worst case
    assert len(list((tmp_path / ".device" / "data" / "anime-faces-64").glob("*.jpg"))) == 6

    # on the device: GANZOO_DATA unset, the packed copy is the data
    monkeypatch.delenv("GANZOO_DATA")
    width8 = ['generator_args={"width": 8, "stem_skip": true}', 'discriminator_args={"width": 8}']
    train = ["train", "--out", str(tmp_path / "out"), "--minutes", "0", "--batch-size", "2"]
    train += ["--stages", "2", "--warmup", "1", "--device", "cpu", "--set", width8[0]]
    assert device_run.main([*train, "--set", width8[1]]) == 0
    entries = sorted((tmp_path / "out").glob("*.tar"))
    assert [e.name for e in entries] == ["improved-anime-10.tar", "improved-anime-12.tar"]
    with tarfile.open(entries[-1]) as archive:
        archive.extractall(tmp_path / "back", filter="data")
    config = json.loads((tmp_path / "back" / "improved-anime-12" / "config.json").read_text())
    assert config["training"] == {"data": "anime", "source": "celeba", "step": 6}
    assert config["recipe"]["generator_args"]["width"] == 8
    card = (tmp_path / "back" / "improved-anime-12" / "README.md").read_text()
    # ready to take the bundled entry's place: the card names it, not the folder
    assert "entry: improved-anime\n" in card and "improved-anime-12" not in card


def test_the_checkout_registers_every_distribution(device_run, tmp_path):
    device_run.importable_source_tree(tmp_path / "site")
    found = {d.metadata["Name"]: d for d in metadata.distributions(path=[str(tmp_path / "site")])}
    assert set(found) == {
        "ganzoo-core",
        "ganzoo-dcgan",
        "ganzoo-wgan",
        "ganzoo-improved",
        "ganzoo-cut",
    }
    plugins = {
        ep.name for d in found.values() for ep in d.entry_points if ep.group == "ganzoo.plugins"
    }
    assert plugins == {"ganzoo", "dcgan", "wgan", "improved", "cut"}
    assert str(device_run.ROOT / "plugins" / "improved") in sys.path


def git(repo: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args]
    return subprocess.run(command, cwd=repo, check=True, capture_output=True, text=True).stdout


def test_slim_leaves_the_weights_out_and_restore_puts_them_back(device_run, monkeypatch, tmp_path):
    repo = tmp_path / "repo"
    weights = repo / "plugins" / "p" / "pkg" / "zoo" / "e" / "model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"\0" * 1000)
    (repo / "README.md").write_text("hello\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "zoo")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.parent.mkdir(exist_ok=True)
    exclude.write_text("# a line of the user's\n*.tmp\n")
    monkeypatch.setattr(device_run, "ROOT", repo)

    assert device_run.slim(Namespace()) == 0
    assert git(repo, "status", "--porcelain").splitlines() == [f"D  {weights.relative_to(repo)}"]
    assert git(repo, "ls-files", "-co", "--exclude-standard").split() == ["README.md"]
    assert weights.read_bytes() == b"\0" * 1000  # on disk all along

    assert device_run.restore(Namespace()) == 0
    assert git(repo, "status", "--porcelain") == ""
    assert exclude.read_text() == "# a line of the user's\n*.tmp\n"
