"""Models: named compositions of registered components, with their training step.

The paper needs two shapes of model, and they are the two classes here:

- ``UnconditionalGAN``: noise to image, one generator and one discriminator (DCGAN, WGAN).
- ``CycleGAN``: unpaired image-to-image translation with two generators, two discriminators and
  a cycle-consistency loss (the paper's improved translator, section 4.2).

Plugins supply networks and losses by name and pick one of these classes (or their own subclass
of ``GAN``) as their model's builder; nothing here knows about any particular plugin.
"""

from __future__ import annotations

import copy
import math
import numbers
import random
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from ganzoo.augment import diff_augment, parse_policy
from ganzoo.errors import GanzooError
from ganzoo.optim import Stepper, make_optimizer
from ganzoo.recipes import Recipe, resolve
from ganzoo.registry import registry
from ganzoo.validate import check_count, check_ranges, check_seed
from ganzoo.version import __version__


def ema_average(decay: float, warmup: bool):
    """``avg_fn`` for AveragedModel: an exponential moving average. With ``warmup`` the decay
    starts low and grows to ``decay`` as (1 + n) / (10 + n) after n updates (TensorFlow's
    ExponentialMovingAverage), so the average is not dominated by the random initial weights,
    the role StyleGAN2-ADA's ema_rampup plays."""

    def average(averaged: torch.Tensor, current: torch.Tensor, count: torch.Tensor):
        beta = min(decay, (1 + int(count)) / (10 + int(count))) if warmup else decay
        return averaged * beta + current * (1 - beta)

    return average


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] network images to [0, 1]."""
    return (images.float().clamp(-1, 1) + 1) / 2


def from_unit(images: torch.Tensor) -> torch.Tensor:
    """[0, 1] user images to the [-1, 1] networks work in."""
    return images * 2 - 1


# Saving and pushing a model is the hub layer's job, and the hub layer sits above this module (it
# builds models to load them). So that no import runs upward, ganzoo.hub registers its two
# functions here when it is imported; ganzoo.create, ganzoo.load, the engine and the command line
# all import it.
_publishers: dict[str, Callable[..., Any]] = {}


def register_publishers(save: Callable[..., Any], push: Callable[..., Any]) -> None:
    """What ``GAN.save_pretrained`` and ``GAN.push_to_hub`` call; set by ``ganzoo.hub``."""
    _publishers.update(save=save, push=push)


def _publisher(name: str) -> Callable[..., Any]:
    if name not in _publishers:
        raise GanzooError("saving or pushing a model needs ganzoo.hub: `import ganzoo.hub` first")
    return _publishers[name]


class GAN(nn.Module):
    """A model object: its networks, its config, and how one training step goes.

    ``config`` is what ``config.json`` of a Hub-ready folder holds; ``training=False`` builds only
    the networks that are exported (the generators), for inference.
    """

    task = "unconditional"
    #: the losses train_step logs, in the order metrics.csv shows them
    log_keys: tuple[str, ...] = ("loss_d", "loss_g")
    #: images per group in preview grids (a translator shows source, translation, reconstruction)
    preview_group = 1
    #: the dataset roles a batch carries, e.g. ("target",) or ("source", "target")
    domains: tuple[str, ...] = ("target",)
    #: the components a recipe names, by role, with the registry kind each is looked up in; the
    #: recipe holds ``<role>`` (the name) and ``<role>_args`` for each
    roles: dict[str, str] = {
        "generator": "generators",
        "discriminator": "discriminators",
        "loss": "losses",
    }
    #: recipe fields this shape reads beyond ``BASE_RECIPE``, with their defaults; a model's
    #: recipes and ``--set`` override them
    recipe_fields: dict[str, Any] = {}

    @classmethod
    def recipe_defaults(cls) -> dict[str, Any]:
        """What this shape adds to ``BASE_RECIPE``: a name and arguments for each role, then
        ``recipe_fields``."""
        defaults: dict[str, Any] = {}
        for role in cls.roles:
            defaults.update({role: None, f"{role}_args": {}})
        return {**defaults, **copy.deepcopy(cls.recipe_fields)}

    @classmethod
    def check_recipe_fields(cls, recipe: dict[str, Any]) -> None:
        """Types and ranges of ``recipe_fields``, one ``GanzooError`` line each; the core's own
        fields are checked by ``ganzoo.validate.check_recipe``."""

    def __init__(self, config: dict[str, Any], training: bool = True):
        super().__init__()
        # checked where it was resolved (make_config) or read (a config.json); not again here
        self.recipe = config["recipe"] = Recipe.read(config["recipe"])
        self.config = config  # the engine adds its run settings to the same dict
        self.image_size = tuple(config["image_size"])
        self.channels = int(config["channels"])
        self.ema = nn.ModuleDict()  # filled by _setup_ema when the recipe asks for it
        self.augment_policy = parse_policy(self.recipe.get("augment"))

    # building blocks ------------------------------------------------------------------------
    def _network(self, role: str) -> nn.Module:
        spec = self.config["components"][role]
        require_plugin(role, spec)
        kind = self.roles[role]
        return registry().build(
            kind,
            spec["name"],
            self._component_plugin(spec),
            size=self.image_size,
            channels=self.channels,
            **spec["args"],
        )

    def _loss(self):
        spec = self.config["components"]["loss"]
        require_plugin("loss", spec)
        return registry().build(
            "losses", spec["name"], self._component_plugin(spec), **spec["args"]
        )

    def _component_plugin(self, spec: dict[str, Any]) -> str | None:
        """Whose name a component's bare name is: the plugin the config recorded for it, else
        the model's own (configs written before components recorded it), so a plugin installed
        later that registers the same name does not change a saved model."""
        return spec.get("plugin") or self.config.get("plugin")

    def _setup_ema(self, training: bool) -> None:
        """Generator EMA, StyleGAN2-ADA's G_ema: a running average of each exported network's
        weights (and buffers), which is what export and ``ganzoo.load`` use. Kept as modules,
        so checkpoints hold it and resume restores it exactly. Off when the recipe's ``ema``
        (the decay) is 0, and for inference (``training=False``)."""
        decay = self.recipe.ema
        if not training or decay <= 0:
            return
        average = ema_average(decay, bool(self.recipe.get("ema_warmup", True)))
        for name, net in self.exported().items():
            self.ema[name] = AveragedModel(net, avg_fn=average, use_buffers=True)

    @torch.no_grad()
    def update_ema(self) -> None:
        """Called by the engine after every training step."""
        networks = self.exported()
        for name, averaged in self.ema.items():
            averaged.update_parameters(networks[name])

    def seen_by_discriminator(self, images: torch.Tensor) -> torch.Tensor:
        """Images as every discriminator call sees them: through the recipe's ``augment``
        policy (DiffAugment), real and generated alike."""
        return diff_augment(images, self.augment_policy) if self.augment_policy else images

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    # the interface the engine and the hub use -----------------------------------------------
    def exported(self) -> dict[str, nn.Module]:
        """The networks written to ``model.safetensors``, by the key prefix they are saved under."""
        raise NotImplementedError

    def published(self) -> dict[str, nn.Module]:
        """What is written for the exported networks: their EMA copies when training keeps them."""
        if len(self.ema):
            return {name: averaged.module for name, averaged in self.ema.items()}
        return self.exported()

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def train_step(
        self, batch: dict[str, torch.Tensor], step: int, stepper: Stepper
    ) -> dict[str, torch.Tensor]:
        """One step on a batch of [-1, 1] images; returns the losses to log (detached)."""
        raise NotImplementedError

    def preview_inputs(self, batch: dict[str, torch.Tensor], n: int, seed: int) -> torch.Tensor:
        """Fixed inputs for the sample grids written while training."""
        raise NotImplementedError

    @torch.no_grad()
    def preview(self, inputs: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] for a grid, from ``preview_inputs``."""
        raise NotImplementedError

    def sample(self, n: int, seed: int | None = None, truncation: float = 1.0) -> torch.Tensor:
        raise self._lacks("sample")

    def interpolate(self, seeds: list[int], frames: int = 16, truncation: float = 1.0):
        raise self._lacks("interpolate")

    def translate(self, images: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        raise self._lacks("translate")

    def _lacks(self, method: str) -> GanzooError:
        article = "an" if self.task[:1] in "aeiou" else "a"  # an unconditional model
        return GanzooError(
            f"{self.config['model']} is {article} {self.task} model; it has no {method}()"
        )

    # publishing, in the manner of huggingface_hub's PyTorchModelHubMixin ----------------------
    def save_pretrained(self, directory: str, **card: Any) -> str:
        """Writes a Hub-ready folder: config.json, model.safetensors, README.md."""
        return str(_publisher("save")(self, directory, **card))

    def push_to_hub(self, repo_id: str, private: bool = False, **card: Any) -> tuple[str, str]:
        """Uploads the model as a Hub-ready folder; returns (url, commit)."""
        return _publisher("push")(self, repo_id, private=private, **card)


class UnconditionalGAN(GAN):
    """Noise to image: generator ``G(z)``, discriminator ``D(x)``, one adversarial loss.

    Each step updates the discriminator on one real batch; the generator is updated on every
    ``n_critic``-th step, which gives WGAN's n_critic critic iterations per generator iteration.
    """

    task = "unconditional"
    domains = ("target",)

    def __init__(self, config: dict[str, Any], training: bool = True):
        super().__init__(config, training)
        self.generator = self._network("generator")
        if training:
            self.discriminator = self._network("discriminator")
            self.loss = self._loss()
        if self.generator.latent_dim is None:
            raise GanzooError("an unconditional model needs a generator with a latent_dim")
        self._setup_ema(training)

    def exported(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {
            "generator": make_optimizer(self.generator.parameters(), self.recipe, self.recipe.lr_g),
            "discriminator": make_optimizer(
                self.discriminator.parameters(), self.recipe, self.recipe.lr_d
            ),
        }

    def noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        return torch.randn(n, self.generator.latent_dim, generator=generator).to(self.device)

    def train_step(self, batch, step, stepper):
        augmented = self.seen_by_discriminator
        real = batch["target"]
        with stepper.autocast():
            fake = self.generator(self.noise(real.shape[0]))
            real_seen, fake_seen = augmented(real), augmented(fake.detach())
            loss_d = self.loss.discriminator_loss(
                self.discriminator(real_seen), self.discriminator(fake_seen)
            )
        penalty = self.loss.penalty(self.discriminator, real_seen, fake_seen)
        if penalty is not None:
            loss_d = loss_d + penalty
        stepper.step("discriminator", loss_d)
        self.loss.after_discriminator_step(self.discriminator)
        logs = {"loss_d": loss_d.detach()}
        if (step + 1) % self.recipe.n_critic == 0:
            self.discriminator.requires_grad_(False)
            with stepper.autocast():
                loss_g = self.loss.generator_loss(self.discriminator(augmented(fake)))
            stepper.step("generator", loss_g)
            self.discriminator.requires_grad_(True)
            logs["loss_g"] = loss_g.detach()
        return logs

    def preview_inputs(self, batch, n, seed):
        return torch.randn(
            n, self.generator.latent_dim, generator=torch.Generator().manual_seed(seed)
        )

    @torch.no_grad()
    def preview(self, inputs):
        return to_unit(self.generator(inputs.to(self.device)))

    @torch.no_grad()
    def sample(self, n: int, seed: int | None = None, truncation: float = 1.0) -> torch.Tensor:
        """``n`` images as a float tensor ``[n, 3, H, W]`` in [0, 1].

        ``truncation`` (psi) scales the noise toward its mean, 0: z' = psi * z. Below 1 it trades
        variety for typical, cleaner images; 1 leaves the noise as it is."""
        check_truncation(truncation)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return self._generate(self.noise(n, gen) * truncation)

    @torch.no_grad()
    def interpolate(
        self, seeds: list[int], frames: int = 16, truncation: float = 1.0
    ) -> torch.Tensor:
        """A latent walk through the noise of ``seeds`` (each seed's noise is that of
        ``sample(1, seed)``): ``frames`` images from each seed toward the next, then the last
        seed's image, so ``[(len(seeds) - 1) * frames + 1, 3, H, W]`` in [0, 1]. The noise is
        standard normal, so the path is spherical (slerp): a straight line would pass through
        noise of unusually small norm, which the generator rarely saw in training."""
        check_truncation(truncation)
        if len(seeds) < 2:
            raise GanzooError(f"a walk needs at least 2 seeds, got {len(seeds)}")
        check_count(frames, "frames")
        latent = self.generator.latent_dim
        seeds = [check_seed(s, "seed") for s in seeds]
        points = [torch.randn(1, latent, generator=torch.Generator().manual_seed(s)) for s in seeds]
        steps = torch.arange(frames, dtype=torch.float32) / frames
        path = [slerp(a, b, steps) for a, b in zip(points, points[1:], strict=False)]
        noise = torch.cat([*path, points[-1]]) * truncation
        # in batches: a long walk need not fit in memory at once
        parts = [self._generate(z.to(self.device)) for z in noise.split(WALK_BATCH)]
        return torch.cat(parts)

    def _generate(self, noise: torch.Tensor) -> torch.Tensor:
        was_training = self.generator.training
        self.generator.eval()
        try:
            return to_unit(self.generator(noise))
        finally:
            self.generator.train(was_training)


WALK_BATCH = 64  # generator inputs per call in interpolate()


def check_truncation(psi: float) -> None:
    """psi must be a finite number above 0: 0 makes every image the mean's, and a negative psi
    only mirrors standard normal noise. Above 1 is allowed (more variety, more artefacts)."""
    if isinstance(psi, bool) or not isinstance(psi, numbers.Real) or not 0 < psi < math.inf:
        raise GanzooError(
            f"truncation must be a number above 0 (1: none; lower: less variety), got {psi}"
        )


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from ``a`` to ``b`` (each ``[1, D]``) at the fractions ``t``:
    ``[len(t), D]``. Nearly parallel vectors fall back to a straight line (sin(angle) ~ 0)."""
    cos = F.cosine_similarity(a, b).clamp(-1, 1)
    angle = torch.acos(cos)
    t = t[:, None]
    if torch.sin(angle).abs() < 1e-6:
        return a + (b - a) * t
    return (torch.sin((1 - t) * angle) * a + torch.sin(t * angle) * b) / torch.sin(angle)


class ImagePool(nn.Module):
    """A buffer of earlier fakes (Shrivastava et al. 2017, as in CycleGAN): half of the time the
    discriminator sees an older fake instead of the newest, which damps oscillation.

    It is a module only so that its contents travel in checkpoints (``get_extra_state``), which
    exact resume needs."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size <= 0:
            return images.detach()
        out = []
        for image in images.detach():
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.random() < 0.5:
                index = random.randrange(self.size)
                out.append(self.images[index].to(image.device))
                self.images[index] = image
            else:
                out.append(image)
        return torch.stack(out)

    def get_extra_state(self) -> dict[str, Any]:
        return {"images": [image.cpu() for image in self.images]}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        # loaded on the CPU; query() moves each image to the device of the batch it joins
        self.images = list(state["images"])


class CycleGAN(GAN):
    """Unpaired translation X -> Y: generators ``G: X->Y``, ``F: Y->X``; discriminators D_x, D_y.

    Loss (Zhu et al. 2017; the paper's section 4.2): adversarial terms for both directions, plus
    ``lambda_cycle * (|F(G(x)) - x|_1 + |G(F(y)) - y|_1)``, plus an optional identity term
    ``lambda_cycle * lambda_identity * (|G(y) - y|_1 + |F(x) - x|_1)``. Exported generators are
    ``generator`` (X->Y, source to target) and ``generator_reverse`` (Y->X).
    """

    task = "translation"
    domains = ("source", "target")
    log_keys = ("loss_d", "loss_g", "loss_cycle")
    preview_group = 3
    # a shared shape, so it owns its fields' defaults: a translator's manifest may leave them out
    recipe_fields = {"lambda_cycle": 10.0, "lambda_identity": 0.0, "pool_size": 50}

    @classmethod
    def check_recipe_fields(cls, recipe: dict[str, Any]) -> None:
        check_ranges(
            recipe,
            non_negative_ints=("pool_size",),
            non_negative_numbers=("lambda_cycle", "lambda_identity"),
        )

    def __init__(self, config: dict[str, Any], training: bool = True):
        super().__init__(config, training)
        self.generator = self._network("generator")
        self.generator_reverse = self._network("generator")
        if training:
            self.discriminator_source = self._network("discriminator")
            self.discriminator_target = self._network("discriminator")
            self.loss = self._loss()
            self.pool_source = ImagePool(int(self.recipe["pool_size"]))
            self.pool_target = ImagePool(int(self.recipe["pool_size"]))
        self._setup_ema(training)

    def exported(self) -> dict[str, nn.Module]:
        return {"generator": self.generator, "generator_reverse": self.generator_reverse}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        generators = [p for net in self.generator_side() for p in net.parameters()]
        discriminators = [p for net in self.discriminator_side() for p in net.parameters()]
        return {
            "generators": make_optimizer(generators, self.recipe, self.recipe.lr_g),
            "discriminators": make_optimizer(discriminators, self.recipe, self.recipe.lr_d),
        }

    # what a subclass may extend: more networks on either side, and more loss terms
    def generator_side(self) -> list[nn.Module]:
        """The networks the generators' optimizer trains."""
        return [self.generator, self.generator_reverse]

    def discriminator_side(self) -> list[nn.Module]:
        """The networks the discriminators' optimizer trains (frozen while the generators step)."""
        return [self.discriminator_source, self.discriminator_target]

    def extra_discriminator_loss(self, batch, fakes) -> torch.Tensor | None:
        """Terms added to the discriminators' loss; ``fakes`` holds the step's detached
        translations, ``fake_target`` and ``fake_source``."""
        return None

    def extra_generator_loss(self, batch, fakes) -> torch.Tensor | None:
        """Terms added to the generators' loss; ``fakes`` holds the step's translations."""
        return None

    def train_step(self, batch, step, stepper):
        x, y = batch["source"], batch["target"]
        d_x, d_y, loss = self.discriminator_source, self.discriminator_target, self.loss
        augmented = self.seen_by_discriminator
        with stepper.autocast():
            fake_y = self.generator(x)
            fake_x = self.generator_reverse(y)
            real_y, real_x = augmented(y), augmented(x)
            pooled_y = augmented(self.pool_target.query(fake_y))
            pooled_x = augmented(self.pool_source.query(fake_x))
            loss_d = loss.discriminator_loss(d_y(real_y), d_y(pooled_y))
            loss_d = loss_d + loss.discriminator_loss(d_x(real_x), d_x(pooled_x))
            detached = {"fake_target": fake_y.detach(), "fake_source": fake_x.detach()}
            extra = self.extra_discriminator_loss(batch, detached)
            if extra is not None:
                loss_d = loss_d + extra
        for disc, real, fake in ((d_y, real_y, pooled_y), (d_x, real_x, pooled_x)):
            penalty = loss.penalty(disc, real, fake)
            if penalty is not None:
                loss_d = loss_d + penalty
        stepper.step("discriminators", loss_d)
        for disc in self.discriminator_side():
            loss.after_discriminator_step(disc)
        logs = {"loss_d": loss_d.detach()}

        if (step + 1) % self.recipe.n_critic == 0:
            for disc in self.discriminator_side():
                disc.requires_grad_(False)
            lambda_cycle = float(self.recipe["lambda_cycle"])
            lambda_identity = float(self.recipe["lambda_identity"])
            with stepper.autocast():
                adversarial = loss.generator_loss(d_y(augmented(fake_y))) + loss.generator_loss(
                    d_x(augmented(fake_x))
                )
                cycle = F.l1_loss(self.generator_reverse(fake_y), x) + F.l1_loss(
                    self.generator(fake_x), y
                )
                loss_g = adversarial + lambda_cycle * cycle
                if lambda_identity > 0:
                    identity = F.l1_loss(self.generator(y), y) + F.l1_loss(
                        self.generator_reverse(x), x
                    )
                    loss_g = loss_g + lambda_cycle * lambda_identity * identity
                extra = self.extra_generator_loss(
                    batch, {"fake_target": fake_y, "fake_source": fake_x}
                )
                if extra is not None:
                    loss_g = loss_g + extra
            stepper.step("generators", loss_g)
            for disc in self.discriminator_side():
                disc.requires_grad_(True)
            logs.update(loss_g=loss_g.detach(), loss_cycle=cycle.detach())
        return logs

    def preview_inputs(self, batch, n, seed):
        return batch["source"][:n].detach().cpu().clone()

    @torch.no_grad()
    def preview(self, inputs):
        """Rows of (source, translation, reconstruction), side by side."""
        x = inputs.to(self.device)
        fake = self.generator(x)
        rec = self.generator_reverse(fake)
        return to_unit(torch.stack([x, fake, rec], dim=1).flatten(0, 1))

    @torch.no_grad()
    def translate(self, images: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """Images ``[N, 3, H, W]`` in [0, 1] from the source to the target domain (or back)."""
        net = self.generator_reverse if reverse else self.generator
        was_training = net.training
        net.eval()
        try:
            return to_unit(net(from_unit(images.to(self.device).float())))
        finally:
            net.train(was_training)


def require_plugin(role: str, spec: dict[str, Any]) -> None:
    """One line naming the package to install when the plugin that a config's component comes
    from is not installed. Configs written before components recorded their plugin pass."""
    plugin = spec.get("plugin")
    if plugin and plugin not in registry().plugins:
        package = spec.get("distribution") or f"the plugin {plugin!r}"
        raise GanzooError(
            f"the {role} {spec.get('name')!r} comes from plugin {plugin!r}, which is not "
            f"installed; install it with: pip install {package}"
        )


def make_config(
    model: str, recipe: str = "default", overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The full config of a model: which plugin, which components with which arguments, and the
    resolved recipe. This is what ``config.json`` holds, and all that is needed to rebuild it."""
    reg = registry()
    entry = reg.get("models", model)
    resolved, components = resolve(entry, recipe, overrides)
    plugin = reg.plugins[entry.plugin]
    return {
        "ganzoo_version": __version__,
        "model": entry.name,
        "plugin": entry.plugin,
        "distribution": plugin.distribution,
        "plugin_version": plugin.version,
        "task": entry.spec.get("task", "unconditional"),
        "recipe_name": recipe,
        "components": components,
        "image_size": list(resolved.image_size),
        "channels": resolved.channels,
        "normalization": {"range": [-1, 1], "mean": [0.5] * 3, "std": [0.5] * 3},
        "recipe": resolved,
    }


def build(config: dict[str, Any], training: bool = True) -> GAN:
    """Builds the model a config describes, through the registry."""
    entry = registry().find("models", f"{config['plugin']}:{config['model']}") or registry().find(
        "models", config["model"]
    )
    if entry is None:
        package = config.get("distribution", f"the plugin {config.get('plugin')!r}")
        raise GanzooError(
            f"model {config['model']!r} comes from plugin {config.get('plugin')!r}, which is not "
            f"installed; install it with: pip install {package}"
        )
    return entry.load()(config, training=training)


def create(name: str, recipe: str = "default", **overrides: Any) -> GAN:
    """An untrained model from the registry; keyword arguments override recipe fields."""
    return build(make_config(name, recipe, overrides))
