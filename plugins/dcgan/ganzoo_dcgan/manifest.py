"""What the dcgan plugin contributes. Plain data: reading it imports no torch."""

_COMPONENTS = {
    "generator": "dcgan-generator",
    "discriminator": "dcgan-discriminator",
    "loss": "bce",
}

MANIFEST = {
    # zoo entries: one Hub-layout folder each (README.md card, config.json, model.safetensors,
    # sample.png), shipped as package data
    "zoo": "ganzoo_dcgan:zoo",
    "models": {
        "dcgan": {
            "builder": "ganzoo.models:UnconditionalGAN",
            "task": "unconditional",
            "summary": "Deep convolutional GAN: strided convolutions, batch norm, BCE loss",
            "paper": "Radford, Metz and Chintala 2016, https://arxiv.org/abs/1511.06434",
            "tags": ["unconditional", "dcgan"],
            "recipes": {
                # Radford et al.: Adam, lr 2e-4, beta1 0.5, batch 128 (64 here, as in the
                # PyTorch DCGAN example), plus generator EMA and DiffAugment, which won the
                # search in docs/search/dcgan-anime.md: at 64,000 anime images FID 224 against
                # 347 without them, msssim 0.50 against 0.66 (real pairs 0.30). DiffAugment does
                # most of it (alone: 228, 0.47); EMA alone left FID at 357.
                "default": {
                    **_COMPONENTS,
                    "optimizer": "adam",
                    "lr_g": 2e-4,
                    "lr_d": 2e-4,
                    "betas": [0.5, 0.999],
                    "batch_size": 64,
                    "steps": 5000,
                    "ema": 0.999,
                    "augment": "color,translation,cutout",
                },
                # The recipe above without EMA and DiffAugment: Radford et al.'s settings as
                # they were published.
                "reference": {"base": "default", "ema": 0.0, "augment": None},
                # The paper's section 5.2: SGD with learning rate 0.002 for 200 epochs. It names
                # no momentum or batch size; we use plain SGD and batch 64. WGAN's paper recipe
                # builds on this one ("base"), and the improved translator's on WGAN's.
                "paper": {
                    **_COMPONENTS,
                    "optimizer": "sgd",
                    "lr_g": 0.002,
                    "lr_d": 0.002,
                    "momentum": 0.0,
                    "batch_size": 64,
                    "epochs": 200,
                },
            },
        }
    },
    "generators": {
        "dcgan-generator": {
            "builder": "ganzoo_dcgan.networks:DCGANGenerator",
            "summary": "transposed convolutions, batch norm, ReLU, tanh; noise to image",
        }
    },
    "discriminators": {
        "dcgan-discriminator": {
            "builder": "ganzoo_dcgan.networks:DCGANDiscriminator",
            "summary": "strided convolutions, batch norm, LeakyReLU 0.2; one logit per image",
        }
    },
    "losses": {
        "bce": {
            "builder": "ganzoo_dcgan.losses:BCELoss",
            "summary": "non-saturating binary cross-entropy (Goodfellow et al. 2014)",
        },
        "least-squares": {
            "builder": "ganzoo_dcgan.losses:LeastSquaresLoss",
            "summary": "least-squares GAN loss (Mao et al. 2017), as CycleGAN trains; any model",
        },
    },
}
