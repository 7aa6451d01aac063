"""Plugin discovery through real entry points, name clashes, broken plugins, list and info."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.recipes import parse_assignments, parse_size, resolve_recipe
from ganzoo.registry import Registry, _read_manifest, registry


def make_distribution(
    site: Path, dist: str, module: str, files: dict[str, str], entry_points: dict[str, str]
) -> None:
    """Installs a throwaway distribution the way pip lays one out: the package and a dist-info
    folder whose entry_points.txt importlib.metadata reads."""
    for name, text in files.items():
        path = site / module / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    info = site / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[ganzoo.plugins]\n{lines}\n")


def run_ganzoo(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-m", "ganzoo.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    # a good plugin that also claims the name "bce", already taken by the dcgan plugin
    make_distribution(
        site,
        "zz-extra",
        "zz_extra",
        {
            "__init__.py": "",
            "manifest.py": """
            MANIFEST = {
                "losses": {
                    "hinge": {"builder": "zz_extra.losses:Hinge", "summary": "hinge loss"},
                    "bce": {"builder": "zz_extra.losses:OtherBCE", "summary": "another bce"},
                },
            }
        """,
        },
        {"zz-extra": "zz_extra.manifest:MANIFEST"},
    )
    # a plugin whose manifest cannot be imported
    make_distribution(
        site,
        "broken-plugin",
        "broken_plugin",
        {
            "__init__.py": "",
            "manifest.py": "import a_module_that_does_not_exist\nMANIFEST = {}\n",
        },
        {"broken": "broken_plugin.manifest:MANIFEST"},
    )
    return site


def test_installed_plugins_register_the_three_models():
    assert {"dcgan", "wgan", "improved"} <= set(ganzoo.list_models())
    assert ganzoo.list_models("w*") == ["wgan"]
    plugins = {p.name: p for p in ganzoo.list_plugins()}
    assert plugins["dcgan"].distribution == "ganzoo-dcgan" and not plugins["dcgan"].broken
    # the improved model takes its losses from the wgan plugin, by name
    recipes = registry().get("models", "improved").spec["recipes"]
    for recipe, name in (("default", "wasserstein-gp"), ("paper", "wasserstein-clip")):
        loss = registry().get("losses", name)
        assert loss.plugin == "wgan"
        assert recipes[recipe]["loss"] == loss.name


def test_throwaway_and_broken_plugins_through_real_entry_points(site):
    result = run_ganzoo(site, "list", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    losses = {row["name"]: row["plugin"] for row in listing["losses"]}
    assert losses["hinge"] == "zz-extra"
    assert {"dcgan", "wgan", "improved"} <= {row["name"] for row in listing["models"]}
    [broken] = listing["broken_plugins"]
    assert broken["name"] == "broken"
    assert (
        "ModuleNotFoundError" in broken["error"]
        and "a_module_that_does_not_exist" in broken["error"]
    )

    text = run_ganzoo(site, "list", "--kind", "plugins")
    assert text.returncode == 0
    line = next(ln for ln in text.stdout.splitlines() if ln.startswith("broken"))
    assert "broken: ModuleNotFoundError" in line and "0.3.1" in line


def test_duplicate_names_warn_and_resolve_deterministically(site):
    result = run_ganzoo(site, "info", "bce", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["plugin"] == "dcgan"  # "dcgan" sorts before "zz-extra"
    assert "registered by plugins 'dcgan' and 'zz-extra'" in result.stderr
    assert "zz-extra:bce" in result.stderr
    other = run_ganzoo(site, "info", "zz-extra:bce", "--json")
    assert json.loads(other.stdout)["summary"] == "another bce"


def test_registry_rules_in_process():
    reg = Registry([])
    assert reg.entries("models") == []
    with pytest.raises(GanzooError, match="no model named 'nope'"):
        reg.get("models", "nope")
    with pytest.raises(ValueError, match="unknown sections"):
        _read_manifest("x", {"modles": {}})
    with pytest.raises(ValueError, match="module:attr"):
        _read_manifest("x", {"models": {"m": {"builder": "no_colon"}}})


def test_list_never_imports_torch():
    code = (
        "import sys; from ganzoo.cli import main\n"
        "try:\n    main(['list'])\nexcept SystemExit:\n    pass\n"
        "main_mods = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
        "print('TORCH', bool(main_mods))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "dcgan" in result.stdout and "improved" in result.stdout
    assert result.stdout.strip().endswith("TORCH False")


def test_info_of_a_model_shows_components_recipe_and_parameters():
    result = subprocess.run(
        [sys.executable, "-m", "ganzoo.cli", "info", "dcgan", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["plugin"] == "dcgan" and info["version"] == "0.1.0"
    assert info["components"]["loss"]["name"] == "bce"
    assert info["default_recipe"]["lr_g"] == 2e-4
    assert info["parameters"]["generator"] > 1_000_000
    assert info["parameters"]["discriminator"] > 1_000_000


def test_unknown_name_is_one_clear_line():
    result = subprocess.run(
        [sys.executable, "-m", "ganzoo.cli", "info", "nope"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: nothing named 'nope'; see `ganzoo list`"


def test_recipes_resolve_paper_settings_and_overrides():
    spec = registry().get("models", "wgan").spec
    paper = resolve_recipe(spec, "paper")
    assert (paper["optimizer"], paper["lr_g"], paper["epochs"]) == ("sgd", 0.002, 200)
    default = resolve_recipe(spec, "default", parse_assignments(["n_critic=3", "size=128x160"]))
    assert default["n_critic"] == 3 and parse_size(default["size"]) == (160, 128)
    # changing the loss drops the old loss's arguments, unless new ones are given
    gp = resolve_recipe(spec, "default", {"loss": "wasserstein-gp"})
    assert gp["loss"] == "wasserstein-gp" and gp["loss_args"] == {}
    gp5 = resolve_recipe(
        spec, "default", parse_assignments(["loss=wasserstein-gp", "loss_args.gp_lambda=5"])
    )
    assert gp5["loss_args"] == {"gp_lambda": 5}
    with pytest.raises(GanzooError, match="unknown recipe field 'lr'"):
        resolve_recipe(spec, "default", {"lr": 1})
    with pytest.raises(GanzooError, match="no recipe named 'fast'"):
        resolve_recipe(spec, "fast")
    with pytest.raises(GanzooError, match="not an integer or WxH"):
        parse_size("big")


def test_set_values_are_typed():
    assert parse_assignments(["lr_g=1e-3", "betas=[0.0, 0.9]", "loss=bce", "epochs=null"]) == {
        "lr_g": 0.001,
        "betas": [0.0, 0.9],
        "loss": "bce",
        "epochs": None,
    }
    spec = registry().get("models", "dcgan").spec
    with pytest.raises(GanzooError, match="'lr_g' takes a number, got 'fast'"):
        resolve_recipe(spec, "default", {"lr_g": "fast"})
