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
                # Radford et al.: Adam, lr 2e-4, beta1 0.5, with DiffAugment and batch 16, which
                # won the search in docs/search/dcgan-anime.md: at 64,000 anime images FID 142
                # against 347 for the published recipe below, 228 with DiffAugment at batch 64
                # and 224 with EMA as well (the previous default). Batch 16 gives those images
                # 4,000 updates instead of 1,000. Generator EMA (0.999) lost at batch 16 (173),
                # as did least squares (260), a minibatch-std channel (166) and both (151); EMA
                # and the minibatch-std channel made the samples more varied (msssim 0.46-0.47
                # against 0.53; real pairs 0.30). On CelebA's 5,000 faces at 12,800 images it
                # did worse than the previous default (359 against 329;
                # docs/search/dcgan-celeba.md). Trained on, its samples vary more: after 256,000
                # images FID 120 and msssim 0.39 (the curve in docs/search/dcgan-anime.md).
                # 20,000 steps: the 320,000 images of the 5,000 steps of 64 before.
                "default": {
                    **_COMPONENTS,
                    "optimizer": "adam",
                    "lr_g": 2e-4,
                    "lr_d": 2e-4,
                    "betas": [0.5, 0.999],
                    "batch_size": 16,
                    "steps": 20000,
                    "ema": 0.0,
                    "augment": "color,translation,cutout",
                },
                # Radford et al.'s settings as they were published (batch 128 in the paper; 64
                # here, as in the PyTorch DCGAN example), without DiffAugment.
                "reference": {"base": "default", "augment": None, "batch_size": 64, "steps": 5000},
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
