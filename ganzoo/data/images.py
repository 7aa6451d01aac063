"""Decoding one image file into a fixed-size RGB array: the preprocessing every dataset shares.

``decode(data, size, crop)`` turns the bytes of one file into a uint8 array [3, H, W], or raises
``Unusable`` with the reason counted in the skip warning. Choices, in one place:

* Every mode becomes RGB. Grey, CMYK and palette images are converted; 16-bit grey ("I;16") is
  scaled to 8 bits (PIL's ``convert`` would clip everything above 255 to white); images with
  transparency (RGBA, LA, palette with a transparent colour) are composited on white, because the
  colour under transparent pixels is arbitrary and often black.
* EXIF orientation is applied, so phone photos stand upright.
* Geometry (``crop``, which each dataset declares in its registration): "center" resizes the
  image to cover the target and centre-crops the excess (for a square target: the central
  square). "face" is for aligned face photos whose face sits below the image centre: it does the
  same for non-square targets, but for square targets crops a square of the short side centred at
  55% of the height instead of 50%. The 55% was measured on aligned CelebA (eyes at y~111, mouth
  at y~152 of 218): for 178x218 this is rows 31..209, the central 178x178 square moved 11 px down,
  while 128x160 keeps the whole photo (1.8 px trimmed each side).
* Images smaller than the crop are upscaled (bicubic), and counted so the caller can say so.
* A file is unusable when it is empty, not an image, corrupt or truncated, or larger than
  ``Image.MAX_IMAGE_PIXELS`` pixels (a decompression bomb).

Bump ``PREPROCESS_VERSION`` whenever the output of ``decode`` changes: it is part of every decode
cache key, so old caches are then rebuilt rather than trusted.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import ExifTags, Image, ImageOps

PREPROCESS_VERSION = 1
CROPS = ("center", "face")
IMAGE_EXTENSIONS = (
    ".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm",
)  # fmt: skip
FACE_CENTRE_Y = 0.55  # "face" crop: vertical centre of the square, as a fraction of the height

# 50 megapixels is far beyond any face photo; anything larger is treated as unusable. decode()
# checks the size itself, so PIL's own warning about such files would only repeat it.
Image.MAX_IMAGE_PIXELS = 50_000_000
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class Unusable(Exception):
    """A file that cannot become a training image; ``reason`` is counted in the skip warning."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def is_image_name(name: str) -> bool:
    """Whether a file name looks like an image (macOS "._" resource forks do not)."""
    base = name.rsplit("/", 1)[-1]
    return base.lower().endswith(IMAGE_EXTENSIONS) and not base.startswith("._")


def crop_box(width: int, height: int, size: tuple[int, int], crop: str) -> tuple[float, ...]:
    """The region (left, top, right, bottom) of a width x height image that becomes the output."""
    out_h, out_w = size
    if crop == "face" and out_h == out_w:
        side = min(width, height)
        top = min(max(height * FACE_CENTRE_Y - side / 2, 0), height - side)
        left = (width - side) / 2
        return (left, top, left + side, top + side)
    # Cover the target keeping the aspect ratio, then crop the excess equally on both sides.
    scale = max(out_w / width, out_h / height)
    crop_w, crop_h = out_w / scale, out_h / scale
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return (left, top, left + crop_w, top + crop_h)


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL image as RGB: see the module docstring for the choices."""
    if img.mode == "RGB" and "transparency" not in img.info:
        return img
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        values = np.asarray(img, dtype=np.float64)
        if values.max(initial=0) > 255:  # 16-bit data: 65535 -> 255
            values = values / 257
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return img.convert("RGB")


def decode(data: bytes, size: tuple[int, int], crop: str = "center") -> tuple[np.ndarray, bool]:
    """One file's bytes as a uint8 RGB array [3, H, W], and whether it had to be upscaled."""
    if not data:
        raise Unusable("empty")
    out_h, out_w = size
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > Image.MAX_IMAGE_PIXELS:
                raise Unusable("too large")
            # Parsing EXIF costs as much as decoding a small JPEG: only when there is some.
            if "exif" in img.info and img.getexif().get(ExifTags.Base.Orientation, 1) != 1:
                img = ImageOps.exif_transpose(img)
            box = crop_box(img.width, img.height, size, crop)
            scale = max(out_w / (box[2] - box[0]), out_h / (box[3] - box[1]))
            upscaled = scale > 1
            if not upscaled:
                # JPEG can decode at 1/2, 1/4 or 1/8 scale for free: ask for the smallest size at
                # which the crop still covers the output (other formats ignore this).
                full = img.size
                img.draft(None, (math.ceil(full[0] * scale), math.ceil(full[1] * scale)))
                ratio = img.width / full[0]
                box = tuple(v * ratio for v in box)
            pixels = np.array(to_rgb(img))  # [h, w, 3]; a copy, so torch may share it
    except Unusable:
        raise
    except Image.DecompressionBombError:
        raise Unusable("too large") from None
    except Image.UnidentifiedImageError:
        raise Unusable("not an image") from None
    except Exception:  # PIL raises many types for damaged files (OSError, SyntaxError, ...)
        raise Unusable("corrupt") from None
    return resized_crop(pixels, box, size), upscaled


def resized_crop(pixels: np.ndarray, box: tuple[float, ...], size: tuple[int, int]) -> np.ndarray:
    """The ``box`` of an [h, w, 3] image resized to ``size``, as [3, H, W] (bicubic, antialiased).

    The box is rounded to whole pixels, its size first so that its aspect ratio stays right.
    torchvision resizes uint8 images kept in [h, w, 3] memory about 3x faster than PIL does here.
    """
    # Imported here: sources.py and `ganzoo info` use this module without loading torch.
    import torch
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as F

    rows, cols = pixels.shape[:2]
    width, height = min(round(box[2] - box[0]), cols), min(round(box[3] - box[1]), rows)
    left, top = min(round(box[0]), cols - width), min(round(box[1]), rows - height)
    image = torch.from_numpy(pixels).permute(2, 0, 1)
    if (height, width) == tuple(size):
        out = image[:, top : top + height, left : left + width]
    else:
        out = F.resized_crop(
            image, top, left, height, width, list(size), InterpolationMode.BICUBIC, antialias=True
        )
    return out.numpy()
