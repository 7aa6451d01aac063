"""What the cut plugin contributes. Plain data: reading it imports no torch."""

_NETWORKS = {
    "generator": "cut-resnet-generator",
    "discriminator": "cut-patchgan",
    "loss": "cut-least-squares",
}

MANIFEST = {
    "models": {
        "cut": {
            "builder": "ganzoo_cut.model:CUT",
            "task": "translation",
            "summary": "CUT: one-sided unpaired translation, PatchNCE between input and "
            "translation instead of a cycle (Park et al. 2020)",
            "paper": "Park, Efros, Zhang, Zhu 2020, Contrastive Learning for Unpaired "
            "Image-to-Image Translation, https://arxiv.org/abs/2007.15651",
            "tags": ["translation", "cut", "contrastive"],
            "recipes": {
                # The reference's CUT options (lambda_NCE 1, PatchNCE on Y too, least squares,
                # Adam 2e-4, betas 0.5/0.999, 256 patches), at ganzoo's batch 8 and a ResNet
                # generator of 6 blocks (the reference's choice below 256x256 in CycleGAN).
                "default": {
                    **_NETWORKS,
                    "size": 64,
                    "generator_args": {"width": 64, "blocks": 6},
                    "discriminator_args": {"width": 64},
                    "loss_args": {},
                    "optimizer": "adam",
                    "lr_g": 2e-4,
                    "lr_d": 2e-4,
                    "betas": [0.5, 0.999],
                    "n_critic": 1,
                    "batch_size": 8,
                    "steps": 2000,
                    "sample_every": 250,
                    "lambda_nce": 1.0,
                    "nce_identity": True,
                },
                # FastCUT: a stronger PatchNCE and no identity PatchNCE on Y
                "fast": {"base": "default", "lambda_nce": 10.0, "nce_identity": False},
                # FastCUT as the reference trains it: batch 1, 9 blocks, blurred resampling,
                # flip equivariance, mirrored images (docs/peers: as fast per CPU-second)
                "fast-reference": {
                    "base": "fast",
                    "batch_size": 1,
                    "generator_args": {"width": 64, "blocks": 9, "antialias": True},
                    "discriminator_args": {"width": 64, "antialias": True},
                    "flip_equivariance": True,
                    "flip": True,
                },
            },
        }
    },
    "generators": {
        "cut-resnet-generator": {
            "builder": "ganzoo_cut.networks:ResnetGenerator",
            "summary": "CycleGAN/CUT's ResNet generator: two stride-2 convolutions, residual "
            "blocks, two transposed convolutions; exposes features for PatchNCE",
        }
    },
    "discriminators": {
        "cut-patchgan": {
            "builder": "ganzoo_cut.networks:PatchGAN",
            "summary": "70x70 PatchGAN, as in pix2pix, CycleGAN and CUT",
        }
    },
    "losses": {
        "cut-least-squares": {
            "builder": "ganzoo_cut.networks:LeastSquares",
            "summary": "LSGAN (Mao et al. 2017): squared distance of scores to 1 and 0",
        }
    },
}
