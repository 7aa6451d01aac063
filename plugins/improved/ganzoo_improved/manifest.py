"""What the improved plugin contributes. Plain data: reading it imports no torch."""

_COMPONENTS = {
    "generator": "improved-generator",
    "discriminator": "patchgan70",
    # the adversarial loss is the wgan plugin's: "plugin:name", so that no other plugin's
    # loss of the same name is used
    "loss": "wgan:wasserstein-clip",
}

MANIFEST = {
    # zoo entries: one Hub-layout folder each (README.md card, config.json, model.safetensors,
    # sample.png), shipped as package data
    "zoo": "ganzoo_improved:zoo",
    "models": {
        "improved": {
            # ganzoo's CycleGAN, with optional anime signals (model.py; all off by default)
            "builder": "ganzoo_improved.model:AnimeCycleGAN",
            "task": "translation",
            "summary": "the paper's photo-to-anime translator: ResNet-18-style encoder-decoder, "
            "70x70 PatchGAN, Wasserstein loss, cycle loss",
            "paper": "Deep learning-driven migration model for creative animation generation "
            "(section 4.2), with CycleGAN (Zhu et al. 2017)",
            "tags": ["translation", "cyclegan", "anime"],
            "recipes": {
                # Sized so that the main job, `ganzoo run improved --data toon`, ends within
                # five minutes on two CPU cores: 32x32, width 16, 2,000 steps of 8. The loss and
                # augmentation won the recipe searches at equal training FLOPs
                # (docs/search/README.md): least squares (CycleGAN's own loss) with DiffAugment
                # gave FID 138 on CelebA -> anime at 64x64 against 164 for the gradient penalty
                # and 157 for weight clipping, and on toon toon-content 0.275 / hair colour 0.91
                # / hair style 0.93 against 0.21 / 0.82 / 0.82. Without the full-resolution stem
                # skip the generators lose the input's layout (FID 236); without the identity
                # loss (0.5, as in CycleGAN's photo<->painting runs) FID rose to 190. Adam 5e-4
                # (2e-4: 143). Width 32 scored the same per FLOP (140 after 2,040 images) and
                # runs those FLOPs 1.5x faster at 64x64 (bf16: 1.8x), so it is the better
                # width per CPU-hour for 64x64 models; width 16 stays here to keep the main job
                # within five minutes.
                # For the full-size model pass --size 64 --set generator_args.width=64
                # --set discriminator_args.width=64.
                "default": {
                    **_COMPONENTS,
                    "size": 32,
                    "lambda_identity": 0.5,
                    "generator_args": {"width": 16, "stem_skip": True},
                    "discriminator_args": {"width": 16},
                    "loss": "dcgan:least-squares",
                    "loss_args": {},
                    "augment": "color,translation,cutout",
                    "optimizer": "adam",
                    "lr_g": 5e-4,
                    "lr_d": 5e-4,
                    "betas": [0.5, 0.999],
                    "n_critic": 1,
                    "batch_size": 8,
                    "steps": 2000,
                    "sample_every": 250,
                },
                # CycleGAN's identity loss (lambda_identity, relative to the cycle weight) is there
                # to keep the input's colours. At 5 instead of 0.5 the translator carries the
                # small photo eyes' colour into the large anime eyes: on toon at 64x64,
                # toon-content 0.575 after 16,000 images and 0.552 after 32,000 (eye colour
                # 0.61 / 0.57), against 0.357 / 0.406 (eye colour 0.38 / 0.42) for the default
                # (docs/search/translator-toon.md). On CelebA -> anime it keeps more of the
                # photo: FID 156 against 138 (identity 2: 146), so it is not the default.
                "keep-colours": {"base": "default", "lambda_identity": 5.0},
                # The default before the searches: the Wasserstein loss with a gradient penalty
                # of 10 (the paper's critic, kept Lipschitz the way WGAN-GP does), no
                # augmentation.
                "wasserstein": {
                    "base": "default",
                    "loss": "wgan:wasserstein-gp",
                    "loss_args": {"gp_lambda": 10.0},
                    "augment": None,
                },
                # Section 5.2 (SGD, learning rate 0.002, 200 epochs) and weight clipping
                # (section 4.1) at 0.01, as WGAN's paper recipe gives them; CycleGAN's lambda 10
                # and no identity loss (the defaults of ganzoo.models.CycleGAN), 64x64, full
                # ResNet-18 widths, no stem skip. Batch size and n_critic are not given: 1 and 1.
                "paper": {
                    "base": "wgan:paper",
                    **_COMPONENTS,
                    "generator_args": {"width": 64},
                    "discriminator_args": {"width": 64},
                    "n_critic": 1,
                    "batch_size": 1,
                },
            },
        }
    },
    "generators": {
        "improved-generator": {
            "builder": "ganzoo_improved.networks:ImprovedGenerator",
            "summary": "ResNet-18-style encoder (instance norm, concatenating residual blocks) "
            "and a decoder with additive skips; image to image",
        },
        "improved-timm-generator": {
            "builder": "ganzoo_improved.networks:TimmImprovedGenerator",
            "summary": "the improved decoder on a timm resnet18 features_only encoder with "
            "instance norm",
        },
    },
    "discriminators": {
        "patchgan70": {
            "builder": "ganzoo_improved.networks:PatchGAN70",
            "summary": "70x70 PatchGAN: one score per overlapping 70x70 patch, any input size",
        }
    },
}
