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
from cli_helpers import run_main

import ganzoo
from ganzoo.cli import main
from ganzoo.cli.scaffold import new_plugin
from ganzoo.errors import GanzooError
from ganzoo.hub import load, save_pretrained
from ganzoo.optim import Stepper
from ganzoo.registry import Plugin, Registry, _read_manifest, discover

TINY = {"generator_args": {"width": 8, "latent_dim": 16}, "discriminator_args": {"width": 8}}


@pytest.mark.parametrize("task", ["unconditional", "translation"])
def test_files(tmp_path, task):
    root = new_plugin("my-gan", tmp_path, task=task)
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
        # named after the plugin: two plugins' tests/test_plugin.py clash in one pytest run
        "tests/test_ganzoo_my_gan.py",
    ]
    manifest = (root / "ganzoo_my_gan" / "manifest.py").read_text()
    shape = "CycleGAN" if task == "translation" else "UnconditionalGAN"
    assert f'"builder": "ganzoo.models:{shape}"' in manifest and f'"task": "{task}"' in manifest
    tag = "image-to-image" if task == "translation" else "unconditional-image-generation"
    assert f"pipeline_tag: {tag}" in (root / "model_card.md").read_text()
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["project"]["name"] == "ganzoo-my-gan"
    assert project["project"]["dependencies"] == [f"ganzoo-core>={ganzoo.__version__}"]
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
    with pytest.raises(GanzooError, match="task 'paired' is not one the scaffold makes"):
        new_plugin("paired-gan", tmp_path, task="paired")
    new_plugin("mine", tmp_path)
    with pytest.raises(GanzooError, match="already exists and is not empty"):
        new_plugin("mine", tmp_path)
    with pytest.raises(SystemExit) as excinfo:
        main(["new-plugin", "mine", "--dir", str(tmp_path)])
    assert excinfo.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not empty" in err[0]


def install_in_process(tmp_path, monkeypatch, name: str, task: str = "unconditional"):
    """The scaffold as if installed: its package importable and its manifest in the registry."""
    root = new_plugin(name, tmp_path, task=task)
    module = "ganzoo_" + name.replace("-", "_")
    monkeypatch.syspath_prepend(str(root))
    manifest = import_module(f"{module}.manifest").MANIFEST
    plugin = Plugin(name, f"ganzoo-{name}", "0.1.0", _read_manifest(name, manifest))
    reg = Registry([*discover(), plugin])
    # the modules, not ganzoo.registry (the package re-exports the function under that name)
    for using in ("ganzoo.registry", "ganzoo.recipes", "ganzoo.models", "ganzoo.cli"):
        monkeypatch.setattr(import_module(using), "registry", lambda: reg)
    return root, module


@pytest.fixture
def installed_in_process(tmp_path, monkeypatch):
    root, module = install_in_process(tmp_path, monkeypatch, "tiny-gan")
    yield root
    for name in [m for m in sys.modules if m.startswith(module)]:
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


def test_unsupported_size_is_one_error_line(installed_in_process, tmp_path, capsys):
    """The scaffold's networks raise ganzoo.GanzooError: the user reads one line, not a
    traceback of the network's constructor."""
    # --threads 1: with auto threads a busy machine adds a note line before the error
    args = ["run", "tiny-gan", "--data", "toon", "--size", "30", "--threads", "1"]
    code, out, err = run_main([*args, "--out", str(tmp_path / "run")], capsys)
    assert code == 1
    assert err.strip() == "error: tiny-gan needs an image size divisible by 4, got 30x30"


def test_translation_scaffold_trains_through_the_cli(tmp_path, monkeypatch, capsys):
    install_in_process(tmp_path, monkeypatch, "toon-cycle", task="translation")
    try:
        run = tmp_path / "run"
        code, out, err = run_main(
            ["new-plugin", "other", "--dir", str(tmp_path), "--task", "translation"], capsys
        )
        assert code == 0, err
        assert (tmp_path / "ganzoo-other" / "tests" / "test_ganzoo_other.py").is_file()
        code, out, err = run_main(
            ["run", "toon-cycle", "--data", "toon", "--steps", "2", "--size", "32",
             "--batch-size", "2", "--threads", "1", "--set", "generator_args.width=8",
             "--set", "discriminator_args.width=8", "--out", str(run), "--quiet"],
            capsys,
        )  # fmt: skip
        assert code == 0, err
        gan = load(run, device="cpu")
        assert gan.task == "translation" and gan.generator.latent_dim is None
        photos = torch.rand(2, 3, 32, 32)
        assert gan.translate(photos).shape == gan.translate(photos, reverse=True).shape
        code, out, err = run_main(["new-plugin", "x", "--task", "paired"], capsys)
        assert code == 2 and "'paired' is not one of 'unconditional', 'translation'" in err
    finally:
        for name in [m for m in sys.modules if m.startswith("ganzoo_toon_cycle")]:
            del sys.modules[name]


def test_generated_tests_of_two_scaffolds_pass_in_one_run(tmp_path):
    """Each scaffold's own tests, an unconditional and a translation plugin together in one
    pytest run (their test files are named after them, so they do not clash). Installed as pip
    lays a plugin out, without pip: the package on the path and a dist-info naming its entry
    point."""
    site_dir = tmp_path / "site"
    roots = []
    for name, task in (("uncond-gan", "unconditional"), ("trans-gan", "translation")):
        roots.append(new_plugin(name, tmp_path, task=task))
        module = "ganzoo_" + name.replace("-", "_")
        info = site_dir / f"{module}-0.1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: ganzoo-{name}\nVersion: 0.1.0\n"
        )
        (info / "entry_points.txt").write_text(
            f"[ganzoo.plugins]\n{name} = {module}.manifest:MANIFEST\n"
        )
    path = os.pathsep.join([str(site_dir), *map(str, roots), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    tests = [str(root / "tests") for root in roots]
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), *tests],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


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
