"""Plugin discovery through real entry points, name clashes, broken plugins, list and info."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings
from importlib import import_module
from pathlib import Path

import pytest
from cli_helpers import run_main

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.models import build, make_config
from ganzoo.recipes import parse_assignments, parse_size, resolve_recipe
from ganzoo.registry import Plugin, Registry, _read_manifest, discover, registry


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
    # the improved model takes its losses from the dcgan and wgan plugins, named as plugin:name
    # so that another plugin's loss of the same name never replaces them
    recipes = registry().get("models", "improved").spec["recipes"]
    for recipe, plugin, name in (
        ("default", "dcgan", "least-squares"),
        ("wasserstein", "wgan", "wasserstein-gp"),
        ("paper", "wgan", "wasserstein-clip"),
    ):
        loss = registry().get("losses", name)
        assert loss.plugin == plugin
        assert recipes[recipe]["loss"] == loss.qualified_name == f"{plugin}:{name}"


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
    info = json.loads(result.stdout)
    assert info["plugin"] == "dcgan"  # "dcgan" sorts before "zz-extra"
    assert info["kind"] == "loss" and info["also_registered_as"] == ["zz-extra:bce"]
    assert "registered by plugins 'dcgan' and 'zz-extra'" in result.stderr
    assert "elsewhere 'bce' means dcgan:bce (write zz-extra:bce for the other)" in result.stderr
    other = run_ganzoo(site, "info", "zz-extra:bce", "--json")
    assert json.loads(other.stdout)["summary"] == "another bce"
    # the listing shows both, the other under the name that reaches it
    listing = run_ganzoo(site, "list", "--kind", "losses", "--json")
    rows = {row["name"]: row["plugin"] for row in json.loads(listing.stdout)}
    assert rows["bce"] == "dcgan" and rows["zz-extra:bce"] == "zz-extra"


def clashing_plugin() -> Plugin:
    """A plugin that sorts before all others and registers the names the built-in models use.
    Its builders cannot be imported: building any of them fails the test loudly."""
    names = {
        "losses": ["bce", "least-squares", "wasserstein-gp", "wasserstein-clip"],
        "generators": ["dcgan-generator", "improved-generator"],
        "discriminators": ["wgan-critic", "patchgan70"],
    }
    manifest = {
        kind: {name: {"builder": "aaa_clash.fake:Thing"} for name in found}
        for kind, found in names.items()
    }
    return Plugin("aaa-clash", "aaa-clash", "1.0", _read_manifest("aaa-clash", manifest))


def with_clashing_plugin() -> tuple[Registry, list[str]]:
    """The installed plugins and ``clashing_plugin``; the warnings that the clashes give."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = Registry([*discover(), clashing_plugin()])
    return reg, [str(w.message) for w in caught]


def test_a_clashing_plugin_changes_no_existing_model(monkeypatch):
    reg, warned = with_clashing_plugin()
    assert len(warned) == 8
    assert any("elsewhere 'bce' means aaa-clash:bce (write dcgan:bce" in w for w in warned)
    for using in ("ganzoo.registry", "ganzoo.recipes", "ganzoo.models"):
        monkeypatch.setattr(import_module(using), "registry", lambda: reg)
    # a bare name with no model around means the first registration by plugin name
    assert reg.find("losses", "bce").plugin == "aaa-clash"

    def tiny(**more):
        return {"size": 32, "generator_args.width": 8, "discriminator_args.width": 8, **more}

    built = {
        "dcgan": build(make_config("dcgan", overrides=tiny())),
        "wgan": build(make_config("wgan", overrides=tiny())),
        # a user's bare name resolves in the model's own plugin too
        "wgan-gp": build(
            make_config(
                "wgan",
                overrides=tiny(loss="wasserstein-gp", **{"discriminator_args.norm": "layer"}),
            )
        ),
        "improved": build(make_config("improved", overrides=tiny())),
        "improved-gp": build(make_config("improved", "wasserstein", overrides=tiny())),
        "improved-paper": build(make_config("improved", "paper", overrides=tiny())),
    }
    kinds = {
        name: (type(gan.generator).__name__, type(gan.discriminator).__name__)
        for name, gan in built.items()
        if hasattr(gan, "discriminator")
    }
    assert kinds["dcgan"] == ("DCGANGenerator", "DCGANDiscriminator")
    assert kinds["wgan"] == kinds["wgan-gp"] == ("DCGANGenerator", "DCGANDiscriminator")
    losses = {name: type(gan.loss).__name__ for name, gan in built.items()}
    assert losses == {
        "dcgan": "BCELoss",
        "wgan": "WassersteinClip",
        "wgan-gp": "WassersteinGP",
        "improved": "LeastSquaresLoss",
        "improved-gp": "WassersteinGP",
        "improved-paper": "WassersteinClip",
    }
    assert type(built["improved"].generator).__name__ == "ImprovedGenerator"
    assert type(built["improved"].discriminator_target).__name__ == "PatchGAN70"
    # the config records names that mean the same entry wherever it is loaded
    config = make_config("dcgan", overrides=tiny())
    assert config["components"]["loss"]["name"] == "dcgan:bce"
    assert make_config("wgan")["components"]["generator"]["name"] == "dcgan:dcgan-generator"


def test_a_bare_name_that_several_other_plugins_register_is_refused():
    reg, warned = with_clashing_plugin()
    # a model of a third plugin has no bce of its own, and two others do: it must choose
    with pytest.raises(GanzooError, match="write aaa-clash:bce or dcgan:bce"):
        reg.get("losses", "bce", plugin="third")
    assert reg.get("losses", "bce", plugin="dcgan").plugin == "dcgan"
    only_one = reg.get("discriminators", "dcgan-discriminator", plugin="third")
    assert only_one.plugin == "dcgan"
    assert reg.resolve_name("losses", "bce", "dcgan") == "dcgan:bce"
    assert registry().resolve_name("losses", "bce", "dcgan") == "bce"  # no clash: bare


def test_info_of_a_component_shows_its_arguments(capsys):
    code, out, err = run_main(["info", "wgan-critic", "--json"], capsys)
    assert code == 0, err
    info = json.loads(out)
    assert info["kind"] == "discriminator"
    assert info["arguments"] == {"width": 64, "norm": "batch"}  # size, channels: ganzoo's own
    assert info["set_with"] == "--set discriminator_args.NAME=VALUE"
    code, out, err = run_main(["info", "wasserstein-gp"], capsys)
    assert "kind: loss\n" in out and "arguments:\n  gp_lambda: 10.0\n" in out
    code, out, err = run_main(["info", "bce"], capsys)
    assert "arguments:\n  r1_gamma: 0.0\n" in out
    code, out, err = run_main(["info", "fid"], capsys)
    assert "arguments: -" in out


def test_info_of_a_model_shows_its_class_and_list_points_to_networks(capsys):
    code, out, err = run_main(["info", "improved", "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["class"] == "ganzoo_improved.model:AnimeCycleGAN"
    code, out, err = run_main(["list"], capsys)
    assert code == 0, err
    assert "ganzoo list --kind generators (or --kind discriminators)" in out.splitlines()[-1]
    code, out, err = run_main(["list", "--kind", "discriminators"], capsys)
    assert "wgan-critic" in out and "patchgan70" in out


def test_registry_rules_in_process():
    reg = Registry([])
    assert reg.entries("models") == []
    with pytest.raises(GanzooError, match="no model named 'nope'"):
        reg.get("models", "nope")
    with pytest.raises(GanzooError, match="no loss named 'nope'"):  # not "losse"
        registry().get("losses", "nope")
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
