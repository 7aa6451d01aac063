"""``ganzoo new-plugin NAME [--task translation]``: an installable plugin that works at once.

The scaffold is a complete small GAN (its own generator, discriminator and hinge loss) so that it
depends on ganzoo alone; ``pip install -e ganzoo-NAME`` makes ``NAME`` show in ``ganzoo list`` and
train with ``ganzoo run NAME --data toon``. It is unconditional (noise to image) by default, or
an unpaired image-to-image translator (``ganzoo.models:CycleGAN``) with ``--task translation``.
Each file below is a template in which ``{{name}}`` (the model name), ``{{module}}`` (the Python
package) and ``{{ganzoo_version}}`` are filled in.
"""

from __future__ import annotations

import re
from pathlib import Path

from ganzoo.errors import GanzooError
from ganzoo.version import __version__

NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")

# ganzoo is published as ganzoo-core: "ganzoo" on PyPI is an unrelated project
PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.21"]
build-backend = "hatchling.build"

[project]
name = "ganzoo-{{name}}"
version = "0.1.0"
description = "The {{name}} GAN for ganzoo."
readme = "README.md"
requires-python = ">=3.11"
license = "MIT"
dependencies = ["ganzoo-core>={{ganzoo_version}}"]

[project.optional-dependencies]
test = ["pytest>=8"]

# This entry point is how ganzoo finds the plugin: its manifest says what the plugin contributes.
[project.entry-points."ganzoo.plugins"]
{{name}} = "{{module}}.manifest:MANIFEST"

[tool.hatch.build.targets.wheel]
packages = ["{{module}}"]
# pretrained zoo entries in {{module}}/zoo/ are package data; listed so no ignore rule drops them
artifacts = ["{{module}}/zoo/**"]
# `pip install -e .` puts this folder on sys.path, which needs no build helper beyond hatchling
dev-mode-dirs = ["."]

[tool.pytest.ini_options]
testpaths = ["tests"]
"""

INIT = '''\
"""The {{name}} GAN, a ganzoo plugin."""

__version__ = "0.1.0"
'''

MANIFEST = '''\
"""What the {{name}} plugin contributes. Plain data: ``ganzoo list`` reads it without importing
torch or the networks; builders ("module:attr") are imported only when a model is built."""

_COMPONENTS = {
    "generator": "{{name}}-generator",
    "discriminator": "{{name}}-discriminator",
    "loss": "{{name}}-hinge",
}

MANIFEST = {
    # pretrained zoo entries: one folder each in {{module}}/zoo/ (see the README there)
    "zoo": "{{module}}:zoo",
    "models": {
        "{{name}}": {
            # ganzoo's noise-to-image model class; write a subclass of ganzoo.models.GAN for
            # another kind of training step
            "builder": "ganzoo.models:UnconditionalGAN",
            "task": "unconditional",
            "summary": "a small convolutional GAN with a hinge loss",
            "paper": "",
            "tags": ["unconditional", "{{name}}"],
            "recipes": {
                # Recipes override ganzoo.recipes.BASE_RECIPE; users override them in turn with
                # `ganzoo run {{name}} --set key=value`.
                "default": {
                    **_COMPONENTS,
                    "size": 64,
                    "generator_args": {"width": 32, "latent_dim": 128},
                    "discriminator_args": {"width": 32},
                    "optimizer": "adam",
                    "lr_g": 2e-4,
                    "lr_d": 2e-4,
                    "betas": [0.0, 0.9],
                    "batch_size": 32,
                    "steps": 2000,
                },
                # The settings of your paper, for `--recipe paper`: the default recipe with
                # these fields replaced ("base"); replace them with your paper's own.
                "paper": {
                    "base": "default",
                    "generator_args": {"width": 64, "latent_dim": 128},
                    "discriminator_args": {"width": 64},
                    "batch_size": 64,
                    "epochs": 100,
                },
            },
        }
    },
    "generators": {
        "{{name}}-generator": {
            "builder": "{{module}}.networks:Generator",
            "summary": "linear projection, two upsampling conv blocks, tanh; noise to image",
        }
    },
    "discriminators": {
        "{{name}}-discriminator": {
            "builder": "{{module}}.networks:Discriminator",
            "summary": "strided convolutions, LeakyReLU, global average, one score per image",
        }
    },
    "losses": {
        "{{name}}-hinge": {
            "builder": "{{module}}.losses:HingeLoss",
            "summary": "hinge loss (Lim and Ye 2017; Miyato et al. 2018)",
        }
    },
}
'''

NETWORKS = '''\
"""The {{name}} networks. Builders are called as ``builder(size=(H, W), channels=C, **args)``
with ``args`` from the recipe; images are in [-1, 1]. Any H and W divisible by 4 work."""

from __future__ import annotations

import torch
from ganzoo import GanzooError
from ganzoo.components import Discriminator as DiscriminatorBase
from ganzoo.components import Generator as GeneratorBase
from torch import nn


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    height, width = size
    if height % 4 or width % 4:
        # GanzooError: the user's mistake, which ganzoo prints as one line, not a traceback
        raise GanzooError(f"{{name}} needs an image size divisible by 4, got {width}x{height}")
    return height, width


class Generator(GeneratorBase):
    """Noise ``[N, latent_dim]`` to images ``[N, C, H, W]``: a linear projection to an H/4 x W/4
    map, two nearest-neighbour upsamplings with convolutions, then tanh."""

    def __init__(self, size=(64, 64), channels=3, width=32, latent_dim=128):
        super().__init__()
        self.latent_dim = latent_dim
        self.height, self.width = _check_size(size)
        self.start = width * 2
        self.project = nn.Linear(latent_dim, self.start * (self.height // 4) * (self.width // 4))
        self.net = nn.Sequential(
            nn.BatchNorm2d(self.start),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(self.start, width * 2, 3, padding=1),
            nn.BatchNorm2d(width * 2),
            nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"),
            nn.Conv2d(width * 2, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.project(z).view(z.shape[0], self.start, self.height // 4, self.width // 4)
        return self.net(x)


class Discriminator(DiscriminatorBase):
    """Images to one score each: three strided convolutions, a global average, a linear layer."""

    def __init__(self, size=(64, 64), channels=3, width=32):
        super().__init__()
        _check_size(size)
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width * 2, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width * 2, width * 4, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(width * 4, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
'''

LOSSES = '''\
"""The {{name}} adversarial loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from ganzoo.components import AdversarialLoss


class HingeLoss(AdversarialLoss):
    """Discriminator: mean(relu(1 - D(real))) + mean(relu(1 + D(fake)));
    generator: -mean(D(fake))."""

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()

    def generator_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return -fake.mean()
'''

TEST = '''\
"""The plugin is found through its entry point, builds at several sizes and trains a step."""

import ganzoo
import pytest
import torch
from ganzoo.optim import Stepper

TINY = {"generator_args": {"width": 8, "latent_dim": 16}, "discriminator_args": {"width": 8}}


def test_registered():
    assert "{{name}}" in ganzoo.list_models()


@pytest.mark.parametrize("size", [32, "48x64", 128])
def test_trains_one_step(size):
    torch.manual_seed(0)
    gan = ganzoo.create("{{name}}", size=size, **TINY)
    height, width = gan.image_size
    batch = {"target": torch.rand(4, 3, height, width) * 2 - 1}
    stepper = Stepper(gan.configure_optimizers(), torch.device("cpu"), "fp32")
    before = [p.detach().clone() for p in gan.generator.parameters()]
    logs = gan.train_step(batch, 0, stepper)
    assert set(logs) == {"loss_d", "loss_g"}
    assert all(torch.isfinite(v) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.generator.parameters()))
    images = gan.sample(3, seed=0)
    assert images.shape == (3, 3, height, width)
    assert images.min() >= 0 and images.max() <= 1


def test_unsupported_size_is_a_clear_error():
    with pytest.raises(ganzoo.GanzooError, match="divisible by 4"):
        ganzoo.create("{{name}}", size=30, **TINY)
'''

MANIFEST_TRANSLATION = '''\
"""What the {{name}} plugin contributes. Plain data: ``ganzoo list`` reads it without importing
torch or the networks; builders ("module:attr") are imported only when a model is built."""

_COMPONENTS = {
    "generator": "{{name}}-generator",
    "discriminator": "{{name}}-discriminator",
    "loss": "{{name}}-hinge",
}

# CycleGAN's own fields: the weight of the cycle loss, of the identity loss (relative to the
# cycle loss's), and how many earlier fakes the discriminators are shown
_CYCLE = {"lambda_cycle": 10.0, "lambda_identity": 0.5, "pool_size": 50}

MANIFEST = {
    # pretrained zoo entries: one folder each in {{module}}/zoo/ (see the README there)
    "zoo": "{{module}}:zoo",
    "models": {
        "{{name}}": {
            # ganzoo's unpaired translation model: two generators (source to target and back),
            # two discriminators, cycle and identity losses; `ganzoo run {{name}} --data toon`
            # translates toon/photo faces to toon (anime) faces
            "builder": "ganzoo.models:CycleGAN",
            "task": "translation",
            "summary": "a small unpaired image-to-image translator with a hinge loss",
            "paper": "",
            "tags": ["translation", "{{name}}"],
            "recipes": {
                # Recipes override ganzoo.recipes.BASE_RECIPE; users override them in turn with
                # `ganzoo run {{name}} --set key=value`.
                "default": {
                    **_COMPONENTS,
                    **_CYCLE,
                    "size": 64,
                    "generator_args": {"width": 32, "blocks": 2},
                    "discriminator_args": {"width": 32},
                    "optimizer": "adam",
                    "lr_g": 2e-4,
                    "lr_d": 2e-4,
                    "betas": [0.5, 0.999],
                    "batch_size": 4,
                    "steps": 2000,
                },
                # The settings of your paper, for `--recipe paper`: the default recipe with
                # these fields replaced ("base"); replace them with your paper's own.
                "paper": {
                    "base": "default",
                    "generator_args": {"width": 64, "blocks": 6},
                    "discriminator_args": {"width": 64},
                    "batch_size": 1,
                    "epochs": 100,
                },
            },
        }
    },
    "generators": {
        "{{name}}-generator": {
            "builder": "{{module}}.networks:Generator",
            "summary": "two strided convolutions, residual blocks, two upsamplings; image to image",
        }
    },
    "discriminators": {
        "{{name}}-discriminator": {
            "builder": "{{module}}.networks:Discriminator",
            "summary": "a small PatchGAN: one score per patch of the image",
        }
    },
    "losses": {
        "{{name}}-hinge": {
            "builder": "{{module}}.losses:HingeLoss",
            "summary": "hinge loss (Lim and Ye 2017; Miyato et al. 2018)",
        }
    },
}
'''

NETWORKS_TRANSLATION = '''\
"""The {{name}} networks. Builders are called as ``builder(size=(H, W), channels=C, **args)``
with ``args`` from the recipe; images are in [-1, 1]. Any H and W divisible by 4 work."""

from __future__ import annotations

import torch
from ganzoo import GanzooError
from ganzoo.components import Discriminator as DiscriminatorBase
from ganzoo.components import Generator as GeneratorBase
from torch import nn


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    height, width = size
    if height % 4 or width % 4:
        # GanzooError: the user's mistake, which ganzoo prints as one line, not a traceback
        raise GanzooError(f"{{name}} needs an image size divisible by 4, got {width}x{height}")
    return height, width


def _block(inputs: int, outputs: int, stride: int = 1) -> list[nn.Module]:
    """A convolution, instance norm (as in CycleGAN: per image, so batches of 1 train) and
    ReLU."""
    kernel = 4 if stride == 2 else 3
    return [
        nn.Conv2d(inputs, outputs, kernel, stride=stride, padding=1),
        nn.InstanceNorm2d(outputs, affine=True),
        nn.ReLU(),
    ]


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(*_block(channels, channels), *_block(channels, channels)[:2])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class Generator(GeneratorBase):
    """Images ``[N, C, H, W]`` to images of the same shape: two strided convolutions down to
    H/4 x W/4, ``blocks`` residual blocks there, two nearest-neighbour upsamplings back, tanh.
    ``latent_dim`` stays None: this generator takes images, not noise."""

    def __init__(self, size=(64, 64), channels=3, width=32, blocks=2):
        super().__init__()
        _check_size(size)
        self.net = nn.Sequential(
            *_block(channels, width),
            *_block(width, width * 2, stride=2),
            *_block(width * 2, width * 4, stride=2),
            *[Residual(width * 4) for _ in range(blocks)],
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_block(width * 4, width * 2),
            nn.Upsample(scale_factor=2, mode="nearest"),
            *_block(width * 2, width),
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Discriminator(DiscriminatorBase):
    """Images to a map of scores ``[N, H/4, W/4]``, one per overlapping patch (pix2pix's
    PatchGAN, smaller): two strided convolutions, one more, then one output channel."""

    def __init__(self, size=(64, 64), channels=3, width=32):
        super().__init__()
        _check_size(size)
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width * 2, 4, stride=2, padding=1),
            nn.InstanceNorm2d(width * 2, affine=True),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width * 2, width * 4, 3, padding=1),
            nn.InstanceNorm2d(width * 4, affine=True),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width * 4, 1, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(1)
'''

TEST_TRANSLATION = '''\
"""The plugin is found through its entry point, builds at several sizes and trains a step."""

import ganzoo
import pytest
import torch
from ganzoo.optim import Stepper

TINY = {"generator_args": {"width": 8, "blocks": 1}, "discriminator_args": {"width": 8}}


def test_registered():
    assert "{{name}}" in ganzoo.list_models()


@pytest.mark.parametrize("size", [32, "48x64"])
def test_trains_one_step(size):
    torch.manual_seed(0)
    gan = ganzoo.create("{{name}}", size=size, **TINY)
    height, width = gan.image_size
    batch = {role: torch.rand(2, 3, height, width) * 2 - 1 for role in ("source", "target")}
    stepper = Stepper(gan.configure_optimizers(), torch.device("cpu"), "fp32")
    before = [p.detach().clone() for p in gan.generator.parameters()]
    logs = gan.train_step(batch, 0, stepper)
    assert set(logs) == {"loss_d", "loss_g", "loss_cycle"}
    assert all(torch.isfinite(v) for v in logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, gan.generator.parameters()))
    photos = torch.rand(3, 3, height, width)
    for reverse in (False, True):
        images = gan.translate(photos, reverse=reverse)
        assert images.shape == (3, 3, height, width)
        assert images.min() >= 0 and images.max() <= 1


def test_unsupported_size_is_a_clear_error():
    with pytest.raises(ganzoo.GanzooError, match="divisible by 4"):
        ganzoo.create("{{name}}", size=30, **TINY)
'''

CARD = """\
---
library_name: ganzoo
license: mit
tags:
- ganzoo
- gan
- {{name}}
pipeline_tag: {{pipeline_tag}}
---

# {{name}}-DATA

A card template: `ganzoo export RUN_DIR OUT_DIR` writes the real card of a trained model (with its
recipe, sample grid and metrics); copy what you write here into it before `ganzoo push`.

## Model

What the {{name}} GAN is, and the paper it comes from.

## Training

`ganzoo run {{name}} --data DATA --recipe default`; say what data, how long, on what hardware.

## Limitations

What it cannot do; the biases of its training data.
"""

README = """\
# ganzoo-{{name}}

The `{{name}}` GAN as a [ganzoo](https://pypi.org/project/ganzoo-core/) plugin: {{what}}.

```bash
pip install -e .                            # then:
ganzoo list                                 # shows {{name}}
ganzoo run {{name}} --data toon --steps 200 # trains on ganzoo's embedded cartoon faces
python -m pytest -q                         # the plugin's own tests
```

- `{{module}}/manifest.py`: what the plugin registers (plain data, read without importing torch)
- `{{module}}/networks.py`: the generator and discriminator
- `{{module}}/losses.py`: the hinge loss
- `{{module}}/zoo/`: pretrained zoo entries, one folder each (see its README)
- `tests/test_{{module}}.py`: the plugin's tests (named after it, so that the tests of several
  plugins run together in one pytest run)
- `model_card.md`: a template for the cards of trained models

See ganzoo's guide "Writing and publishing a plugin" (docs/writing-plugins.md) for publishing the
package to PyPI and weights to the Hugging Face Hub.
"""

ZOO_README = """\
# Zoo entries of the {{name}} plugin

Each pretrained model this plugin ships is a folder here, named `MODEL-DATA` (e.g.
`{{name}}-anime/`), in Hugging Face Hub layout: `README.md` (the model card; its front matter's
`ganzoo:` block holds entry, model, data, status, repo, revision, sha256 and train),
`config.json`, `model.safetensors` and `sample.png`. `ganzoo.load("{{name}}-anime")` then works
offline once the plugin is installed. ganzoo's `benchmarks/make_zoo_entry.py RUN_DIR --out
{{module}}/zoo/{{name}}-anime` makes one from a finished run. This file is the folder's index,
not a card.
"""

FILES = {
    "pyproject.toml": PYPROJECT,
    "README.md": README,
    "model_card.md": CARD,
    "{{module}}/__init__.py": INIT,
    "{{module}}/losses.py": LOSSES,
    "{{module}}/zoo/README.md": ZOO_README,
}

#: per task: the files that differ, and the words and card tag that describe the model
TASKS = {
    "unconditional": {
        "files": {
            "{{module}}/manifest.py": MANIFEST,
            "{{module}}/networks.py": NETWORKS,
            "tests/test_{{module}}.py": TEST,
        },
        "what": "a small convolutional generator and discriminator trained with a hinge loss",
        "pipeline_tag": "unconditional-image-generation",
    },
    "translation": {
        "files": {
            "{{module}}/manifest.py": MANIFEST_TRANSLATION,
            "{{module}}/networks.py": NETWORKS_TRANSLATION,
            "tests/test_{{module}}.py": TEST_TRANSLATION,
        },
        "what": "an unpaired image-to-image translator (two small generators and PatchGAN "
        "discriminators, cycle loss, hinge loss)",
        "pipeline_tag": "image-to-image",
    },
}


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{{" + key + "}}", value)
    return template


def new_plugin(name: str, directory: str | Path = ".", task: str = "unconditional") -> Path:
    """Writes ``DIRECTORY/ganzoo-NAME``, a plugin with a model of ``task``, and returns its
    path."""
    if task not in TASKS:
        raise GanzooError(f"task {task!r} is not one the scaffold makes: {', '.join(TASKS)}")
    if not NAME_PATTERN.fullmatch(name):
        raise GanzooError(
            f"plugin name {name!r} must be lowercase letters, digits and single hyphens, "
            "starting with a letter (e.g. mygan or style-gan2)"
        )
    from ganzoo.registry import registry

    holder = registry().find("models", name)
    if holder is not None:
        raise GanzooError(
            f"a model named {name!r} is already registered by plugin {holder.plugin!r}; "
            "choose another name"
        )
    target = Path(directory) / f"ganzoo-{name}"
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise GanzooError(f"{target} already exists and is not empty; choose another --dir")
    values = {"name": name, "module": "ganzoo_" + name.replace("-", "_")}
    values["ganzoo_version"] = __version__
    values.update(what=TASKS[task]["what"], pipeline_tag=TASKS[task]["pipeline_tag"])
    for relative, template in {**FILES, **TASKS[task]["files"]}.items():
        path = target / _fill(relative, values)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_fill(template, values), encoding="utf-8")
    return target
