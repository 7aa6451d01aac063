"""Manifests are checked when they are read: a typo lists its plugin as broken, with one line
saying why, and the other plugins work on."""

from __future__ import annotations

import json

import pytest
from test_registry import make_distribution, run_ganzoo

from ganzoo.registry import Plugin, Registry, _read_manifest, discover

MODEL = "ganzoo.models:UnconditionalGAN"
RECIPE = {"generator": "dcgan-generator", "discriminator": "dcgan-discriminator", "loss": "bce"}


def model(**spec) -> dict:
    return {"models": {"m": {"builder": MODEL, "recipes": {"default": dict(RECIPE)}, **spec}}}


@pytest.mark.parametrize(
    "manifest, reason",
    [
        ({"modles": {}}, "manifest has unknown sections ['modles']"),
        ({"losses": []}, "'losses' is a list, not a mapping of names"),
        ({"losses": {"x": "a.b:C"}}, "loss 'x' is a str, not a mapping"),
        ({"losses": {"a:b": {"builder": "a.b:C"}}}, "loss 'a:b': a name is a non-empty string"),
        (
            {"losses": {"x": {"builder": "a.b:C", "sumary": "typo"}}},
            "loss 'x' has unknown key 'sumary'; allowed: builder, summary",
        ),
        ({"losses": {"x": {"builder": "a.b.C"}}}, "loss 'x' needs a 'builder' of the form"),
        ({"losses": {"x": {"builder": "a b:C"}}}, "loss 'x' needs a 'builder' of the form"),
        ({"losses": {"x": {"builder": "a:C.f"}}}, "loss 'x' needs a 'builder' of the form"),
        ({"losses": {"x": {"summary": "no builder"}}}, "loss 'x' needs a 'builder' of the form"),
        ({"losses": {"x": {"builder": "a:C", "summary": 3}}}, "summary=3, which is not a string"),
        (
            {"datasets": {"d": {"builder": "a:D", "present": "yes"}}},
            "dataset 'd' has present='yes', which is not true or false",
        ),
        (
            {"datasets": {"d": {"builder": "a:D", "describe": "a.describe"}}},
            "dataset 'd' needs a 'describe' of the form module:attr",
        ),
        (model(task="conditional"), "model 'm' has task='conditional'"),
        (model(tags="gan"), "model 'm' has tags='gan', which is not a list"),
        (model(recipes={"paper": dict(RECIPE)}), "with at least a 'default' recipe"),
        (
            model(recipes={"default": ["lr_g", 1e-4]}),
            "model 'm', recipe 'default' is a list, not a mapping of fields",
        ),
        (
            model(recipes={"default": {**RECIPE, "loss_args": 0.5}}),
            "recipe 'default' has loss_args=0.5, which is not a mapping",
        ),
        (
            model(recipes={"default": {**RECIPE, "loss": ["bce"]}}),
            "recipe 'default' has loss=['bce']; give a loss name",
        ),
    ],
)
def test_malformed_manifests_are_refused_with_the_reason(manifest, reason):
    with pytest.raises(ValueError) as excinfo:
        _read_manifest("p", manifest)
    assert reason in str(excinfo.value)
    assert "\n" not in str(excinfo.value)


def test_well_formed_entries_are_read():
    manifest = {
        **model(task="translation", tags=["a"], summary="s", paper="p"),
        "datasets": {"d": {"builder": "a.b:D", "describe": "a.b:describe", "present": True}},
        "metrics": {"x": {"builder": "pkg.mod:Metric", "summary": "x"}},
    }
    assert [e.name for e in _read_manifest("p", manifest)] == ["m", "x", "d"]


def test_a_recipe_naming_a_missing_component_breaks_its_plugin_and_those_using_it():
    typo = Plugin(
        "typo",
        "ganzoo-typo",
        "1.0",
        _read_manifest(
            "typo",
            {
                **model(recipes={"default": {**RECIPE, "loss": "wasserstien-gp"}}),
                "generators": {"typo-generator": {"builder": "typo.nets:Generator"}},
            },
        ),
    )
    # uses the typo plugin's generator, which goes when that plugin breaks
    user = Plugin(
        "user",
        "ganzoo-user",
        "1.0",
        _read_manifest(
            "user",
            {
                "models": {
                    "u": {
                        "builder": MODEL,
                        "recipes": {"default": {**RECIPE, "generator": "typo:typo-generator"}},
                    }
                }
            },
        ),
    )
    reg = Registry([*discover(), typo, user])
    assert reg.plugins["typo"].error.startswith(
        "model 'm', recipe 'default': no loss named 'wasserstien-gp'; known: bce,"
    )
    assert reg.plugins["user"].error.startswith(
        "model 'u', recipe 'default': no generator named 'typo:typo-generator'"
    )
    assert "broken plugins: typo" in reg.plugins["user"].error
    assert reg.find("models", "m") is None and reg.find("generators", "typo-generator") is None
    assert reg.find("models", "dcgan") is not None and not reg.plugins["dcgan"].broken


def test_broken_manifests_through_real_entry_points(tmp_path):
    site = tmp_path / "site"
    broken = {
        "unknown-section": '{"lossses": {}}',
        "unknown-key": '{"losses": {"x": {"builder": "a.b:C", "sumary": "typo"}}}',
        "bad-builder": '{"losses": {"x": {"builder": "a/b.py"}}}',
        "bad-recipe": '{"models": {"m": {"builder": "ganzoo.models:GAN", "recipes": '
        '{"default": "fast"}}}}',
    }
    for name, manifest in broken.items():
        module = name.replace("-", "_")
        files = {"__init__.py": "", "manifest.py": f"MANIFEST = {manifest}\n"}
        make_distribution(site, name, module, files, {name: f"{module}.manifest:MANIFEST"})
    good = '{"losses": {"good-loss": {"builder": "ganzoo_dcgan.losses:BCELoss"}}}'
    files = {"__init__.py": "", "manifest.py": f"MANIFEST = {good}\n"}
    make_distribution(site, "good", "good", files, {"good": "good.manifest:MANIFEST"})

    result = run_ganzoo(site, "list", "--json")
    assert result.returncode == 0, result.stderr
    listing = json.loads(result.stdout)
    reasons = {row["name"]: row["error"] for row in listing["broken_plugins"]}
    assert sorted(reasons) == sorted(broken)
    assert "unknown sections ['lossses']" in reasons["unknown-section"]
    assert "loss 'x' has unknown key 'sumary'" in reasons["unknown-key"]
    assert "needs a 'builder' of the form module:attr, got 'a/b.py'" in reasons["bad-builder"]
    assert "recipe 'default' is a str, not a mapping" in reasons["bad-recipe"]
    assert all("\n" not in reason for reason in reasons.values())
    assert {"dcgan", "wgan", "improved"} <= {row["name"] for row in listing["models"]}
    assert "good-loss" in {row["name"] for row in listing["losses"]}

    info = run_ganzoo(site, "info", "good-loss", "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["plugin"] == "good"
