"""The core's own contributions, registered through the same entry point as any plugin's."""

MANIFEST = {
    "datasets": {
        "toon": {
            "builder": "ganzoo.data.toon:toon_anime",
            "summary": "embedded procedural cartoon faces, anime style (target); needs no files",
            "source": "toon/photo",
            "present": True,
            "found": "built in: procedural faces drawn on the fly, no files needed",
        },
        "toon/anime": {
            "builder": "ganzoo.data.toon:toon_anime",
            "summary": "procedural cartoon faces: flat cel colours, outlines, large eyes",
            "present": True,
            "found": "built in: procedural faces drawn on the fly, no files needed",
        },
        "toon/photo": {
            "builder": "ganzoo.data.toon:toon_photo",
            "summary": "procedural cartoon faces: soft shading, small eyes, textured skin",
            "present": True,
            "found": "built in: procedural faces drawn on the fly, no files needed",
        },
        # Real data: where it is looked for and how it is cropped (ganzoo/data/real.py).
        "anime": {
            "builder": "ganzoo.data.real:anime",
            "describe": "ganzoo.data.real:describe",
            "summary": "anime character faces (Anime Face Dataset), 64x64 by default (paper: 96)",
            "source": "celeba",
            "homepage": "https://github.com/bchao1/Anime-Face-Dataset",
            "licence": "faces cropped from game artwork (getchu.com), copyright of its owners; "
            "the Hub copy is tagged CC0-1.0; for research use",
            "hub": "huggan/anime-faces",
            "archive": "anime-faces-64.tar",
            "folder": "anime-faces-64",
            "env": "GANZOO_DATA_ANIME",
            "crop": "center",
            "default_size": "64",
            "paper_size": "96",
        },
        "celeba": {
            "builder": "ganzoo.data.real:celeba",
            "describe": "ganzoo.data.real:describe",
            "summary": "aligned CelebA face photos (178x218), cropped around the face",
            "homepage": "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html",
            "licence": "CelebA agreement: non-commercial research and education only",
            # img_align_celeba, all 202,599 images, as 3 parquet shards (1.4 GB)
            "hub": "nielsr/CelebA-faces",
            "archive": "celeba-faces.tar",
            "folder": "celeba-faces",
            "env": "GANZOO_DATA_CELEBA",
            "crop": "celeba",
            "default_size": "64",
            "paper_size": "128x160",
        },
    },
    "metrics": {
        "fid": {
            "builder": "ganzoo.metrics.inception:FID",
            "summary": "Frechet Inception distance, torch-fidelity's TF-ported Inception; lower is "
            "better",
        },
        "kid": {
            "builder": "ganzoo.metrics.inception:KID",
            "summary": "kernel Inception distance (unbiased MMD^2, cubic kernel); lower is better",
        },
        "is": {
            "builder": "ganzoo.metrics.inception:InceptionScore",
            "summary": "Inception score of the generated images, the real images' beside it",
        },
        "swd": {
            "builder": "ganzoo.metrics.swd:SWD",
            "summary": "ProGAN's sliced Wasserstein distance on Laplacian-pyramid patches, x1e3; "
            "no download",
        },
        "msssim": {
            "builder": "ganzoo.metrics.msssim:MSSSIM",
            "summary": "mean MS-SSIM of random generated pairs (diversity), real pairs beside it",
        },
        "toon-modes": {
            "builder": "ganzoo.metrics.toon:ToonModes",
            "summary": "toon modes covered of 1,000, KL from uniform (toon attribute classifier)",
        },
        "toon-content": {
            "builder": "ganzoo.metrics.toon:ToonContent",
            "summary": "translators on toon: fraction of outputs keeping all three attributes",
        },
        "toon-fid": {
            "builder": "ganzoo.metrics.toon:ToonFID",
            "summary": "Frechet distance in the toon classifier's feature space vs real toon",
        },
    },
}
