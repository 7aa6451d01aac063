"""``ganzoo new-plugin``: the scaffold is a plugin that installs, lists and trains at once."""

from __future__ import annotations

import importlib.util
import os
import site
import subprocess
import sys
import tomllib
from importlib import import_module

import pytest
import torch

import ganzoo
from ganzoo.cli import main
from ganzoo.errors import GanzooError
from ganzoo.hub import load, save_pretrained
from ganzoo.optim import Stepper
from ganzoo.registry import Plugin, Registry, _read_manifest, discover
from ganzoo.scaffold import new_plugin

TINY = {"generator_args": {"width": 8, "latent_dim": 16}, "discriminator_args": {"width": 8}}


def test_files(tmp_path):
    root = new_plugin("my-gan", tmp_path)
    assert root == tmp_path / "ganzoo-my-gan"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "README.md",
        "ganzoo_my_gan/__init__.py",
        "ganzoo_my_gan/losses.py",
        "ganzoo_my_gan/manifest.py",
        "ganzoo_my_gan/networks.py",
        "ganzoo_my_gan/zoo/README.md",
        "model_card.md",
        "pyproject.toml",
        "tests/test_plugin.py",
    ]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["project"]["name"] == "ganzoo-my-gan"
    assert project["project"]["dependencies"] == [f"ganzoo>={ganzoo.__version__}"]
    entry_points = project["project"]["entry-points"]["ganzoo.plugins"]
    assert entry_points == {"my-gan": "ganzoo_my_gan.manifest:MANIFEST"}
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # every file is valid Python


@pytest.mark.parametrize("name", ["MyGan", "1gan", "my_gan", "my--gan", "-gan", "gan-", "", "a b"])
def test_bad_names(tmp_path, name):
    with pytest.raises(GanzooError, match="lowercase letters, digits and single hyphens"):
        new_plugin(name, tmp_path)


def test_refusals(tmp_path, capsys):
    with pytest.raises(GanzooError, match="already registered by plugin 'dcgan'"):
        new_plugin("dcgan", tmp_path)
    new_plugin("mine", tmp_path)
    with pytest.raises(GanzooError, match="already exists and is not empty"):
        new_plugin("mine", tmp_path)
    with pytest.raises(SystemExit) as excinfo:
        main(["new-plugin", "mine", "--dir", str(tmp_path)])
    assert excinfo.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not empty" in err[0]


@pytest.fixture
def installed_in_process(tmp_path, monkeypatch):
    """The scaffold as if installed: its package importable and its manifest in the registry."""
    root = new_plugin("tiny-gan", tmp_path)
    monkeypatch.syspath_prepend(str(root))
    manifest = import_module("ganzoo_tiny_gan.manifest").MANIFEST
    plugin = Plugin("tiny-gan", "ganzoo-tiny-gan", "0.1.0", _read_manifest("tiny-gan", manifest))
    reg = Registry([*discover(), plugin])
    # the modules, not ganzoo.registry (the package re-exports the function under that name)
    monkeypatch.setattr(import_module("ganzoo.registry"), "registry", lambda: reg)
    monkeypatch.setattr(import_module("ganzoo.models"), "registry", lambda: reg)
    yield root
    for name in [m for m in sys.modules if m.startswith("ganzoo_tiny_gan")]:
        del sys.modules[name]


@pytest.mark.parametrize("size", [32, "48x64", 100, 128])
def test_scaffold_builds_and_steps(installed_in_process, size):
    torch.manual_seed(0)
    gan = ganzoo.create("tiny-gan", size=size, **TINY)
    height, width = gan.image_size
    batch = {"target": torch.rand(2, 3, height, width) * 2 - 1}
    stepper = Stepper(gan.configure_optimizers(), torch.device("cpu"), "fp32")
    logs = gan.train_step(batch, 0, stepper)
    assert set(logs) == {"loss_d", "loss_g"} and all(torch.isfinite(v) for v in logs.values())
    assert gan.sample(2, seed=0).shape == (2, 3, height, width)


def test_scaffold_saves_and_loads(installed_in_process, tmp_path):
    gan = ganzoo.create("tiny-gan", size=32, **TINY).eval()
    folder = save_pretrained(gan, tmp_path / "out")
    assert torch.equal(load(folder, device="cpu").sample(2, seed=3), gan.sample(2, seed=3))


def see_this_environment(python: str) -> None:
    """Makes the venv of ``python`` see this environment's packages (torch, ganzoo, pip,
    hatchling), so that nothing is fetched. Not --system-site-packages: from inside a venv that
    reaches the base interpreter's packages, not this venv's. addsitedir, not plain paths, so
    that this environment's .pth files (editable installs) apply too."""
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    lines = [f"import site; site.addsitedir({d!r})" for d in dirs if os.path.isdir(d)]
    target = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    with open(os.path.join(target, "_this_environment.pth"), "w") as handle:
        handle.write("\n".join(lines) + "\n")


@pytest.mark.skipif(
    importlib.util.find_spec("hatchling") is None,
    reason="hatchling is not installed (pip install hatchling): the editable install needs it",
)
def test_pip_install_lists_and_trains(tmp_path):
    """The real thing, about 20 s: a venv on top of this environment, `pip install -e` of the
    scaffold, then `ganzoo list`, `ganzoo run NAME --data toon` and `ganzoo sample` from it."""
    root = new_plugin("venv-gan", tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    see_this_environment(python)
    env = {**os.environ, "GANZOO_CACHE": str(tmp_path / "cache")}

    def ganzoo_cli(*args: str) -> str:
        done = subprocess.run(
            [python, "-m", "ganzoo.cli", *args], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    install = [python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*install, "-e", str(root)], check=True, env=env)
    assert "venv-gan" in ganzoo_cli("list", "--kind", "models")
    run = tmp_path / "run"
    ganzoo_cli(
        "run", "venv-gan", "--data", "toon", "--steps", "5", "--size", "32", "--batch-size", "4",
        "--set", "generator_args.width=8", "--set", "discriminator_args.width=8",
        "--out", str(run), "--quiet",
    )  # fmt: skip
    assert (run / "export" / "model.safetensors").is_file()
    grid = tmp_path / "grid.png"
    ganzoo_cli("sample", str(run), "-n", "4", "-o", str(grid))
    assert grid.is_file()
