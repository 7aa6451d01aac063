"""The WGAN critic: DCGAN's discriminator read as a critic (Arjovsky et al. 2017)."""

from __future__ import annotations

from ganzoo_dcgan.networks import DCGANDiscriminator


def wgan_critic(
    size: tuple[int, int], channels: int = 3, width: int = 64, norm: str = "batch"
) -> DCGANDiscriminator:
    """DCGAN's discriminator, whose raw output is the critic value ``f(x)``, shape ``[N]``.

    Arjovsky et al. use the DCGAN discriminator with the sigmoid removed; ours never had one.
    Batch norm (their choice) is fine under weight clipping; with a gradient penalty (Gulrajani
    et al. 2017) pass ``norm="layer"`` (or "instance" or "none"), since the penalty is per sample
    and batch norm couples the samples of a batch.
    """
    return DCGANDiscriminator(size, channels=channels, width=width, norm=norm)
