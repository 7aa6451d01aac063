"""What the wgan plugin contributes. Plain data: reading it imports no torch."""

_COMPONENTS = {
    # the generator is DCGAN's: "plugin:name", so that no other plugin's dcgan-generator is used
    "generator": "dcgan:dcgan-generator",
    "discriminator": "wgan-critic",
    "loss": "wasserstein-clip",
}

MANIFEST = {
    # zoo entries: one Hub-layout folder each (README.md card, config.json, model.safetensors,
    # sample.png), shipped as package data
    "zoo": "ganzoo_wgan:zoo",
    "models": {
        "wgan": {
            "builder": "ganzoo.models:UnconditionalGAN",
            "task": "unconditional",
            "summary": "Wasserstein GAN: DCGAN networks, a linear critic, weight clipping "
            "(recipe gp: a gradient penalty)",
            "paper": "Arjovsky, Chintala and Bottou 2017, https://arxiv.org/abs/1701.07875",
            "tags": ["unconditional", "wgan"],
            "recipes": {
                # Arjovsky et al. Algorithm 1: RMSprop 5e-5, clip 0.01, n_critic 5, batch 64.
                "default": {
                    **_COMPONENTS,
                    "loss_args": {"clip_value": 0.01},
                    "optimizer": "rmsprop",
                    "lr_g": 5e-5,
                    "lr_d": 5e-5,
                    "n_critic": 5,
                    "batch_size": 64,
                    "steps": 25000,
                },
                # Gulrajani et al.'s gradient penalty (Adam 1e-4, betas (0, 0.9), a layer-norm
                # critic), lazy (on one critic step in four, weighted 4x: 36 img/s on one thread
                # against 24 for the full penalty), n_critic 2, DiffAugment and batch 16: the
                # zoo's wgan-anime and wgan-celeba (FID 117 and 138 after 320,000 images, each the
                # mean of its run's last 3 checkpoints).
                # Clipping with DiffAugment at batch 16 still drew noise patterns after 32,000
                # anime images (FID 315); the curves are in docs/search/wgan-anime.md.
                "gp": {
                    "base": "default",
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
                # The paper's section 5.2 (SGD, learning rate 0.002, 200 epochs, batch 64), as
                # DCGAN's paper recipe gives it; clipping and n_critic as in Arjovsky et al.
                # since the paper names none.
                "paper": {
                    "base": "dcgan:paper",
                    **_COMPONENTS,
                    "loss_args": {"clip_value": 0.01},
                    "n_critic": 5,
                },
            },
        }
    },
    "discriminators": {
        "wgan-critic": {
            "builder": "ganzoo_wgan.networks:wgan_critic",
            "summary": "DCGAN discriminator with a linear output (no sigmoid): a critic",
        }
    },
    "losses": {
        "wasserstein-clip": {
            "builder": "ganzoo_wgan.losses:WassersteinClip",
            "summary": "Wasserstein loss, critic weights clipped to [-c, c] after each step",
        },
        "wasserstein-gp": {
            "builder": "ganzoo_wgan.losses:WassersteinGP",
            "summary": "Wasserstein loss with gradient penalty, lambda 10 (Gulrajani et al. 2017)",
        },
    },
}
