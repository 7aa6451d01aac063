"""The core's own contributions, registered through the same entry point as any plugin's."""

MANIFEST = {
    "datasets": {
        "toon": {
            "builder": "ganzoo.data.toon:toon_anime",
            "summary": "embedded procedural cartoon faces, anime style (target); needs no files",
            "source": "toon/photo",
        },
        "toon/anime": {
            "builder": "ganzoo.data.toon:toon_anime",
            "summary": "procedural cartoon faces: flat cel colours, outlines, large eyes",
        },
        "toon/photo": {
            "builder": "ganzoo.data.toon:toon_photo",
            "summary": "procedural cartoon faces: soft shading, small eyes, textured skin",
        },
        "anime": {
            "builder": "ganzoo.data.real:anime",
            "summary": "anime character faces (Anime Face Dataset)",
            "source": "celeba",
        },
        "celeba": {
            "builder": "ganzoo.data.real:celeba",
            "summary": "aligned CelebA face photos, 178x218",
        },
    },
    "metrics": {},
}
