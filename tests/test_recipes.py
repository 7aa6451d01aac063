"""Recipes and model shapes: order-independent overrides, recipes built on other recipes, the
fields a shape declares, and the plugins config.json records for each component."""

from __future__ import annotations

import json
from importlib import import_module

import pytest
import torch

import ganzoo
from ganzoo.errors import GanzooError
from ganzoo.hub import save_pretrained
from ganzoo.models import build, make_config
from ganzoo.optim import Stepper
from ganzoo.recipes import Recipe, parse_assignments, resolve_recipe
from ganzoo.registry import Plugin, Registry, _read_manifest, discover, registry

TINY = {"size": 32, "generator_args": {"width": 8}, "discriminator_args": {"width": 8}}

# BASE_RECIPE as it was when the shipped recipes below were captured (before recipes could build
# on each other and before CycleGAN declared its own fields)
BASE_AT_CAPTURE = {
    "size": 64,
    "channels": 3,
    "generator": None,
    "generator_args": {},
    "discriminator": None,
    "discriminator_args": {},
    "loss": None,
    "loss_args": {},
    "optimizer": "adam",
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "lr_decay_steps": 0,
    "betas": [0.5, 0.999],
    "momentum": 0.0,
    "n_critic": 1,
    "ema": 0.0,
    "ema_warmup": True,
    "augment": None,
    "flip": False,
    "batch_size": 64,
    "steps": 2000,
    "epochs": None,
    "log_every": 10,
    "sample_every": 250,
    "checkpoint_every": 500,
    "keep_checkpoints": 3,
    "num_workers": 0,
}
DCGAN = {"generator": "dcgan-generator", "discriminator": "dcgan-discriminator", "loss": "bce"}
WGAN = {"generator": "dcgan-generator", "discriminator": "wgan-critic", "loss": "wasserstein-clip"}
IMPROVED = {"generator": "improved-generator", "discriminator": "patchgan70"}
SECTION_5_2 = {"optimizer": "sgd", "lr_g": 0.002, "lr_d": 0.002, "epochs": 200}
CYCLE = {"lambda_cycle": 10.0, "pool_size": 50}
# the translator's 32x32 recipes: one set of networks and optimiser, two losses
TRANSLATOR_32 = {
    **IMPROVED,
    **CYCLE,
    "size": 32,
    "batch_size": 8,
    "generator_args": {"stem_skip": True, "width": 16},
    "discriminator_args": {"width": 16},
    "lambda_identity": 0.5,
    "lr_g": 0.0005,
    "lr_d": 0.0005,
}
LEAST_SQUARES_AUGMENTED = {
    "loss": "least-squares",
    "loss_args": {},
    "augment": "color,translation,cutout",
}
# what each shipped recipe differed in from BASE_AT_CAPTURE; a change to a shipped recipe is
# meant to be made here too (the recipe searches in docs/search/ changed the defaults)
SHIPPED = {
    ("dcgan", "default"): {
        **DCGAN,
        "batch_size": 16,
        "steps": 20000,
        "augment": "color,translation,cutout",
    },
    ("dcgan", "reference"): {**DCGAN, "steps": 5000},
    ("dcgan", "paper"): {**DCGAN, **SECTION_5_2},
    ("wgan", "default"): {
        **WGAN,
        "loss_args": {"clip_value": 0.01},
        "optimizer": "rmsprop",
        "lr_g": 5e-05,
        "lr_d": 5e-05,
        "n_critic": 5,
        "steps": 25000,
    },
    ("wgan", "paper"): {**WGAN, **SECTION_5_2, "loss_args": {"clip_value": 0.01}, "n_critic": 5},
    ("wgan", "gp"): {
        **WGAN,
        "loss": "wasserstein-gp",
        "loss_args": {"gp_lambda": 10.0, "gp_every": 4},
        "discriminator_args": {"norm": "layer"},
        "optimizer": "adam",
        "lr_g": 1e-4,
        "lr_d": 1e-4,
        "betas": [0.0, 0.9],
        "n_critic": 2,
        "augment": "color,translation,cutout",
        "batch_size": 16,
        "steps": 16000,
    },
    ("improved", "default"): {**TRANSLATOR_32, **LEAST_SQUARES_AUGMENTED},
    ("improved", "keep-colours"): {
        **TRANSLATOR_32,
        **LEAST_SQUARES_AUGMENTED,
        "lambda_identity": 5.0,
    },
    ("improved", "wasserstein"): {
        **TRANSLATOR_32,
        "loss": "wasserstein-gp",
        "loss_args": {"gp_lambda": 10.0},
    },
    ("improved", "paper"): {
        **IMPROVED,
        **CYCLE,
        **SECTION_5_2,
        "batch_size": 1,
        "generator_args": {"width": 64},
        "discriminator_args": {"width": 64},
        "lambda_identity": 0.0,
        "loss": "wasserstein-clip",
        "loss_args": {"clip_value": 0.01},
    },
}


@pytest.mark.parametrize(("model", "recipe"), sorted(SHIPPED))
def test_shipped_recipes_resolve_as_before(model, recipe):
    expected = {**BASE_AT_CAPTURE, **SHIPPED[model, recipe]}
    config = make_config(model, recipe)
    resolved = config["recipe"].to_dict()
    for role in ("generator", "discriminator", "loss"):
        component = config["components"][role]
        assert (bare(component["name"]), component["args"]) == (
            expected[role],
            expected[f"{role}_args"],
        )
        resolved[role] = bare(resolved[role])  # a manifest may write "plugin:name"
    # fields added to BASE_RECIPE since the capture may be there too, at their defaults
    assert {key: resolved.get(key, "missing") for key in expected} == expected
    assert "base" not in resolved


def bare(name: str) -> str:
    return name.rpartition(":")[2]


@pytest.mark.parametrize(
    "assignments",
    [
        ["loss=wasserstein-gp", "loss_args.gp_lambda=5"],
        [
            "generator_args.width=32",
            "generator=improved-generator",
            "generator_args.stem_skip=true",
        ],
        ["loss_args={gp_lambda: 1}", "loss_args.gp_lambda=7", "loss=wasserstein-gp"],
    ],
)
def test_set_gives_the_same_recipe_in_any_order(assignments):
    spec = registry().get("models", "wgan").spec
    forward = resolve_recipe(spec, "default", parse_assignments(assignments))
    backward = resolve_recipe(spec, "default", parse_assignments(assignments[::-1]))
    assert forward == backward


def test_a_new_component_starts_from_its_own_arguments():
    spec = registry().get("models", "wgan").spec
    gp = resolve_recipe(spec, "default", {"loss_args.gp_lambda": 5, "loss": "wasserstein-gp"})
    assert gp["loss_args"] == {"gp_lambda": 5}  # the clip value was for wasserstein-clip
    same = resolve_recipe(spec, "default", {"loss": "wasserstein-clip"})
    assert same["loss_args"] == {"clip_value": 0.01}  # naming the same one keeps its arguments
    merged = resolve_recipe(spec, "default", {"loss_args.x": 1, "loss_args": {"clip_value": 0.1}})
    assert merged["loss_args"] == {"clip_value": 0.1, "x": 1}


# ---------------------------------------------------------------------------------------------
# a third-party plugin, registered in-process


def _install(monkeypatch, manifest: dict) -> Registry:
    plugin = Plugin(
        "thirdparty", "ganzoo-thirdparty", "2.3.4", _read_manifest("thirdparty", manifest)
    )
    reg = Registry([*discover(), plugin])
    # the modules, not ganzoo.registry (the package re-exports the function under that name)
    for using in ("ganzoo.registry", "ganzoo.recipes", "ganzoo.models"):
        monkeypatch.setattr(import_module(using), "registry", lambda: reg)
    return reg


def _model(recipes: dict, builder: str = "ganzoo.models:UnconditionalGAN") -> dict:
    return {"builder": builder, "task": "unconditional", "recipes": recipes}


def test_recipes_build_on_recipes_of_the_same_and_other_models(monkeypatch):
    tiny = {"generator_args": {"width": 8}, "discriminator_args": {"width": 8}}
    _install(
        monkeypatch,
        {
            "models": {
                "lite": _model(
                    {
                        "default": {"base": "wgan", **tiny},  # WGAN's default recipe
                        "fast": {"base": "default", "lr_g": 1e-3},
                        "paper": {"base": "wgan:paper", "loss": "wasserstein-gp"},
                        "hinge": {"base": "fast", "loss": "least-squares", "loss_args": {}},
                    }
                )
            }
        },
    )
    # inherited component names are pinned to the plugin of the recipe they come from
    pinned = {"discriminator": "wgan:wgan-critic", "loss": "wgan:wasserstein-clip"}
    wgan = make_config("wgan")["recipe"]
    lite = make_config("lite")["recipe"]
    assert lite == {**wgan, **tiny, **pinned}
    fast = make_config("lite", "fast")["recipe"]
    assert fast == {**lite, "lr_g": 1e-3}
    paper = make_config("lite", "paper")["recipe"]
    # another loss than the base's: the base's clip value is dropped
    assert paper == {
        **make_config("wgan", "paper")["recipe"],
        "discriminator": "wgan:wgan-critic",
        "loss": "wasserstein-gp",
        "loss_args": {},
    }
    assert make_config("lite", "hinge")["recipe"]["lr_g"] == 1e-3


def test_an_inherited_recipe_keeps_the_base_models_components(monkeypatch):
    """A base from another plugin's model means that plugin's components, even where the
    inheriting plugin registers the same names."""
    _install(
        monkeypatch,
        {
            "models": {"lite": _model({"default": {"base": "wgan"}})},
            "losses": {"wasserstein-clip": {"builder": "ganzoo_dcgan.losses:BCELoss"}},
            "generators": {"dcgan-generator": {"builder": "ganzoo_dcgan.networks:DCGANGenerator"}},
        },
    )
    lite = make_config("lite")["components"]
    assert lite["loss"]["name"] == "wgan:wasserstein-clip"
    assert lite["generator"]["name"] == "dcgan:dcgan-generator"
    assert type(build(make_config("lite")).loss).__name__ == "WassersteinClip"


@pytest.mark.parametrize(
    ("recipes", "message"),
    [
        (
            {"default": {"base": "paper"}, "paper": {"base": "default"}},
            "recipes build on each other in a cycle: lite:default -> lite:paper -> lite:default",
        ),
        ({"default": {"base": "default"}}, "in a cycle: lite:default -> lite:default"),
        (
            {"default": {"base": "nothing"}},
            "lite:default builds on 'nothing', which is neither a recipe of lite nor a model",
        ),
        (
            {"default": {"base": "wgan:fast"}},
            "no recipe named 'fast' for wgan (the base of lite:default); known: default, gp, paper",
        ),
        ({"default": {"base": 3}}, "recipe lite:default has base=3; give a recipe name"),
    ],
)
def test_bad_bases_fail_in_one_line(monkeypatch, recipes, message):
    _install(monkeypatch, {"models": {"lite": _model(recipes)}})
    with pytest.raises(GanzooError) as excinfo:
        make_config("lite")
    assert message in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_a_third_party_translator_gets_the_shapes_fields_and_trains(monkeypatch):
    recipe = {
        "generator": "improved-generator",
        "discriminator": "patchgan70",
        "loss": "least-squares",
        "batch_size": 2,
    }
    manifest = {"models": {"mytrans": _model({"default": recipe}, "ganzoo.models:CycleGAN")}}
    _install(monkeypatch, manifest)
    config = make_config("mytrans", overrides={**TINY, "lambda_cycle": 5})
    assert config["recipe"]["lambda_cycle"] == 5
    assert (config["recipe"]["lambda_identity"], config["recipe"]["pool_size"]) == (0.0, 50)
    torch.manual_seed(0)
    gan = build(config)
    stepper = Stepper(gan.configure_optimizers(), torch.device("cpu"), "fp32")
    batch = {"source": torch.rand(2, 3, 32, 32) * 2 - 1, "target": torch.rand(2, 3, 32, 32) * 2 - 1}
    logs = gan.train_step(batch, 0, stepper)
    assert set(logs) == {"loss_d", "loss_g", "loss_cycle"}
    assert all(torch.isfinite(value) for value in logs.values())

    with pytest.raises(GanzooError, match=r"recipe field pool_size=-1 is not allowed"):
        make_config("mytrans", overrides={"pool_size": -1})
    with pytest.raises(GanzooError, match=r"unknown recipe field 'lambda'; fields: .*lambda_cycle"):
        make_config("mytrans", overrides={"lambda": 1})
    # the fields are the translation shape's: a noise-to-image model does not take them
    with pytest.raises(GanzooError, match="unknown recipe field 'pool_size'"):
        make_config("dcgan", overrides={"pool_size": 4})


# ---------------------------------------------------------------------------------------------
# config.json records where each component comes from


def test_config_records_each_components_plugin():
    components = make_config("improved")["components"]
    origins = {role: (c["plugin"], c["distribution"]) for role, c in components.items()}
    assert origins == {
        "generator": ("improved", "ganzoo-improved"),
        "discriminator": ("improved", "ganzoo-improved"),
        "loss": ("dcgan", "ganzoo-dcgan"),  # the translator uses the dcgan plugin's loss by name
    }
    versions = {p.name: p.version for p in ganzoo.list_plugins()}
    assert all(c["version"] == versions[c["plugin"]] for c in components.values())


def test_loading_without_a_components_plugin_names_the_package(tmp_path):
    folder = save_pretrained(build(make_config("dcgan", overrides=TINY), training=False), tmp_path)
    path = folder / "config.json"
    config = json.loads(path.read_text())

    missing = json.loads(json.dumps(config))
    missing["components"]["generator"].update(plugin="ghost", distribution="ganzoo-ghost")
    path.write_text(json.dumps(missing))
    with pytest.raises(GanzooError) as excinfo:
        ganzoo.load(folder, device="cpu")
    assert str(excinfo.value) == (
        "the generator 'dcgan-generator' comes from plugin 'ghost', which is not installed; "
        "install it with: pip install ganzoo-ghost"
    )

    # only what is built counts: inference builds no loss
    missing = json.loads(json.dumps(config))
    missing["components"]["loss"].update(plugin="ghost", distribution="ganzoo-ghost")
    path.write_text(json.dumps(missing))
    ganzoo.load(folder, device="cpu")

    # config.json written before components recorded their plugin still loads
    for component in config["components"].values():
        for key in ("plugin", "distribution", "version"):
            del component[key]
    path.write_text(json.dumps(config))
    assert ganzoo.load(folder, device="cpu").sample(1, seed=0).shape == (1, 3, 32, 32)


def test_inference_models_keep_no_ema():
    config = make_config("dcgan", overrides={**TINY, "ema": 0.9})
    assert set(build(config).ema) == {"generator"}
    assert len(build(config, training=False).ema) == 0


# the one recipe object: resolved and checked once, then read-only and typed


def test_a_resolved_recipe_is_read_only_and_typed():
    recipe = make_config("dcgan", overrides={**TINY, "size": "48x32", "steps": 7})["recipe"]
    assert isinstance(recipe, Recipe)
    assert (recipe.image_size, recipe.batch_size, recipe.total_steps(100)) == ((32, 48), 16, 7)
    assert recipe.every("checkpoint") == recipe["checkpoint_every"]
    for change in (
        lambda: recipe.__setitem__("lr_g", 1.0),
        lambda: recipe.update(lr_g=1.0),
        lambda: recipe["generator_args"].__setitem__("width", 64),
        lambda: recipe.pop("ema"),
    ):
        with pytest.raises(TypeError, match="read-only"):
            change()
    assert recipe["generator_args"]["width"] == 8
    # it is still the plain data config.json holds
    assert json.loads(json.dumps(recipe)) == recipe.to_dict()
    assert recipe.to_dict()["betas"] == [0.5, 0.999]


def test_a_recipe_is_checked_once_where_it_is_resolved(monkeypatch):
    calls = []
    checked = import_module("ganzoo.recipes").check_recipe
    monkeypatch.setattr(
        import_module("ganzoo.recipes"), "check_recipe", lambda r: calls.append(1) or checked(r)
    )
    model = build(make_config("dcgan", overrides=TINY))
    assert calls == [1]  # by resolve; build and the model shape take the Recipe as it is
    assert model.recipe is model.config["recipe"]


def test_a_recipe_read_from_a_file_is_checked_as_it_is_read():
    fields = make_config("dcgan", overrides=TINY)["recipe"].to_dict()
    assert Recipe.read(fields) == fields
    with pytest.raises(GanzooError, match="n_critic=0 is not allowed"):
        Recipe.read({**fields, "n_critic": 0})
    with pytest.raises(GanzooError, match="a recipe is a mapping"):
        Recipe.read(["size", 64])


def test_replace_checks_the_change_and_keeps_the_original():
    recipe = make_config("dcgan", overrides=TINY)["recipe"]
    longer = recipe.replace(steps=recipe["steps"] * 2)
    assert (longer["steps"], recipe["steps"]) == (recipe["steps"] * 2, longer["steps"] // 2)
    with pytest.raises(GanzooError, match="steps=-1 is not allowed"):
        recipe.replace(steps=-1)
