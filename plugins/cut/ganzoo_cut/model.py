"""CUT's model shape: one generator X -> Y, one discriminator on Y, and PatchNCE between each
input and its translation in place of CycleGAN's second generator and cycle."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ganzoo.errors import GanzooError
from ganzoo.models import GAN, from_unit, to_unit
from ganzoo.optim import make_optimizer
from ganzoo.patchnce import PatchNCE, channels_of
from ganzoo.validate import check_ranges


class CUT(GAN):
    """Park et al. 2020: ``loss_G = adversarial + lambda_nce * NCE(x, G(x))``, plus, with
    ``nce_identity``, ``lambda_nce * NCE(y, G(y))`` averaged with it (the reference's
    ``--nce_idt``, which keeps G from changing what is already in Y). With ``flip_equivariance``
    (FastCUT's), half the steps translate the mirrored inputs and PatchNCE mirrors the
    translations' features back, so G must commute with mirroring. The exported network is
    ``generator`` (source to target); ``translate(reverse=True)`` has nothing to run."""

    task = "translation"
    domains = ("source", "target")
    log_keys = ("loss_d", "loss_g", "loss_nce")
    preview_group = 2
    recipe_fields = {
        "lambda_nce": 1.0,
        "nce_identity": True,
        "nce_patches": 256,
        "flip_equivariance": False,
    }

    @classmethod
    def check_recipe_fields(cls, recipe: dict[str, Any]) -> None:
        check_ranges(
            recipe,
            counts=("nce_patches",),
            non_negative_numbers=("lambda_nce",),
            switches=("nce_identity", "flip_equivariance"),
        )

    def __init__(self, config: dict[str, Any], training: bool = True):
        super().__init__(config, training)
        self.generator = self._network("generator")
        if training:
            self.discriminator = self._network("discriminator")
            self.loss = self._loss()
            channels = channels_of(self.generator, self.channels, self.image_size)
            self.nce = PatchNCE(channels, int(self.recipe["nce_patches"]))
        self._setup_ema(training)

    def exported(self) -> dict[str, nn.Module]:
        return {"generator": self.generator}

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        generator = [*self.generator.parameters(), *self.nce.parameters()]
        return {
            "generator": make_optimizer(generator, self.recipe, self.recipe["lr_g"]),
            "discriminator": make_optimizer(
                self.discriminator.parameters(), self.recipe, self.recipe["lr_d"]
            ),
        }

    def train_step(self, batch, step, stepper):
        x, y = batch["source"], batch["target"]
        identity = bool(self.recipe["nce_identity"])
        mirrored = bool(self.recipe["flip_equivariance"]) and bool(torch.rand(()) < 0.5)
        seen, d = self.seen_by_discriminator, self.discriminator
        with stepper.autocast():
            # x and y through the generator together, as the reference does with --nce_idt
            inputs = torch.cat([x, y]) if identity else x
            both = self.generator(inputs.flip(-1) if mirrored else inputs)
            fake = both[: len(x)]
            loss_d = self.loss.discriminator_loss(d(seen(y)), d(seen(fake.detach())))
        stepper.step("discriminator", loss_d)
        d.requires_grad_(False)
        with stepper.autocast():
            nce = self.nce(self.generator, x, fake, mirrored)
            if identity:
                nce = 0.5 * (nce + self.nce(self.generator, y, both[len(x) :], mirrored))
            loss_g = (
                self.loss.generator_loss(d(seen(fake))) + float(self.recipe["lambda_nce"]) * nce
            )
        stepper.step("generator", loss_g)
        d.requires_grad_(True)
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "loss_nce": nce.detach()}

    def preview_inputs(self, batch, n, seed):
        return batch["source"][:n].detach().cpu().clone()

    @torch.no_grad()
    def preview(self, inputs):
        """Pairs of (source, translation)."""
        x = inputs.to(self.device)
        return to_unit(torch.stack([x, self.generator(x)], dim=1).flatten(0, 1))

    @torch.no_grad()
    def translate(self, images: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        """Images ``[N, 3, H, W]`` in [0, 1] from the source to the target domain."""
        if reverse:
            raise GanzooError("CUT is one-sided: it has no generator from target to source")
        was_training = self.generator.training
        self.generator.eval()
        try:
            return to_unit(self.generator(from_unit(images.to(self.device).float())))
        finally:
            self.generator.train(was_training)
