"""``ganzoo demo``: a local web page (Gradio) to try a model without writing code.

A translator gets an upload box (or example faces to pick) and shows the translation, in either
direction; an unconditional model gets a seed and a button that draws a grid. Pictures are
enlarged with nearest neighbour, as the sample grids are (``ganzoo.io.images``).

Nothing here reaches the internet: Gradio's analytics and version check are off, no share link
is made, and the page is served from 127.0.0.1 (Gradio 6's default theme bundles its fonts; the
browser test checks that the page loads nothing from elsewhere). Needs the optional extra:
``pip install ganzoo-core[demo]``.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path

import torch
from PIL import Image

from ganzoo.cli.inference import input_crop
from ganzoo.data.images import decode
from ganzoo.errors import GanzooError
from ganzoo.io.images import grid_image, upscale_factor
from ganzoo.models import GAN

MAX_SAMPLES = 64
#: the browser scales pictures to fit their box; this keeps model pixels sharp squares
CSS = "#input img, #output img { image-rendering: pixelated; }"
HEIGHT = 320
#: a picture's shorter edge in the page: larger than a grid's 128 px, it is the page's subject
DEMO_PX = 256
EXAMPLES = 3  # example faces per direction


def _gradio():
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read when gradio is imported
    try:
        import gradio
    except ImportError:
        raise GanzooError(
            "ganzoo demo needs the demo extra: pip install 'ganzoo-core[demo]'"
        ) from None
    return gradio


def _picture(images: torch.Tensor, nrow: int = 1) -> Image.Image:
    """``[N, 3, H, W]`` in [0, 1] as one enlarged PIL image: a single image to ``DEMO_PX``,
    without padding; several as a grid of ``READABLE_PX`` images, as sample grids are."""
    height, width = images.shape[-2:]
    if images.shape[0] == 1:
        scale = upscale_factor(height, width, DEMO_PX)
        pixels = images[0].mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
        pixels = pixels.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    else:
        pixels = grid_image(images, nrow, upscale_factor(height, width))
    return Image.fromarray(pixels.permute(1, 2, 0).numpy())


def translate_picture(gan: GAN, image: Image.Image | None, reverse: bool) -> Image.Image | None:
    """One uploaded picture through the translator, cropped and resized exactly as
    ``ganzoo translate`` does a file (as the training data of its side was)."""
    if image is None:
        return None
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")  # lossless, keeps the mode: decode handles every one
    crop = input_crop(gan.config, reverse)
    pixels, _ = decode(buffer.getvalue(), tuple(gan.image_size), crop)
    x = torch.from_numpy(pixels).float().div(255).unsqueeze(0)
    return _picture(gan.translate(x, reverse=reverse).cpu())


def sample_picture(gan: GAN, seed: float, count: float) -> Image.Image:
    count = min(max(int(count), 1), MAX_SAMPLES)
    images = gan.sample(count, seed=int(seed)).cpu()
    return _picture(images, nrow=max(1, round(math.sqrt(count))))


def example_faces(folder: Path, size: int = 128) -> list[list]:
    """Procedural ``toon`` faces to pick: photo style (translated forward) and anime style
    (translated back). They need no files and no network."""
    from ganzoo.data.toon import toon_anime, toon_photo

    rows = []
    for style, dataset, reverse in (("photo", toon_photo, False), ("anime", toon_anime, True)):
        faces = dataset(size=size, length=EXAMPLES, seed=1).render_batch(range(EXAMPLES))
        for i, face in enumerate(faces):
            path = folder / f"{style}-{i}.png"
            Image.fromarray(face.permute(1, 2, 0).numpy()).save(path)
            rows.append([str(path), reverse])
    return rows


def _describe(gan: GAN, source: str) -> str:
    config = gan.config
    height, width = gan.image_size
    data = (config.get("training") or {}).get("data") or (config.get("run") or {}).get("data")
    trained = f", trained on `{data}`" if data else ""
    article = "an" if config["task"][0] in "aeiou" else "a"
    return (
        f"## ganzoo demo: {config['model']}\n`{source}`: {article} {config['task']} model at "
        f"{width}x{height}{trained}. Pictures are enlarged so that each model pixel is a square."
    )


def build_demo(gan: GAN, source: str, examples_dir: Path):
    """The Gradio page for ``gan`` (not started)."""
    gr = _gradio()
    with gr.Blocks(title=f"ganzoo {gan.config['model']}", analytics_enabled=False) as demo:
        gr.Markdown(_describe(gan, source))
        if gan.task == "unconditional":
            with gr.Row():
                seed = gr.Number(0, label="seed", precision=0, elem_id="seed")
                count = gr.Slider(1, MAX_SAMPLES, value=16, step=1, label="images")
            button = gr.Button("Draw", variant="primary", elem_id="run")
            output = gr.Image(
                label="samples", format="png", interactive=False, elem_id="output", height=512
            )
            draw = lambda s, n: sample_picture(gan, s, n)  # noqa: E731
            button.click(draw, [seed, count], output)
            demo.load(draw, [seed, count], output)
        else:
            with gr.Row():
                image = gr.Image(
                    type="pil",
                    label="input",
                    sources=["upload", "clipboard"],
                    elem_id="input",
                    height=HEIGHT,
                )
                output = gr.Image(
                    label="translation",
                    format="png",
                    interactive=False,
                    elem_id="output",
                    height=HEIGHT,
                )
            reverse = gr.Checkbox(False, label="reverse: target to source (anime to photo)")
            button = gr.Button("Translate", variant="primary", elem_id="run")
            gr.Examples(example_faces(examples_dir), [image, reverse], label="or pick a face")
            run = lambda img, rev: translate_picture(gan, img, rev)  # noqa: E731
            button.click(run, [image, reverse], output)
            image.change(run, [image, reverse], output)
            reverse.change(run, [image, reverse], output)
    return demo


def serve(source: str, port: int = 7860, host: str = "127.0.0.1", device: str = "auto") -> None:
    """Loads ``source`` and serves its demo on ``host:port`` until interrupted."""
    from ganzoo.hub import load

    _gradio()  # a missing extra fails before the model loads
    gan = load(source, device=device)
    gan.eval()
    with tempfile.TemporaryDirectory(prefix="ganzoo-demo-") as tmp:
        demo = build_demo(gan, source, Path(tmp))
        print(f"ganzoo demo of {source} on http://{host}:{port} (Ctrl-C stops it)", flush=True)
        try:
            demo.launch(
                server_name=host,
                server_port=port,
                share=False,
                ssr_mode=False,  # server-side rendering would need Node
                quiet=True,
                css=CSS,
                allowed_paths=[tmp],
            )
        except OSError as exc:  # the port is taken, mostly
            reason = str(exc).split(". ")[0]
            raise GanzooError(
                f"cannot serve on {host}:{port}: {reason}; try another --port"
            ) from None
